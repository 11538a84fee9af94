"""The CLI in-process: every algorithm, run folder contents, resume, errors, Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train_rl
from agents.algos import ALGOS
from agents.records import RECORD_FIELDS, read_records

FIDELITY = "fidelity:{steps:2,batch_size:2,lr:0.001,eval_tokens:256}"
TINY_HP: dict[str, list[str]] = {
    "dqn": ["learning_starts:2", "target_update_interval:4", "batch_size:4"],
    "ppo": ["n_steps:4", "batch_size:4", "n_epochs:2"],
    "a2c": ["n_steps:4"],
    "maskable_ppo": ["n_steps:4", "batch_size:4", "n_epochs:2"],
    "random": [],
    "evolution": ["population_size:3", "sample_size:2"],
    "local": ["improvement:best"],
}


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tokenizer, token arrays and result cache shared by the module."""
    return tmp_path_factory.mktemp("train_rl_cache")


def cli(algo: str, log: Path, cache_root: Path, n: int = 8, *extra: str) -> list[str]:
    args = ["--algo", algo, "-n", str(n), "--env", "nas_env/TransformerLM-v2"]
    args += ["--env-kwargs", FIDELITY, "vocab_size:256", "device:cpu", f"cache_root:{cache_root}"]
    if TINY_HP[algo]:
        args += ["--hyperparams", *TINY_HP[algo]]
    args += ["--final-top", "0"]
    return [*args, "--log-folder", str(log), "--no-progress", "--save-freq", "4", *extra]


def only_run(log: Path, algo: str) -> Path:
    runs = list((log / algo).iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def state(run: Path) -> dict[str, Any]:
    return json.loads((run / "checkpoints" / "state.json").read_text())


@pytest.mark.parametrize("algo", list(TINY_HP))
def test_every_algorithm_writes_a_complete_run_folder(
    algo: str, tmp_path: Path, cache_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_rl.main(cli(algo, tmp_path, cache_root)) == 0
    out = capsys.readouterr().out
    assert "best architecture" in out and "python -m analyze" in out
    run = only_run(tmp_path, algo)
    assert run.name.startswith("TransformerLM-v2__0__")
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["algo"] == algo and config["n_timesteps"] == 8
    assert config["env_kwargs"]["cache"] == str(cache_root / "results.sqlite")
    assert "--algo" in (run / "command.txt").read_text()
    versions = json.loads((run / "versions.json").read_text())
    assert {"python", "torch", "gymnasium", "stable-baselines3", "sb3-contrib"} <= set(versions)
    records = list(read_records(run / "episodes.jsonl"))
    assert records and all(set(RECORD_FIELDS) <= set(r) for r in records)
    assert len((run / "episodes.jsonl").read_text().splitlines()) == len(records)
    assert max(r["global_step"] for r in records) == 8
    best = json.loads((run / "best.json").read_text())
    assert best["score"] == max(
        r["score"] for r in records if r["evaluated"] and r["status"] == "ok"
    )
    assert json.loads((run / "pareto.json").read_text())["front"]
    assert list((run / "tb").glob("events.out.tfevents.*"))
    scalars = EventAccumulator(str(run / "tb"))
    scalars.Reload()
    tags = set(scalars.Tags()["scalars"])
    assert {"nas/best_score", "nas/unique_evaluations", "nas/cache_hit_rate"} <= tags
    assert {"nas/score", "nas/params", "nas/latency_ms"} <= tags
    assert ("nas/episode_return" in tags) == any(r["done"] for r in records)
    assert state(run)["num_timesteps"] == 8
    if algo in ALGOS:
        assert (run / "checkpoints" / "model.zip").is_file()
        assert state(run)["n_updates"] > 0  # the agent made gradient updates
        assert (run / "checkpoints" / "replay_buffer.pkl").is_file() == (algo == "dqn")


@pytest.mark.filterwarnings("ignore::tqdm.TqdmExperimentalWarning")
@pytest.mark.parametrize("algo", ["dqn", "maskable_ppo", "evolution", "local"])
def test_resume_continues_the_count_and_appends(
    algo: str, tmp_path: Path, cache_root: Path
) -> None:
    assert train_rl.main(cli(algo, tmp_path, cache_root)) == 0
    run = only_run(tmp_path, algo)
    before = list(read_records(run / "episodes.jsonl"))
    seen = {r["genome_key"] for r in before if r["evaluated"]}
    updates = state(run).get("n_updates", 0)
    resume = ["--resume", str(run), "-n", "14", "--save-freq", "4"]
    assert train_rl.main([*resume, "--progress" if algo == "dqn" else "--no-progress"]) == 0
    after = list(read_records(run / "episodes.jsonl"))
    assert after[: len(before)] == before and len(after) > len(before)
    assert state(run)["num_timesteps"] == 14
    assert max(r["global_step"] for r in after) == 14
    new = after[len(before) :]
    assert all(r["cache_hit"] for r in new if r["evaluated"] and r["genome_key"] in seen)
    assert len((run / "command.txt").read_text().splitlines()) == 2
    if algo in ALGOS:
        model = ALGOS[algo].load(run / "checkpoints" / "model.zip", device="cpu")
        assert model.num_timesteps == 14 and model._n_updates > updates


@pytest.mark.parametrize("algo", ["maskable_ppo", "dqn"])
@pytest.mark.parametrize("observation", ["dict", "masked"])
def test_dict_observations_pick_the_multi_input_policy(
    algo: str, observation: str, tmp_path: Path
) -> None:
    argv = ["--algo", algo, "-n", "8", "--env", "nas_env/SurrogateLM-v0", "--final-top", "0"]
    argv += ["--env-kwargs", f"observation:{observation}", "--log-folder", str(tmp_path)]
    argv += ["--no-progress", "--save-freq", "0", "--hyperparams", *TINY_HP[algo]]
    assert train_rl.main(argv) == 0
    model = ALGOS[algo].load(only_run(tmp_path, algo) / "checkpoints" / "model.zip", device="cpu")
    assert type(model.policy) is ALGOS[algo].policy_aliases["MultiInputPolicy"]
    assert set(model.observation_space.spaces) >= (
        {"observations", "action_mask"} if observation == "masked" else {"genome"}
    )


def test_resume_refuses_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_rl.main(["--resume", str(tmp_path), "--algo", "dqn"]) == 2
    assert "--algo" in capsys.readouterr().err
    assert train_rl.main(["--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_ctrl_c_saves_a_checkpoint(
    tmp_path: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.callbacks import NASRecordCallback

    original = NASRecordCallback._on_step

    def interrupt(self: NASRecordCallback) -> bool:
        if self.num_timesteps >= 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(NASRecordCallback, "_on_step", interrupt)
    assert train_rl.main(cli("ppo", tmp_path, cache_root, 8, "--save-freq", "0")) == 130
    run = only_run(tmp_path, "ppo")
    assert state(run)["num_timesteps"] == 3 and (run / "checkpoints" / "model.zip").is_file()


def test_evaluation_budget_stops_an_agent(tmp_path: Path, cache_root: Path) -> None:
    args = cli("dqn", tmp_path, cache_root, 40, "--max-evaluations", "3")
    assert train_rl.main(args) == 0
    records = list(read_records(only_run(tmp_path, "dqn") / "episodes.jsonl"))
    assert max(r["unique_evaluations"] for r in records) == 3
    assert max(r["global_step"] for r in records) < 40


def test_budget_adaptation_is_printed(
    tmp_path: Path, cache_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli("ppo", tmp_path, cache_root, 6)
    args[args.index("n_steps:4")] = "n_steps:64"
    assert train_rl.main(args) == 0
    assert "budget: n_steps 64 -> 6" in capsys.readouterr().out
    config = yaml.safe_load((only_run(tmp_path, "ppo") / "config.yaml").read_text())
    assert config["hyperparams"]["n_steps"] == 6 and config["budget_changes"]


def test_a_corrupted_config_on_resume_exits_2_and_changes_nothing(
    tmp_path: Path, cache_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_rl.main(cli("random", tmp_path, cache_root, 4)) == 0
    run = only_run(tmp_path, "random")
    (run / "config.yaml").write_text("algo: [unclosed\n  bad: : :\n")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert train_rl.main(["--resume", str(run), "-n", "8", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "config.yaml: not readable YAML (line 2" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("algo", ["maskable_ppo", "dqn"])
def test_greedy_evaluation_episodes(algo: str, tmp_path: Path, cache_root: Path) -> None:
    assert train_rl.main(cli(algo, tmp_path, cache_root, 8, "--eval-episodes", "1")) == 0
    episodes = json.loads((only_run(tmp_path, algo) / "eval.json").read_text())["episodes"]
    assert len(episodes) == 1 and episodes[0]["genome"] and episodes[0]["actions"]
    if algo == "maskable_ppo":  # masked predictions never pick a refused action
        assert episodes[0]["invalid_actions"] == 0


class _ClosingEvaluator:
    """Instant metrics; remembers whether the env closed it."""

    def __init__(self) -> None:
        from nas_env import SearchSpace

        self.space = SearchSpace.load("tiny")
        self.closed = False

    def evaluate(self, genome: Any) -> Any:
        from nas_env.evaluation import EvalResult

        width = genome["layers"] * genome["d_model"]
        return EvalResult(
            status="ok",
            genome_key=genome.key(),
            metric="perplexity",
            perplexity=400.0 / (width / 32) ** 0.5,
            params=width * 12,
            size_mb=width * 48 / 2**20,
            latency_ms=0.2 * width / 32,
        )

    def close(self) -> None:
        self.closed = True


def test_a_crashing_session_closes_its_writers_and_envs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3.common.logger import TensorBoardOutputFormat
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents import session
    from agents.callbacks import NASRecordCallback
    from nas_env.env import NASEnv

    evaluators = [_ClosingEvaluator(), _ClosingEvaluator()]
    venv = DummyVecEnv([lambda e=e: NASEnv(evaluator=e) for e in evaluators])
    monkeypatch.setattr(session, "_make_venv", lambda config: venv)
    seen: dict[str, Any] = {}
    original = NASRecordCallback._on_step

    def crash(self: NASRecordCallback) -> bool:
        if self.num_timesteps >= 4:
            seen.update(file=self.run_log.writer._file, logger=self.run_log.logger)
            raise RuntimeError("boom")
        return original(self)

    monkeypatch.setattr(NASRecordCallback, "_on_step", crash)
    argv = ["--algo", "ppo", "-n", "16", "--n-envs", "2", "--env-kwargs", "cache:false"]
    argv += ["--hyperparams", *TINY_HP["ppo"], "--log-folder", str(tmp_path), "--no-progress"]
    args = train_rl.build_parser().parse_args(argv)
    config = train_rl.prepare(args, argv)
    with pytest.raises(RuntimeError, match="boom"):
        session.run_job(config)
    assert seen["file"] is not None and seen["file"].closed
    boards = [f for f in seen["logger"].output_formats if isinstance(f, TensorBoardOutputFormat)]
    assert boards and all(f.writer.file_writer is None for f in boards)  # SummaryWriter closed
    assert all(e.closed for e in evaluators)


def test_cuda_device_without_cuda_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = ["--env-kwargs", "device:cuda", "vocab_size:256", f"cache_root:{tmp_path / 'c'}"]
    logs = tmp_path / "runs"
    assert train_rl.main([*argv, "--log-folder", str(logs), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("nas-train: error: ")
    assert "--env-kwargs device" in err and "'cuda'" in err and "allowed" in err
    assert "cpu" in err.split("allowed", 1)[1]
    assert not logs.exists()  # nothing was started


def test_naming_the_default_env_keeps_the_default_jobs_fidelity() -> None:
    def resolved(argv: list[str]) -> tuple[str, dict[str, Any]]:
        args = train_rl.build_parser().parse_args(argv)
        return train_rl.resolve_env(args)

    bare = resolved([])
    assert bare == resolved(["--env", "nas_env/MidLMDesign-v1"])
    assert bare == resolved(["--env", "MidLMDesign-v1"])
    assert "fidelity" not in bare[1]  # the registered level, the one gymnasium.make uses
    assert resolved(["--env", "MidLMDesign-v1", "--env-kwargs", "fidelity:tiny"])[1] == {
        "fidelity": "tiny"
    }


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "mid-design-v1"),
        (["--env", "MidLMDesign-v1"], "mid-design-v1"),
        (["--env", "MidLMDesign-v0"], "mid-design-v1"),
        (["--pretrained", "none"], None),
        (["--env", "TransformerLMDesign-v2"], None),
        (["--algo", "ppo"], None),
    ],
)
def test_the_main_job_starts_from_the_shipped_policy_unless_told(
    argv: list[str], expected: str | None, tmp_path: Path
) -> None:
    args = train_rl.build_parser().parse_args([*argv, "--log-folder", str(tmp_path)])
    config = train_rl.prepare(args, argv)
    assert config.pretrained == expected
    if expected:  # the policy's network, whatever the YAML says
        assert config.hyperparams["policy_kwargs"] == {"net_arch": [64, 64]}


def test_the_fidelity_in_force_and_its_ranking_are_printed_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agents import session
    from nas_env import SearchSpace
    from nas_env.evaluation import Fidelity
    from nas_env.evaluation.fidelity import measured_ranking

    search = Fidelity.resolve("search-gp")
    seq_len = search.seq_len or SearchSpace.load("mid").task.seq_len
    expected = (
        f"fidelity: search-gp ({search.steps} steps x {search.batch_size} x {seq_len}), "
        f"scored by the signal {search.signal}; "
    )
    tau = measured_ranking("mid", "search-gp")["tau"]  # type: ignore[index]
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(
        session, "run_job", lambda config, after=None: seen.append(dict(config.env_kwargs))
    )
    for env in ([], ["--env", "nas_env/MidLMDesign-v1"]):
        argv = [*env, "--env-kwargs", "cache:false", "--log-folder", str(tmp_path)]
        train_rl.main(argv)
        lines = capsys.readouterr().out.splitlines()
        assert any(line.startswith(expected) and f"tau {tau:.2f}" in line for line in lines)
    assert seen[0] == seen[1] and "fidelity" not in seen[0]

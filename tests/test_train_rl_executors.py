"""The CLI with an executor: ``--executor ray --workers 2`` gives the local executor's
records, an agent's envs share one executor, a bad combination exits 2, and Ctrl-C
during a Ray search saves the candidates in flight, leaves no task running, and
``--resume`` finishes the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import train_rl
from agents.records import read_records

ROOT = Path(__file__).resolve().parents[1]
FIDELITY = "fidelity:{steps:6,batch_size:2,lr:0.001,eval_tokens:256}"


def cli(algo: str, log: Path, cache: Path, n: int, *extra: str) -> list[str]:
    args = ["--algo", algo, "-n", str(n), "--env", "nas_env/TransformerLM-v2"]
    args += ["--env-kwargs", FIDELITY, "vocab_size:256", "device:cpu", f"cache:{cache}"]
    args += ["--final-top", "0", "--log-folder", str(log), "--no-progress", "--no-tensorboard"]
    return [*args, *extra]


def records(log: Path, algo: str) -> list[dict[str, Any]]:
    (run,) = list((log / algo).iterdir())
    return list(read_records(run / "episodes.jsonl"))


def measured(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["genome_key"], r["status"], r["val_loss"], r["params"]) for r in rows]


@pytest.mark.ray
@pytest.mark.slow
def test_ray_workers_give_the_local_records(ray_session: Any, tmp_path: Path) -> None:
    local = cli("random", tmp_path / "local", tmp_path / "local.sqlite", 6)
    remote = cli("random", tmp_path / "ray", tmp_path / "ray.sqlite", 6)
    assert train_rl.main(local) == 0
    assert train_rl.main([*remote, "--executor", "ray", "--workers", "2"]) == 0
    assert measured(records(tmp_path / "ray", "random")) == measured(
        records(tmp_path / "local", "random")
    )


@pytest.mark.ray
@pytest.mark.slow
def test_an_agents_envs_share_one_ray_executor(ray_session: Any, tmp_path: Path) -> None:
    args = cli("ppo", tmp_path, tmp_path / "r.sqlite", 8, "--n-envs", "2")
    args += ["--hyperparams", "n_steps:4", "batch_size:4", "n_epochs:1"]
    assert train_rl.main([*args, "--executor", "ray", "--workers", "2"]) == 0
    rows = records(tmp_path, "ppo")
    assert {r["env_index"] for r in rows} == {0, 1}
    fresh = [r["genome_key"] for r in rows if r["new_evaluation"]]
    assert len(fresh) == len(set(fresh))  # no genome trained twice


def test_subproc_envs_with_an_executor_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli("ppo", tmp_path, tmp_path / "r.sqlite", 8, "--n-envs", "2", "--vec-env", "subproc")
    assert train_rl.main([*args, "--workers", "2"]) == 2
    assert "default vec env (dummy)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--executor", "dask"], "executor"),
        (["--gpus-per-eval", "1"], "needs a remote executor (ray"),
        (["--ray-address", "auto"], "needs a remote executor (ray"),
        (["--workers", "0"], "workers"),
    ],
)
def test_bad_executor_flags_exit_2(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = train_rl.main([*cli("random", tmp_path, tmp_path / "r.sqlite", 4), *flags])
    assert code == 2
    assert message in capsys.readouterr().err


def ray_tasks_running() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::eval"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _default_sigint() -> None:
    """In the child before it starts: Ctrl-C's default disposition, unblocked. A child
    inherits an ignored or blocked SIGINT from its parent (Python then never raises
    KeyboardInterrupt), and what an earlier test of the session did to the pytest process
    is not a user's terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@pytest.mark.ray
@pytest.mark.slow
def test_ctrl_c_keeps_the_candidates_in_flight_and_resume_finishes(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    slow = "fidelity:{steps:400,batch_size:4,lr:0.001,eval_tokens:512}"
    args = cli("evolution", tmp_path, tmp_path / "r.sqlite", 12)
    args[args.index(FIDELITY)] = slow
    args += ["--hyperparams", "population_size:4", "sample_size:2", "--save-freq", "0"]
    args += ["--executor", "ray", "--workers", "2"]
    # A fresh run, as a user's: nothing of an in-process Ray an earlier test started.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train_rl.py"), *args],
        cwd=ROOT,
        env=env,
        preexec_fn=_default_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    episodes = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        found = list((tmp_path / "evolution").glob("*/episodes.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 2:
            episodes = found[0]
            break
        time.sleep(0.05)
    assert episodes is not None, "the search made no records"
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        pytest.fail(
            f"the interrupted run did not exit within 120 s (this process: SIGINT handler "
            f"{signal.getsignal(signal.SIGINT)}, blocked {blocked}):\n{output}"
        )
    assert process.returncode == 130, output
    assert "interrupted" in output
    run = episodes.parent
    saved = json.loads((run / "checkpoints" / "state.json").read_text())
    done = saved["num_timesteps"]
    assert done < 12 and saved["searcher"]["pending"]  # candidates in flight were kept
    time.sleep(2)
    assert ray_tasks_running() == []  # nothing left training for the interrupted search
    resumed = subprocess.run(
        [sys.executable, str(ROOT / "train_rl.py"), "--resume", str(run), "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = list(read_records(episodes))
    assert [r["global_step"] for r in rows] == list(range(1, 13))

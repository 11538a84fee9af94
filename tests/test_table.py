"""Benchmark tables: building, serving by lookup, the CLI, the shipped bench table."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from nas_env import ConfigError, Genome, NASEnvError, SearchSpace
from nas_env.evaluation import EvalResult, Evaluator, Fidelity, TrainSettings
from nas_env.evaluation.evaluator import EVALUATOR_VERSION
from nas_env.table import (
    SHIPPED_TABLES,
    TableEvaluator,
    TableMissError,
    build_table,
    select_genomes,
)
from nas_env.table import build as build_module
from nas_env.table.__main__ import main

CHEAP = Fidelity.resolve("tiny", steps=3, eval_tokens=512)
BENCH = SearchSpace.load("bench")
GENOMES = list(BENCH.enumerate())


class FakeEvaluator:
    """Hand-made results (no training); counts calls; can raise Ctrl-C on the n-th call."""

    def __init__(
        self,
        seed: int = 0,
        fidelity: Fidelity = CHEAP,
        interrupt_at: int | None = None,
        statuses: dict[str, str] | None = None,
    ) -> None:
        self.space = BENCH
        self.fidelity = fidelity
        self.task_id = "lm/fake"
        self.settings = TrainSettings(device="cpu", precision="fp32", seed=seed)
        self.interrupt_at = interrupt_at
        self.statuses = statuses or {}
        self.calls: list[str] = []

    def evaluate(self, genome: Genome) -> EvalResult:
        self.calls.append(genome.key())
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        status = self.statuses.get(genome.key(), "ok")
        ppl = 100.0 + int(genome.key()[:4], 16) % 97 if status == "ok" else None
        return EvalResult(
            status=status,  # type: ignore[arg-type]
            message="" if status == "ok" else f"fake {status}",
            genome_key=genome.key(),
            task=self.task_id,
            metric="perplexity",
            perplexity=ppl,
            val_loss=math.log(ppl) if ppl else None,
            params=1000 * genome["d_model"] * genome["layers"],
            fidelity=self.fidelity.name,
            fidelity_config=self.fidelity.to_dict(),
            backend="torch",
            device="cpu",
            precision="fp32",
            seed=self.settings.seed,
        )


def rows(path: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return {
            k: (g, r) for k, g, r in conn.execute("SELECT genome_key, genome, result FROM rows")
        }


def meta(path: Path) -> dict[str, object]:
    with sqlite3.connect(path) as conn:
        return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}


# -- building ----------------------------------------------------------------------
def test_build_writes_one_row_per_genome_and_meta(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    fake = FakeEvaluator()
    summary = build_table(fake, path, genomes=GENOMES[:6], progress=False)
    assert summary.rows == summary.evaluated == 6 and summary.skipped == 0
    assert summary.statuses == {"ok": 6} and summary.best_quality is not None
    stored = rows(path)
    assert set(stored) == {g.key() for g in GENOMES[:6]}
    for genome in GENOMES[:6]:
        genome_json, result_json = stored[genome.key()]
        assert genome_json == genome.to_json()
        assert EvalResult.from_json(result_json).genome_key == genome.key()
    info = meta(path)
    assert info["space"] == BENCH.to_dict() and info["task"] == "lm/fake"
    assert info["fidelity"] == {"name": CHEAP.name, "config": CHEAP.to_dict()}
    assert info["seed"] == 0 and info["backend"] == "torch" and info["device"] == "cpu"
    assert info["precision"] == "fp32" and info["evaluator_version"]
    for key in ("package_version", "torch_version", "created", "machine"):
        assert info[key], key
    assert info["complete"] is True and info["rows"] == 6
    assert not Path(f"{path}-wal").exists()  # a single self-contained file after a build


def test_interrupted_build_resumes_with_only_the_missing_genomes(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    first = FakeEvaluator(interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        build_table(first, path, genomes=GENOMES[:5], progress=False)
    assert len(rows(path)) == 2 and meta(path)["complete"] is False
    again = FakeEvaluator()
    summary = build_table(again, path, genomes=GENOMES[:5], progress=False)
    assert again.calls == [g.key() for g in GENOMES[2:5]]  # the 3rd was in flight: redone
    assert summary.evaluated == 3 and summary.skipped == 2 and summary.rows == 5
    assert meta(path)["complete"] is True
    third = FakeEvaluator()
    build_table(third, path, genomes=GENOMES[:5], progress=False)
    assert third.calls == []


def test_failures_are_stored_and_errors_retried(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    bad = {GENOMES[0].key(): "diverged", GENOMES[1].key(): "error"}
    summary = build_table(FakeEvaluator(statuses=bad), path, genomes=GENOMES[:4], progress=False)
    assert summary.statuses == {"ok": 2, "diverged": 1, "error": 1}
    again = FakeEvaluator()
    summary = build_table(again, path, genomes=GENOMES[:4], progress=False)
    assert again.calls == [GENOMES[1].key()]  # an error may be transient; diverged is a result
    assert summary.statuses == {"ok": 3, "diverged": 1}
    table = TableEvaluator(path)
    assert table.evaluate(GENOMES[0]).status == "diverged"


def test_meta_mismatch_is_refused_and_leaves_the_table_alone(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    build_table(FakeEvaluator(), path, genomes=GENOMES[:2], progress=False)
    before = (rows(path), meta(path))
    with pytest.raises(ConfigError, match=r"seed: the table has 0, this build has 1"):
        build_table(FakeEvaluator(seed=1), path, genomes=GENOMES[:3], progress=False)
    other = Fidelity.resolve("tiny", steps=4)
    with pytest.raises(ConfigError, match=r"(?s)fidelity.*delete .*t\.sqlite"):
        build_table(FakeEvaluator(fidelity=other), path, genomes=GENOMES[:3], progress=False)
    assert (rows(path), meta(path)) == before


def test_build_refuses_a_file_that_is_not_a_table(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigError, match=r"garbage\.sqlite"):
        build_table(FakeEvaluator(), garbage, genomes=GENOMES[:1], progress=False)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE stuff (x)")
    with pytest.raises(ConfigError, match="not a benchmark table"):
        build_table(FakeEvaluator(), other, genomes=GENOMES[:1], progress=False)


def test_sample_selection_is_seeded_unique_and_extendable(monkeypatch: pytest.MonkeyPatch) -> None:
    five = select_genomes(BENCH, sample=5, seed=3)
    assert len({g.key() for g in five}) == 5 and all(BENCH.is_valid(g) for g in five)
    assert select_genomes(BENCH, sample=5, seed=3) == five
    assert select_genomes(BENCH, sample=8, seed=3)[:5] == five  # a bigger sample extends
    assert select_genomes(BENCH, sample=5, seed=4) != five
    assert len(select_genomes(BENCH, sample=10_000)) == len(GENOMES) == 384
    assert select_genomes(BENCH) == GENOMES
    assert select_genomes(BENCH, genomes=[GENOMES[1], GENOMES[0], GENOMES[1]]) == GENOMES[1::-1]
    with pytest.raises(ConfigError, match="sample"):
        select_genomes(BENCH, sample=0)
    monkeypatch.setattr(build_module, "ENUMERATE_LIMIT", 10)  # big-space path: draw + dedupe
    drawn = select_genomes(BENCH, sample=50, seed=0)
    assert len({g.key() for g in drawn}) == 50 and all(BENCH.is_valid(g) for g in drawn)
    assert len(select_genomes(BENCH, sample=500, seed=0)) == 384  # stops when exhausted


def test_build_a_sample(tmp_path: Path) -> None:
    fake = FakeEvaluator()
    summary = build_table(fake, tmp_path / "t.sqlite", sample=4, seed=7, progress=False)
    assert summary.rows == 4 and fake.calls == [g.key() for g in select_genomes(BENCH, None, 4, 7)]
    assert meta(tmp_path / "t.sqlite")["selection"]["sample"] == 4


# -- serving -----------------------------------------------------------------------
@pytest.fixture
def fake_table(tmp_path: Path) -> tuple[Path, FakeEvaluator]:
    fake = FakeEvaluator()
    path = tmp_path / "t.sqlite"
    build_table(fake, path, genomes=GENOMES[:6], progress=False)
    return path, fake


def test_table_serves_the_stored_results(fake_table: tuple[Path, FakeEvaluator]) -> None:
    path, fake = fake_table
    table = TableEvaluator(path)
    assert len(table) == 6 and set(table.keys()) == {g.key() for g in GENOMES[:6]}
    assert table.space.to_dict() == BENCH.to_dict() and table.space.name == "bench"
    assert table.task_id == "lm/fake" and table.fidelity.name == CHEAP.name
    assert table.fidelity == CHEAP and table.settings.seed == 0 and table.meta["task"] == "lm/fake"
    for genome in GENOMES[:6]:
        served = table.evaluate(genome)
        assert served.source == "table" and served.cache_hit and served.backend == "torch"
        assert served == replace(fake.evaluate(genome), source="table", cache_hit=True)
        assert genome in table and table.genome(genome.key()) == genome
    assert all(r.source == "table" for r in table.results())
    best = table.best()
    assert best is not None and best.perplexity == min(r.perplexity for r in table.results())
    biggest = table.best("params", maximize=True)
    assert biggest is not None and biggest.params == max(r.params for r in table.results())
    assert table.status_counts() == {"ok": 6}


def test_lookups_touch_no_database(
    fake_table: tuple[Path, FakeEvaluator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served from memory: once built, a lookup opens no connection and runs no SQL."""
    table = TableEvaluator(fake_table[0])
    opened: list[tuple[object, ...]] = []
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(a) or connect(*a, **k))
    results = [table.evaluate(genome) for genome in GENOMES[:6] * 100]
    assert opened == [] and all(r.ok for r in results)
    TableEvaluator(fake_table[0])  # building one does read the file: the count works
    assert opened


def test_missing_genome_raises_an_informative_error(
    fake_table: tuple[Path, FakeEvaluator],
) -> None:
    path, _ = fake_table
    table = TableEvaluator(path)
    absent = GENOMES[10]
    with pytest.raises(TableMissError) as info:
        table.evaluate(absent)
    text = str(info.value)
    assert absent.key() in text and '"d_model"' in text and str(path) in text
    assert "missing='train'" in text and "nas_env.table build" in text
    assert isinstance(info.value, KeyError) and isinstance(info.value, NASEnvError)
    assert info.value.genome_key == absent.key()
    invalid = absent.replace(layers=7)  # breaks the space's rules: a result, not a miss
    result = table.evaluate(invalid)
    assert result.status == "invalid" and result.source == "table" and "layers" in result.message


def test_missing_modes_are_checked(fake_table: tuple[Path, FakeEvaluator]) -> None:
    path, _ = fake_table
    with pytest.raises(ConfigError, match="fallback"):
        TableEvaluator(path, missing="train")
    with pytest.raises(ConfigError, match="missing"):
        TableEvaluator(path, missing="ignore")
    other_space = FakeEvaluator()
    other_space.space = SearchSpace.load("tiny")
    with pytest.raises(ConfigError, match="space"):
        TableEvaluator(path, missing="train", fallback=other_space)
    with pytest.warns(UserWarning, match="fidelity"):
        TableEvaluator(
            path, missing="train", fallback=FakeEvaluator(fidelity=Fidelity.resolve("tiny"))
        )


def test_unreadable_tables_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.sqlite: no such"):
        TableEvaluator(tmp_path / "nope.sqlite")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"\x00garbage" * 500)
    with pytest.raises(ConfigError, match=r"corrupt\.sqlite"):
        TableEvaluator(corrupt)
    bare = tmp_path / "bare.sqlite"
    with sqlite3.connect(bare) as conn:
        conn.execute("CREATE TABLE rows (genome_key TEXT)")
    with pytest.raises(ConfigError, match=r"bare\.sqlite.*meta"):
        TableEvaluator(bare)
    empty_meta = tmp_path / "empty_meta.sqlite"
    with sqlite3.connect(empty_meta) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    with pytest.raises(ConfigError, match=r"empty_meta\.sqlite.*lacks"):
        TableEvaluator(empty_meta)


# -- real training: build a tiny table, fall back to training on a miss ----------------
@pytest.fixture(scope="module")
def real_evaluator(tmp_path_factory: pytest.TempPathFactory) -> Evaluator:
    return Evaluator(
        "bench",
        task="lm/stdlib",
        fidelity=CHEAP,
        settings=TrainSettings(device="cpu", precision="fp32", latency_repeats=1),
        cache=False,
        cache_root=tmp_path_factory.mktemp("nas_cache"),
        vocab_size=256,
    )


def test_real_build_and_training_fallback(real_evaluator: Evaluator, tmp_path: Path) -> None:
    path = tmp_path / "real.sqlite"
    summary = build_table(real_evaluator, path, genomes=GENOMES[:2], progress=False)
    assert summary.statuses == {"ok": 2}
    info = meta(path)
    assert info["task"] == "lm/stdlib" and info["task_fingerprint"] and info["vocab_size"] == 256
    table = TableEvaluator(path, missing="train", fallback=real_evaluator)
    assert table.space.task.vocab_size == 256 and table.metric == "perplexity"
    served = table.evaluate(GENOMES[0])
    assert served.source == "table" and served.ok and served.steps == 3
    trained = table.evaluate(GENOMES[5])
    assert trained.source == "train" and trained.ok and not trained.cache_hit
    assert table.trained == 1 and len(TableEvaluator(path)) == 2  # the table stays read-only


# -- command line --------------------------------------------------------------------
def test_cli_info_and_errors(
    fake_table: tuple[Path, FakeEvaluator], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path, _ = fake_table
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "rows         6 (ok 6)" in out and "best" in out and "lm/fake" in out
    assert main(["info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == 6 and data["statuses"] == {"ok": 6} and data["quality"]["min"] > 0
    assert main(["info", str(tmp_path / "absent.sqlite")]) == 2
    assert "absent.sqlite" in capsys.readouterr().err
    assert main(["build", "--space", "nosuch", "--out", str(tmp_path / "x.sqlite")]) == 2
    assert "unknown search space" in capsys.readouterr().err


# -- the shipped table ---------------------------------------------------------------
SHIPPED = SHIPPED_TABLES / "bench.sqlite"


@pytest.mark.skipif(
    not SHIPPED.is_file(),
    reason=f"{SHIPPED} is not built yet (python -m nas_env.table build --space bench "
    "--task lm/stdlib --fidelity bench --precision fp32 --out config/tables/bench.sqlite)",
)
def test_shipped_bench_table_covers_the_bench_space() -> None:
    if Path(f"{SHIPPED}-wal").exists():
        pytest.skip(f"{SHIPPED} is being built right now (its -wal file exists)")
    assert SHIPPED.stat().st_size < 5 * 1024 * 1024
    table = TableEvaluator(SHIPPED)
    assert table.space.name == "bench" and table.task_id == "lm/stdlib"
    assert table.fidelity.name == "bench" and table.meta["complete"] is True
    assert len(table) == len(GENOMES) == 384
    results = [table.evaluate(genome) for genome in GENOMES]  # every genome is served
    assert all(r.source == "table" and r.cache_hit for r in results)
    ok = [r for r in results if r.ok]
    assert len(ok) >= 0.9 * len(results), table.status_counts()
    assert all(r.perplexity is not None and r.perplexity > 1 for r in ok)
    best = table.best()
    assert best is not None and best.perplexity == min(r.perplexity for r in ok)


def _rewrite_meta(path: Path, **changes: object) -> None:
    with sqlite3.connect(path) as conn:
        for key, value in changes.items():
            conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(value), key))


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"evaluator_version": "1"}, "built with evaluator version '1'"),
        ({"task": "lm/stdlib", "task_fingerprint": "0fca2bf4409d7e4b"}, "has fingerprint"),
    ],
)
def test_a_table_measured_differently_is_refused_unless_allowed(
    fake_table: tuple[Path, FakeEvaluator], tmp_path: Path, changes: dict, fragment: str
) -> None:
    path = tmp_path / "copy.sqlite"
    path.write_bytes(fake_table[0].read_bytes())
    _rewrite_meta(path, **changes, vocab_size=256)
    with pytest.raises(ConfigError, match=fragment) as error:
        TableEvaluator(path)
    assert "allow_mismatch=True" in str(error.value) and "Rebuild it" in str(error.value)
    with pytest.warns(UserWarning, match=fragment):
        table = TableEvaluator(path, allow_mismatch=True)
    assert table.provenance_problems and len(table) == len(TableEvaluator(fake_table[0]))
    with pytest.warns(UserWarning, match=fragment):
        assert main(["info", str(path)]) == 0  # info describes it, with the warning


def test_shipped_table_matches_the_running_evaluator() -> None:
    table = TableEvaluator(SHIPPED)
    assert table.provenance_problems == []
    assert table.meta["evaluator_version"] == EVALUATOR_VERSION
    assert table.task_fingerprint and all(
        r.task_fingerprint == table.task_fingerprint for r in table.results()
    )


def test_a_fallback_on_other_task_data_is_refused() -> None:
    fallback = FakeEvaluator()
    fallback.task_id = "lm/stdlib"
    fallback.task_fingerprint = "0fca2bf4409d7e4b"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="would mix corpora"):
        TableEvaluator(SHIPPED, missing="train", fallback=fallback)
    fallback.task_fingerprint = TableEvaluator(SHIPPED).task_fingerprint  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match="differs from the benchmark table"):  # fidelity differs
        TableEvaluator(SHIPPED, missing="train", fallback=fallback)

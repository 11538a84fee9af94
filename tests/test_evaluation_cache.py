"""The SQLite result cache: round-trips, speed of a hit, and concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from nas_env.evaluation import EvalResult, ResultCache, cache_key


def make_result(i: int) -> EvalResult:
    return EvalResult(status="ok", genome_key=f"g{i}", task="lm/x", val_loss=1.0 + i, params=i)


def test_round_trip(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite")
    key = cache_key("g1", "lm/x", "fast", 0, "torch", "1")
    assert cache.get(key) is None
    cache.put(key, make_result(1), "fast", 0)
    got = cache.get(key)
    assert got is not None and got.cache_hit
    assert got.val_loss == 2.0 and got.params == 1
    assert ResultCache(tmp_path / "c.sqlite").get(key) == got  # persistent across opens
    assert len(cache) == 1 and key in cache


def test_key_depends_on_every_part() -> None:
    parts = ["g", "t", "f", 0, "b", "1"]
    base = cache_key(*parts)  # type: ignore[arg-type]
    for i, other in enumerate(["h", "u", "g", 1, "c", "2"]):
        changed = list(parts)
        changed[i] = other
        assert cache_key(*changed) != base  # type: ignore[arg-type]


def test_hit_is_well_under_a_millisecond(tmp_path: Path) -> None:
    # A behaviour check on the lookup path (one indexed SELECT), averaged over many hits.
    cache = ResultCache(tmp_path / "c.sqlite")
    cache.put("k", make_result(0), "fast", 0)
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        cache.get("k")
    per_hit = (time.perf_counter() - start) / n
    assert per_hit < 1e-3


def _writer(path: str, worker: int, n: int) -> None:
    cache = ResultCache(path)
    for i in range(n):
        key = f"k{(i + worker * n // 2) % (2 * n)}"  # neighbours overlap by half
        cache.put(key, make_result(i), "fast", 0)
        cache.put(f"w{worker}-{i}", make_result(i), "fast", 0)


def test_four_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ResultCache(path)
    n = 150
    ctx = mp.get_context("fork")  # forked writers each open their own connection
    procs = [ctx.Process(target=_writer, args=(path, w, n)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = ResultCache(path)
    expected = {f"w{w}-{i}" for w in range(4) for i in range(n)}
    expected |= {f"k{(i + w * n // 2) % (2 * n)}" for w in range(4) for i in range(n)}
    stored = {r[0] for r in cache._connection().execute("SELECT key FROM results")}
    assert stored == expected

"""The SQLite result cache: round-trips, speed of a hit, concurrent writers, claims, policy."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import pickle
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from nas_env.errors import ConfigError
from nas_env.evaluation import EvalResult, ResultCache, cache_key

T = TypeVar("T")


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


def test_a_hit_is_one_indexed_select(tmp_path: Path) -> None:
    """The lookup path: one statement per hit, answered through the primary-key index
    (not a table scan), whatever the table's size."""
    cache = ResultCache(tmp_path / "c.sqlite")
    for i in range(50):
        cache.put(f"k{i}", make_result(i), "fast", 0)
    conn = cache._connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        assert cache.get("k7") is not None
    finally:
        conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, statements
    plan = conn.execute("EXPLAIN QUERY PLAN " + selects[0]).fetchall()
    detail = " ".join(str(row[-1]) for row in plan).upper()
    assert "USING INDEX" in detail or "USING PRIMARY KEY" in detail, detail
    assert "SCAN" not in detail, detail


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


# -- claims: a key is computed once across processes ---------------------------------------

OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    genome_key TEXT NOT NULL,
    task TEXT NOT NULL,
    fidelity TEXT NOT NULL,
    seed INTEGER NOT NULL,
    backend TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def in_thread(fn: Callable[[], T], timeout: float = 20.0) -> T:
    """``fn()`` run in a daemon thread; fails the test instead of hanging it."""
    box: list[T] = []
    thread = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert box, "the call did not return"
    return box[0]


class Counting:
    """An evaluation function that counts its calls and returns preset results in turn."""

    def __init__(self, *results: EvalResult) -> None:
        self.results = list(results)
        self.calls = 0

    def __call__(self) -> EvalResult:
        self.calls += 1
        return self.results[min(self.calls, len(self.results)) - 1]


def claim_rows(path: Path) -> list[tuple[str, str, float]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT key, owner, heartbeat FROM claims").fetchall()


def _compute_once(path: str, counter: str, barrier: Any) -> tuple[float | None, bool]:
    """What each process does: wait for the other, then ask for one slow key."""
    cache = ResultCache(path, poll_seconds=0.02)

    def train() -> EvalResult:
        time.sleep(1.0)
        with open(counter, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        return EvalResult(status="ok", genome_key="g", latency_ms=float(os.getpid()))

    barrier.wait(120)
    got = cache.compute("shared-key", train, fidelity="fast", seed=0)
    cache.close()
    return got.latency_ms, got.cache_hit


def _compute_worker(path: str, counter: str, barrier: Any, out: Any) -> None:
    out.put(_compute_once(path, counter, barrier))


def test_two_processes_train_a_key_once(tmp_path: Path) -> None:
    # This process and a spawned one (a fresh interpreter) ask for one key together.
    path, counter = str(tmp_path / "c.sqlite"), tmp_path / "runs.txt"
    ResultCache(path).close()
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    child = ctx.Process(target=_compute_worker, args=(path, str(counter), barrier, out))
    child.start()
    try:
        mine = _compute_once(path, str(counter), barrier)
        theirs = out.get(timeout=120)
    finally:
        child.join(60)
    assert child.exitcode == 0
    assert len(counter.read_text().splitlines()) == 1  # trained once
    assert mine[0] == theirs[0]  # both got the trainer's values
    assert sorted([mine[1], theirs[1]]) == [False, True]
    assert claim_rows(Path(path)) == []


def test_expired_claim_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path, poll_seconds=0.02)
    with sqlite3.connect(path) as conn:  # what a killed process leaves behind
        conn.execute("INSERT INTO claims VALUES ('k', 'gone:1:dead', ?)", (time.time() - 600,))
    fn = Counting(make_result(3))
    got = in_thread(lambda: cache.compute("k", fn, fidelity="fast", seed=0))
    assert fn.calls == 1 and not got.cache_hit and got.params == 3
    assert cache.get("k") == got.with_cache_hit()
    assert claim_rows(path) == []


def _hold_claim(path: Path, then: Callable[[], None]) -> threading.Thread:
    """Claim ``k`` as another owner, wait a little, run ``then``, release the claim."""
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO claims VALUES ('k', 'other:2:live', ?)", (time.time(),))

    def work() -> None:
        time.sleep(0.3)
        then()
        with sqlite3.connect(path) as conn:
            conn.execute("DELETE FROM claims WHERE key = 'k'")

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_live_claim_makes_compute_wait_for_the_owner_result(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache, other = ResultCache(path, poll_seconds=0.02), ResultCache(path)
    owner = _hold_claim(path, lambda: other.put("k", make_result(7), "fast", 0))
    fn = Counting(make_result(1))
    got = in_thread(lambda: cache.compute("k", fn, fidelity="fast", seed=0))
    owner.join()
    assert fn.calls == 0
    assert got.cache_hit and got.params == 7


def test_released_claim_without_result_is_computed_by_the_waiter(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path, poll_seconds=0.02)
    owner = _hold_claim(path, lambda: None)
    fn = Counting(make_result(1))
    got = in_thread(lambda: cache.compute("k", fn, fidelity="fast", seed=0))
    owner.join()
    assert fn.calls == 1 and not got.cache_hit and got.params == 1


def test_heartbeat_advances_while_computing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path, heartbeat_seconds=0.05, claim_timeout=5.0)
    seen: list[tuple[str, float]] = []

    def train() -> EvalResult:
        for _ in range(500):
            ((_, owner, beat),) = claim_rows(path)
            seen.append((owner, beat))
            if beat > seen[0][1]:
                break
            time.sleep(0.01)
        return make_result(0)

    cache.compute("k", train, fidelity="fast", seed=0)
    assert {owner for owner, _ in seen} == {cache.owner}
    assert seen[-1][1] > seen[0][1]
    assert claim_rows(path) == []


def test_failing_fn_releases_its_claim(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path)

    def broken() -> EvalResult:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        cache.compute("k", broken, fidelity="fast", seed=0)
    assert claim_rows(path) == []
    assert cache.compute("k", Counting(make_result(2)), fidelity="fast", seed=0).params == 2


def test_compute_in_memory() -> None:
    cache = ResultCache(":memory:")
    fn = Counting(make_result(4))
    first = cache.compute("k", fn, fidelity="fast", seed=0)
    second = in_thread(lambda: cache.compute("k", fn, fidelity="fast", seed=0))
    assert fn.calls == 1 and not first.cache_hit and second.cache_hit
    assert second.params == 4 and len(cache) == 1


# -- which results are kept and served -----------------------------------------------------


def failed(status: str, message: str = "") -> EvalResult:
    return EvalResult(status=status, message=message, genome_key="g")  # type: ignore[arg-type]


def test_first_good_result_is_kept(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite")
    cache.put("k", make_result(1), "fast", 0)
    cache.put("k", make_result(2), "fast", 0)
    got = cache.get("k")
    assert got is not None and got.params == 1
    assert [r.params for r in cache.results()] == [1]


def test_transient_failure_is_retried_once_then_served(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache = ResultCache(path)
    cache.put("k", failed("timeout", "over 30 s"), "fast", 0)
    assert cache.get("k") is None and "k" not in cache and len(cache) == 1
    cache.put("k", failed("timeout", "over 31 s"), "fast", 0)
    got = cache.get("k")
    assert got is not None and got.status == "timeout" and got.message == "over 31 s"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT attempts, message FROM results").fetchall() == [
            (2, "over 31 s")
        ]
    cache.put("k", make_result(5), "fast", 0)  # ok replaces a stored transient failure
    got = cache.get("k")
    assert got is not None and got.ok and got.params == 5


def test_compute_reruns_a_transient_failure(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite")
    fn = Counting(failed("oom", "CUDA out of memory"), failed("oom", "again"), make_result(9))
    results = [cache.compute("k", fn, fidelity="fast", seed=0) for _ in range(3)]
    assert fn.calls == 2
    assert [r.message for r in results] == ["CUDA out of memory", "again", "again"]
    assert [r.cache_hit for r in results] == [False, False, True]


def test_zero_transient_retries_serves_the_first_failure(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite", transient_retries=0)
    cache.put("k", failed("timeout"), "fast", 0)
    got = cache.get("k")
    assert got is not None and got.status == "timeout"


def test_deterministic_failure_is_served_at_once(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite")
    fn = Counting(failed("diverged", "nan loss"), make_result(1))
    first = cache.compute("k", fn, fidelity="fast", seed=0)
    second = cache.compute("k", fn, fidelity="fast", seed=0)
    assert fn.calls == 1 and second.cache_hit and second.status == "diverged"
    cache.put("k", failed("timeout"), "fast", 0)  # a transient failure does not replace it
    got = cache.get("k")
    assert first.status == "diverged" and got is not None and got.message == "nan loss"


def test_errors_are_returned_but_not_stored(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite")
    fn = Counting(failed("error", "boom"), make_result(1))
    assert cache.compute("k", fn, fidelity="fast", seed=0).status == "error"
    assert len(cache) == 0
    assert cache.compute("k", fn, fidelity="fast", seed=0).ok and fn.calls == 2


# -- schema, configuration, keys -----------------------------------------------------------


def test_old_schema_database_opens_and_works(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(OLD_SCHEMA)
        for key, result in [("ok", make_result(1)), ("slow", failed("timeout"))]:
            conn.execute(
                "INSERT INTO results VALUES (?, 'g', 'lm/x', 'fast', 0, 'torch', '1', ?, ?, ?)",
                (key, result.status, result.to_json(), time.time()),
            )
    cache = ResultCache(path)
    got = cache.get("ok")
    assert got is not None and got.params == 1
    assert cache.get("slow") is None  # one stored timeout: retried
    fn = Counting(make_result(2))
    assert cache.compute("slow", fn, fidelity="fast", seed=0).params == 2
    assert cache.get("slow") is not None and len(cache) == 2
    ResultCache(path).close()  # opening an upgraded database again is fine


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"timeout": 0}, "timeout"),
        ({"claim_timeout": -1.0}, "claim_timeout"),
        ({"heartbeat_seconds": float("nan")}, "heartbeat_seconds"),
        ({"poll_seconds": 0.0}, "poll_seconds"),
        ({"transient_retries": -1}, "transient_retries"),
        ({"transient_retries": 1.5}, "transient_retries"),
        ({"heartbeat_seconds": 10.0, "claim_timeout": 10.0}, "heartbeat_seconds"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        ResultCache(tmp_path / "c.sqlite", **kwargs)


def test_pickle_keeps_settings_and_rows(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c.sqlite", claim_timeout=9.0, transient_retries=3)
    cache.put("k", make_result(1), "fast", 0)
    copy = pickle.loads(pickle.dumps(cache))
    assert (copy.claim_timeout, copy.transient_retries) == (9.0, 3)
    assert copy.get("k") == cache.get("k") and copy.owner != cache.owner


def test_key_takes_any_number_of_parts() -> None:
    six = ["g", "lm/x", "fast", 0, "torch", "1"]
    old = hashlib.sha256("\x1f".join(str(p) for p in six).encode()).hexdigest()
    assert cache_key(*six) == old  # existing databases keep their keys
    assert cache_key(*six, "mem=512") != old
    assert cache_key(*six, "mem=512") != cache_key(*six, "mem=1024")
    with pytest.raises(ValueError, match="separator"):
        cache_key("a\x1fb")

"""How well does a surrogate benchmark's latency column rank real timings?

The real timings are a latency profile's rows (``config/latency/SPACE-cpu.rows.jsonl``:
uniform genomes timed back to back, each genome's figure the minimum of its passes). The
profile's own held-out split (`nas_env.latency.profile.fit_profile`: a seeded 20 %) is the
test set. For each benchmark file given, its latency column is looked up for those
genomes and compared with the timings: Kendall tau and the median absolute percentage
error after one scale factor (the columns are at different levels: a column measured in
the loop beside training reads about twice the steady-state minimum). The profile fitted
on the other 80 % is the model's held-out figure; a column built from the shipped profile
(refitted on every row) is in-sample on these genomes and is reported as such.

    python benchmarks/latency_column.py --space mid --table config/tables/mid.npz \
        --table config/tables/mid-long.npz --table config/tables/mid-long-v2.npz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nas_env.latency.model import features, fit, matrix  # noqa: E402
from nas_env.latency.profile import default_path, fastest_rows  # noqa: E402
from nas_env.ranking import kendall_tau  # noqa: E402
from nas_env.space import load_space  # noqa: E402


def _score(guess: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    scale = float(np.exp(np.median(np.log(truth / guess))))
    return {
        "kendall_tau": round(float(kendall_tau(guess.tolist(), truth.tolist())), 3),
        "median_ape_after_scale": round(float(np.median(np.abs(guess * scale - truth) / truth)), 4),
        "scale_to_timings": round(scale, 3),
    }


def compare(space_name: str, tables: list[Path], seed: int = 0) -> dict[str, Any]:
    """The held-out profile fit and every table's column against the held-out timings."""
    space = load_space(space_name)
    path = default_path(space.name, "cpu")
    meta = json.loads(path.read_text(encoding="utf-8"))
    ordered = fastest_rows(path)  # first-timed order: the profile's genome order
    x = matrix([features(r["genes"], meta["family"], space.task, meta["batch"]) for r in ordered])
    y = np.array([r["latency_ms"] for r in ordered])
    order = np.random.default_rng(seed).permutation(len(ordered))
    cut = round(0.8 * len(ordered))
    train, test = order[:cut], order[cut:]
    out: dict[str, Any] = {"space": space.name, "timed_genomes": len(ordered)}
    out["held_out"] = len(test)
    out["profile (fitted on the other 80 %)"] = _score(x[test] @ fit(x[train], y[train]), y[test])
    for table in tables:
        data = np.load(table)
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in data["keys"]]
        where = {k: i for i, k in enumerate(keys)}
        column = np.array([data["latency_ms"][where[ordered[i]["key"]]] for i in test])
        table_meta = json.loads(str(data["meta"]))
        label = f"{table.name} (latency from {table_meta.get('latency_from', 'its build')})"
        out[label] = _score(column, y[test])
    return out


def main(argv: list[str] | None = None) -> int:
    """Print (and with ``--out`` write) the comparison as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="mid", help="the space whose profile rows to use")
    parser.add_argument("--table", type=Path, action="append", default=[], help="a benchmark")
    parser.add_argument("--out", "--json", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--quick", action="store_true", help="smoke run: mid's shipped tables")
    args = parser.parse_args(argv)
    if args.quick:
        tables = ROOT / "config" / "tables"
        args.space, args.table = "mid", [tables / "mid-long.npz", tables / "mid-long-v2.npz"]
    result = compare(args.space, args.table)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

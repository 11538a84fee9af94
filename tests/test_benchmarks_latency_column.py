"""The latency-column comparison: the profile's held-out split as the profile made it, and
each benchmark's column scored on the same genomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import latency_column

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "config" / "tables"


def test_the_held_out_split_is_the_profiles_own() -> None:
    result = latency_column.compare("mid", [TABLES / "mid-long.npz", TABLES / "mid-long-v2.npz"])
    profile = json.loads((ROOT / "config" / "latency" / "mid-cpu.json").read_text())
    held_out = result["profile (fitted on the other 80 %)"]
    assert result["held_out"] == profile["fit"]["held_out"] == 60
    assert held_out["kendall_tau"] == pytest.approx(profile["fit"]["kendall_tau"], abs=5e-4)
    v1, v2 = (v for k, v in result.items() if k.startswith("mid-long"))
    assert v2["kendall_tau"] > v1["kendall_tau"]  # the profile ranks the timings better
    assert v2["scale_to_timings"] < 1.0  # -v2 sits at the in-loop level, above the minimum


def test_quick_writes_the_json(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    assert latency_column.main(["--quick", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 6  # space, two counts, profile, two tables

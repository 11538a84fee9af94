"""The run folder's format is declared once: the record schema matches its field list,
records round-trip (a truncated last line skipped), every writer uses the declared names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_type_hints

import runfolder
from runfolder import RECORD_FIELDS, EpisodeRecord, RecordWriter, read_records

ROOT = Path(__file__).resolve().parents[1]


def test_the_typed_record_has_exactly_the_record_fields_in_order() -> None:
    assert tuple(get_type_hints(EpisodeRecord)) == RECORD_FIELDS
    assert set(runfolder.METRIC_FIELDS) <= set(RECORD_FIELDS)


def test_records_round_trip_and_a_truncated_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / runfolder.EPISODES_FILE
    with RecordWriter(path, "r", "dqn", "nas_env/X-v0", 3) as writer:
        written = writer.write({"step": 0, "score": float("nan")})
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"step": 1, "sco')  # a crash mid-line
    records = list(read_records(path))
    assert records == [json.loads(json.dumps({**written, "score": None}))]
    assert list(records[0]) == list(RECORD_FIELDS) and records[0]["seed"] == 3


def test_no_module_spells_out_a_run_folder_file_name() -> None:
    names = [
        v
        for k, v in vars(runfolder).items()
        if k.endswith("_FILE") and isinstance(v, str) and "." in v
    ]
    pattern = re.compile("|".join(rf"[\"']{re.escape(n)}[\"']" for n in names))
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("agents", "analyze", "nas_env", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    offenders += [
        f"{script}:{n}"
        for script in ("train_rl.py", "tune_rl.py")
        for n, line in enumerate((ROOT / script).read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders

"""Labelled examples from a JSON-lines file (``cls/jsonl:PATH``).

Each non-blank line is a JSON object with a text field (a non-empty string) and a label
field (a string or an integer). The field names default to ``text`` and ``label`` and
can be renamed in the task id: ``cls/jsonl:reviews.jsonl?text=review&label=stars``.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

from nas_env.checks import describe, suggest
from nas_env.errors import ConfigError

FIELD_OPTIONS: tuple[str, ...] = ("text", "label")

Row = tuple[str, str | int]


def parse_source(source: str) -> tuple[Path, str, str]:
    """Split ``PATH[?text=FIELD&label=FIELD]`` into the path and the two field names.

    Raises:
        ConfigError: An option is unknown, repeated or empty.
    """
    path, _, query = source.partition("?")
    fields = {"text": "text", "label": "label"}
    seen: set[str] = set()
    for key, value in parse_qsl(query, keep_blank_values=True) if query else []:
        if key not in FIELD_OPTIONS:
            raise ConfigError(
                f"cls/jsonl:{source}: unknown option {key!r}{suggest(key, FIELD_OPTIONS)}; "
                "allowed: text=FIELD, label=FIELD"
            )
        if key in seen or not value:
            raise ConfigError(f"cls/jsonl:{source}: option {key!r} must be given once, non-empty")
        seen.add(key)
        fields[key] = value
    if not path:
        raise ConfigError(f"cls/jsonl:{source}: missing the path of a JSON-lines file")
    return Path(path).expanduser(), fields["text"], fields["label"]


def _field(row: dict[str, object], name: str, where: str) -> object:
    if name not in row:
        present = ", ".join(repr(key) for key in row) or "none"
        raise ConfigError(
            f"{where}: missing field {name!r}{suggest(name, [str(k) for k in row])}; "
            f"fields present: {present}"
        )
    return row[name]


def read_jsonl(path: str | Path, text_field: str = "text", label_field: str = "label") -> list[Row]:
    """Read ``(text, label)`` rows; blank lines are skipped.

    Raises:
        ConfigError: The file is missing or empty, or a line is not a JSON object with a
            valid text and label (the message gives ``path:line``, 1-based).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such JSON-lines file")
    rows: list[Row] = []
    with path.open(encoding="utf-8", errors="strict") as handle:
        try:
            lines = list(handle)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text; allowed: UTF-8 JSON lines") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(row, dict):
            raise ConfigError(
                f"{where}: expected a JSON object with fields {text_field!r} and "
                f"{label_field!r}, got {describe(row)}"
            )
        text = _field(row, text_field, where)
        label = _field(row, label_field, where)
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(
                f"{where}: field {text_field!r} is {describe(text)}; allowed: a non-empty string"
            )
        if isinstance(label, bool) or not isinstance(label, str | int) or label == "":
            raise ConfigError(
                f"{where}: field {label_field!r} is {describe(label)}; allowed: a non-empty "
                "string or an integer"
            )
        rows.append((text, label))
    if not rows:
        raise ConfigError(f"{path}: empty corpus: no JSON lines found")
    return rows

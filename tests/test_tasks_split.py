"""Deterministic train/validation splits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nas_env.errors import ConfigError
from nas_env.tasks.corpus import Document
from nas_env.tasks.split import (
    held_out,
    held_out_by_weight,
    split_by_file,
    split_documents,
    split_text,
)

NAMES = st.lists(st.text(min_size=1, max_size=12), min_size=2, max_size=40, unique=True)


@settings(max_examples=60, deadline=None)
@given(names=NAMES, fraction=st.floats(min_value=0.01, max_value=0.99))
def test_split_by_file_disjoint_complete_non_empty(names: list[str], fraction: float) -> None:
    root = Path("/corpus")
    files = [root / f"f{i}" / name.replace("/", "_") for i, name in enumerate(names)]
    train, val = split_by_file(files, fraction, root)
    assert train and val
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(files)
    assert (train, val) == split_by_file(files, fraction, root)


def test_split_depends_on_relative_path_only() -> None:
    names = [f"pkg/mod{i}.py" for i in range(50)]
    a = split_by_file([Path("/x") / n for n in names], 0.2, Path("/x"))
    b = split_by_file(
        [Path("/elsewhere/y") / n for n in reversed(names)], 0.2, Path("/elsewhere/y")
    )
    assert sorted(p.relative_to("/x").as_posix() for p in a[1]) == sorted(
        p.relative_to("/elsewhere/y").as_posix() for p in b[1]
    )
    assert 2 <= len(a[1]) <= 20


def test_held_out_fraction_is_roughly_respected() -> None:
    flags = held_out([f"row {i}" for i in range(5000)], 0.1)
    assert 0.08 < sum(flags) / len(flags) < 0.12


def test_single_key_is_training() -> None:
    assert held_out(["only"], 0.5) == [False]
    assert split_by_file([Path("a")], 0.5) == ([Path("a")], [])


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, "0.1", True, None])
def test_bad_val_fraction(bad: object) -> None:
    with pytest.raises(ConfigError, match="val_fraction"):
        held_out(["a", "b"], bad)  # type: ignore[arg-type]


def test_held_out_by_weight_targets_the_weight() -> None:
    keys = [f"f{i}" for i in range(60)]
    weights = [1 + (i * 37) % 50 for i in range(60)]
    flags = held_out_by_weight(keys, weights, 0.1)
    share = sum(w for w, f in zip(weights, flags, strict=True) if f) / sum(weights)
    assert 0.07 < share <= 0.1
    assert flags == held_out_by_weight(keys, weights, 0.1)


def test_held_out_by_weight_both_sides_non_empty() -> None:
    assert held_out_by_weight(["big", "small"], [100, 1], 0.1) == [False, True]
    assert sorted(held_out_by_weight(["a", "b"], [5, 5], 0.9)) == [False, True]


def test_split_text_cuts_at_line_boundary() -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    head, tail = split_text(text, 0.1)
    assert head + tail == text
    assert head.endswith("\n") and tail.startswith("line ")
    assert 0.85 < len(head) / len(text) < 0.95


def test_split_documents_single_document_is_cut() -> None:
    doc = Document("one.txt", "".join(f"{i}\n" for i in range(100)))
    train, val = split_documents([doc], 0.1)
    assert train[0].name == val[0].name == "one.txt"
    assert train[0].text + val[0].text == doc.text
    assert val[0].text


def test_split_documents_by_name() -> None:
    docs = [Document(f"d{i}", f"text {i}") for i in range(30)]
    train, val = split_documents(docs, 0.2)
    assert train and val
    assert {d.name for d in train}.isdisjoint({d.name for d in val})
    assert len(train) + len(val) == 30


def test_held_out_by_weight_single_key_is_training() -> None:
    assert held_out_by_weight(["only"], [7], 0.5) == [False]

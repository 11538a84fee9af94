"""Classification tasks: padded tensors, labels, JSON-lines input and stdlib modules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nas_env.errors import ConfigError
from nas_env.tasks import ClsTask, Tokenizer, make_task
from nas_env.tasks.cls import stratified_quotas
from nas_env.tasks.jsonl import parse_source, read_jsonl
from nas_env.tasks.snapshot import stdlib_documents
from nas_env.tasks.stdlib_modules import chunk_text, module_examples
from nas_env.tasks.tokenizer import train_tokenizer

WORDS = ("good", "great", "fine", "bad", "awful", "poor", "okay", "meh")


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    """A tokenizer for the short review-like texts below."""
    lines = [f"{a} and {b} {i}" for i in range(30) for a in WORDS for b in WORDS]
    return Tokenizer(train_tokenizer(lines, 64))


def _examples(count: int, offset: int = 0) -> list[tuple[str, str | int]]:
    return [
        (" ".join(WORDS[(i + j) % len(WORDS)] for j in range(1 + i % 7)), ("neg", "pos")[i % 2])
        for i in range(offset, offset + count)
    ]


@pytest.fixture
def task(tokenizer: Tokenizer) -> ClsTask:
    """A two-class task with 40 training and 10 validation examples."""
    return ClsTask(_examples(40), _examples(10, offset=40), tokenizer, split_rule="test")


def test_tensors_shapes_masks_and_labels(task: ClsTask, tokenizer: Tokenizer) -> None:
    assert task.labels == ("neg", "pos") and task.num_classes == 2
    x, mask, y = task.tensors(6, "train")
    assert x.shape == mask.shape == (40, 6) and y.shape == (40,)
    assert x.dtype == torch.int64 and mask.dtype == torch.bool and y.dtype == torch.int64
    assert torch.all(x[~mask] == tokenizer.pad_id)
    assert y.tolist() == [i % 2 for i in range(40)]
    for row, (text, _) in enumerate(_examples(40)):
        ids = tokenizer.encode(text)[:6]
        assert x[row, : len(ids)].tolist() == ids
        assert int(mask[row].sum()) == len(ids)
    assert task.tensors(6, "train")[0] is x


def test_sample_and_eval_batches(task: ClsTask) -> None:
    batch = task.sample_batch(16, 12, torch.Generator().manual_seed(1))
    assert batch.inputs.shape == (16, 12) and batch.targets.shape == (16,)
    assert batch.mask is not None and batch.mask.shape == (16, 12)
    again = task.sample_batch(16, 12, torch.Generator().manual_seed(1))
    assert torch.equal(batch.inputs, again.inputs) and torch.equal(batch.targets, again.targets)
    x, _, y = task.tensors(12, "val")
    batches = list(task.eval_batches(4, 12))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([b.inputs for b in batches]), x)
    assert torch.equal(torch.cat([b.targets for b in batches]), y)
    assert sum(len(b) for b in task.eval_batches(4, 12, max_tokens=12 * 5)) == 5
    assert sum(len(b) for b in task.eval_batches(4, 12, max_tokens=1)) == 1


def test_spec_stats_and_fingerprint(task: ClsTask, tokenizer: Tokenizer) -> None:
    spec = task.spec(32)
    assert (spec.kind, spec.num_classes, spec.pad_id, spec.seq_len) == ("cls", 2, 0, 32)
    assert spec.vocab_size == tokenizer.vocab_size
    assert task.metric == "accuracy"
    stats = task.stats()
    assert stats["class_counts"] == {"train": {"neg": 20, "pos": 20}, "val": {"neg": 5, "pos": 5}}
    other = ClsTask(_examples(40), _examples(10, offset=41), tokenizer, split_rule="test")
    assert other.fingerprint != task.fingerprint


def test_integer_labels_sort_numerically(tokenizer: Tokenizer) -> None:
    train = [("good", 10), ("bad", 2), ("okay", 1)]
    task = ClsTask(train, [("fine", 2)], tokenizer)
    assert task.labels == ("1", "2", "10")
    assert task.tensors(4)[2].tolist() == [2, 1, 0]


def test_fewer_than_two_classes(tokenizer: Tokenizer) -> None:
    with pytest.raises(ConfigError, match="at least 2 classes, found 1"):
        ClsTask([("good", "x")], [("bad", "x")], tokenizer)


def test_empty_split(tokenizer: Tokenizer) -> None:
    with pytest.raises(ConfigError, match="the val split has no examples"):
        ClsTask([("good", "x"), ("bad", "y")], [], tokenizer)


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_task(tmp_path: Path) -> None:
    rows = [{"text": text, "label": label} for text, label in _examples(200)]
    path = _jsonl(tmp_path / "data.jsonl", rows)
    task = make_task(f"cls/jsonl:{path}", cache=tmp_path / "cache", vocab_size=64)
    assert isinstance(task, ClsTask)
    stats = task.stats()
    assert stats["rows"] == 200
    assert 5 < stats["val_examples"] < 40
    assert stats["train_examples"] + stats["val_examples"] == 200
    assert task.labels == ("neg", "pos")


def test_jsonl_field_names(tmp_path: Path) -> None:
    rows = [{"review": text, "stars": i % 3 + 1} for i, (text, _) in enumerate(_examples(60))]
    path = _jsonl(tmp_path / "reviews.jsonl", rows)
    task = make_task(f"cls/jsonl:{path}?text=review&label=stars", cache=tmp_path, vocab_size=64)
    assert isinstance(task, ClsTask)
    assert task.labels == ("1", "2", "3")
    assert parse_source("a.jsonl?label=y") == (Path("a.jsonl"), "text", "y")
    with pytest.raises(ConfigError, match="unknown option 'labl' \\(did you mean 'label'"):
        parse_source("a.jsonl?labl=y")


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (['{"text": "a", "label": 1}', "{not json"], r":2: not valid JSON"),
        (['{"text": "a", "label": 1}', "", "[1, 2]"], r":3: expected a JSON object"),
        (['{"text": "a", "lable": 1}'], r":1: missing field 'label' \(did you mean 'lable'"),
        (['{"txt": "a", "label": 1}'], r":1: missing field 'text'"),
        (['{"text": 5, "label": 1}'], r":1: field 'text' is 5; allowed: a non-empty string"),
        (['{"text": "a", "label": 1.5}'], r":1: field 'label' is 1.5"),
        (['{"text": "a", "label": true}'], r":1: field 'label' is true"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path: Path, lines: list[str], match: str) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", lines)
    with pytest.raises(ConfigError, match=match) as info:
        read_jsonl(path)
    assert str(path) in str(info.value)


def test_jsonl_missing_empty_and_too_few(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such JSON-lines file") as info:
        make_task(f"cls/jsonl:{tmp_path / 'missing.jsonl'}", cache=tmp_path)
    assert "missing.jsonl" in str(info.value)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(ConfigError, match="empty corpus"):
        read_jsonl(empty)
    one = _jsonl(tmp_path / "one.jsonl", [{"text": "good", "label": "x"}])
    with pytest.raises(ConfigError, match="needs at least 2 rows"):
        make_task(f"cls/jsonl:{one}", cache=tmp_path, vocab_size=16)
    same = _jsonl(tmp_path / "same.jsonl", [{"text": w, "label": "x"} for w in WORDS * 5])
    with pytest.raises(ConfigError, match="at least 2 classes"):
        make_task(f"cls/jsonl:{same}", cache=tmp_path, vocab_size=32)


def test_chunk_text() -> None:
    text = "\n".join(f"line {i}" if i % 3 else "" for i in range(40))
    chunks = chunk_text(text, lines=8, min_lines=3)
    kept = [line for line in text.split("\n") if line.strip()]
    assert chunks[0].split("\n") == kept[:8]
    assert all(len(c.split("\n")) == 8 for c in chunks[:-1])
    assert "\n".join(chunks).split("\n") == kept[: len("\n".join(chunks).split("\n"))]
    assert chunk_text("a\nb\n", lines=8, min_lines=3) == []


@pytest.fixture(scope="module")
def modules_task(tmp_path_factory: pytest.TempPathFactory) -> ClsTask:
    """The real ``cls/stdlib-modules`` task with a small vocabulary."""
    task = make_task("cls/stdlib-modules", cache=tmp_path_factory.mktemp("cache"), vocab_size=256)
    assert isinstance(task, ClsTask)
    return task


def test_stdlib_modules_classes_and_split(modules_task: ClsTask) -> None:
    stats = modules_task.stats()
    assert modules_task.num_classes == 8
    assert list(modules_task.labels) == sorted(modules_task.labels)
    assert "encodings" not in modules_task.labels and "pydoc_data" not in modules_task.labels
    for split in ("train", "val"):
        assert all(count > 0 for count in stats["class_counts"][split].values())
    share = stats["val_examples"] / (stats["train_examples"] + stats["val_examples"])
    assert 0.05 < share < 0.15
    spec = modules_task.spec(128)
    assert spec.num_classes == 8 and spec.pad_id == 0 and spec.vocab_size == 256


def test_stdlib_modules_no_file_in_both_splits() -> None:
    docs = stdlib_documents()
    text = {doc.name: doc.text for doc in docs}
    train, val, files = module_examples(docs, 0.1)
    assert files["val"] and not set(files["train"]) & set(files["val"])
    val_packages = {name.split("/")[0] for name in files["val"]}
    assert val_packages == {label for _, label in train}
    expected_val = [
        (chunk, name.split("/")[0]) for name in files["val"] for chunk in chunk_text(text[name])
    ]
    assert sorted(val) == sorted(expected_val)
    again = module_examples(docs, 0.1)
    assert again == (train, val, files)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=50), min_size=2, max_size=9).filter(
        lambda s: sum(s) > 0
    ),
    fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_stratified_quotas_are_proportional(sizes: list[int], fraction: float) -> None:
    count = max(1, round(fraction * sum(sizes)))
    quotas = stratified_quotas(sizes, count)
    assert sum(quotas) == count
    assert all(0 <= q <= s for q, s in zip(quotas, sizes, strict=True))
    present = sum(1 for s in sizes if s)
    if count >= present:
        assert all(q >= 1 for q, s in zip(quotas, sizes, strict=True) if s)
    else:
        for q, s in zip(quotas, sizes, strict=True):
            assert abs(q - count * s / sum(sizes)) < 2


def test_scored_examples_are_stratified_and_fixed(modules_task: ClsTask) -> None:
    _, _, y = modules_task.tensors(64, "val")
    sizes = torch.bincount(y, minlength=modules_task.num_classes).tolist()
    for budget in (8, 40, 300):
        rows = modules_task.scored_examples(64, max_tokens=64 * budget)
        assert rows.numel() == budget
        counts = torch.bincount(y[rows], minlength=modules_task.num_classes).tolist()
        assert all(c >= 1 for c in counts)  # every class present
        for count, size in zip(counts, sizes, strict=True):
            assert abs(count - budget * size / sum(sizes)) < 2  # in proportion
        assert torch.equal(rows, modules_task.scored_examples(64, max_tokens=64 * budget))


def test_constant_predictor_cannot_beat_the_majority_share(modules_task: ClsTask) -> None:
    from nas_env.evaluation.measure import score_heldout

    class Constant(torch.nn.Module):
        def __init__(self, label: int, classes: int) -> None:
            super().__init__()
            self.label, self.classes = label, classes

        def forward(self, x, targets=None, mask=None):  # type: ignore[no-untyped-def]
            logits = torch.zeros(x.shape[0], self.classes)
            logits[:, self.label] = 1.0
            return logits, None

    _, _, y = modules_task.tensors(64, "val")
    majority = float(torch.bincount(y).max()) / y.numel()
    for budget in (32, 256):  # the old ordered prefixes gave 100 % and 86 % here
        for label in range(modules_task.num_classes):
            model = Constant(label, modules_task.num_classes)
            scores = score_heldout(model, modules_task, 64, 16, 64 * budget, torch.device("cpu"))
            assert scores.accuracy is not None and scores.macro_f1 is not None
            assert scores.accuracy <= majority + 1.0 / budget
            assert (
                scores.macro_f1 <= 2 * majority / (1 + majority) / modules_task.num_classes + 0.05
            )


def test_baseline_loss_is_the_class_prior_cross_entropy(tokenizer: Tokenizer) -> None:
    train = [("good", "pos")] * 30 + [("bad", "neg")] * 10
    val = [("good", "pos")] * 3 + [("bad", "neg")]
    task = ClsTask(train, val, tokenizer, split_rule="test")
    p_neg, p_pos = 11 / 42, 31 / 42  # add-one smoothing
    expected = -(3 * math.log(p_pos) + math.log(p_neg)) / 4
    assert task.baseline_loss() == pytest.approx(expected)

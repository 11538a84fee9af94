"""Language-modelling task: token arrays, batches and held-out evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nas_env.errors import ConfigError
from nas_env.tasks import Batch, LMTask, Tokenizer, make_task
from nas_env.tasks.corpus import stdlib_root
from nas_env.tasks.split import split_by_file
from nas_env.tasks.tokenizer import train_tokenizer

MODULES = ("textwrap.py", "string.py", "json/decoder.py", "json/encoder.py", "json/scanner.py")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """A few standard-library modules."""
    return [(stdlib_root() / name).read_text(encoding="utf-8") for name in MODULES]


@pytest.fixture(scope="module")
def tokenizer(texts: list[str]) -> Tokenizer:
    """A small tokenizer trained on ``texts``."""
    return Tokenizer(train_tokenizer(texts, 128))


@pytest.fixture
def task(texts: list[str], tokenizer: Tokenizer) -> LMTask:
    """An in-memory LM task: four modules for training, one held out."""
    return LMTask(texts[:4], texts[4:], tokenizer, split_rule="test")


def test_token_tensors(task: LMTask, texts: list[str], tokenizer: Tokenizer) -> None:
    for tokens in (task.train_tokens, task.val_tokens):
        assert tokens.dtype == torch.int64 and tokens.dim() == 1
        assert int(tokens.min()) >= 0 and int(tokens.max()) < tokenizer.vocab_size
    expected = [*tokenizer.encode(texts[4]), tokenizer.eos_id]
    assert task.val_tokens.tolist() == expected
    assert int((task.train_tokens == tokenizer.eos_id).sum()) == 4
    stats = task.stats()
    assert (stats["train_files"], stats["val_files"]) == (4, 1)
    assert stats["val_tokens"] == len(expected)


def test_sample_batch_shapes_shift_and_determinism(task: LMTask) -> None:
    batch = task.sample_batch(8, 32, torch.Generator().manual_seed(3))
    assert isinstance(batch, Batch)
    assert batch.inputs.shape == batch.targets.shape == (8, 32)
    assert batch.inputs.dtype == batch.targets.dtype == torch.int64
    assert batch.mask is None and batch.num_tokens == 256 and len(batch) == 8
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    tokens = task.train_tokens.tolist()
    for row_x, row_y in zip(batch.inputs.tolist(), batch.targets.tolist(), strict=True):
        start = next(i for i in range(len(tokens)) if tokens[i : i + 33] == [*row_x, row_y[-1]])
        assert tokens[start + 1 : start + 33] == row_y
    again = task.sample_batch(8, 32, torch.Generator().manual_seed(3))
    assert torch.equal(batch.inputs, again.inputs) and torch.equal(batch.targets, again.targets)
    other = task.sample_batch(8, 32, torch.Generator().manual_seed(4))
    assert not torch.equal(batch.inputs, other.inputs)


def test_sample_batch_reaches_the_last_token(tokenizer: Tokenizer) -> None:
    small = LMTask(["a b c d e f g\n"], ["a b\n"], tokenizer)
    n = small.train_tokens.numel()
    batch = small.sample_batch(200, n - 1, torch.Generator().manual_seed(0))
    assert torch.equal(batch.inputs[0], small.train_tokens[:-1])
    assert torch.equal(batch.targets[0], small.train_tokens[1:])


def test_eval_batches_walk_val_in_order(task: LMTask) -> None:
    batches = list(task.eval_batches(4, 16))
    assert all(b.inputs.shape[1] == 16 for b in batches)
    assert all(b.inputs.shape[0] <= 4 for b in batches)
    inputs = torch.cat([b.inputs for b in batches]).flatten()
    targets = torch.cat([b.targets for b in batches]).flatten()
    windows = (task.val_tokens.numel() - 1) // 16
    assert torch.equal(inputs, task.val_tokens[: windows * 16])
    assert torch.equal(targets, task.val_tokens[1 : windows * 16 + 1])
    again = list(task.eval_batches(4, 16))
    assert all(torch.equal(a.inputs, b.inputs) for a, b in zip(batches, again, strict=True))


def test_eval_batches_max_tokens_and_train_split(task: LMTask) -> None:
    limited = list(task.eval_batches(3, 16, max_tokens=100))
    assert sum(b.inputs.shape[0] for b in limited) == 6
    assert sum(b.inputs.shape[0] for b in task.eval_batches(3, 16, max_tokens=5)) == 1
    train = next(iter(task.eval_batches(2, 8, split="train")))
    assert torch.equal(train.inputs[0], task.train_tokens[:8])


def test_spec(task: LMTask, tokenizer: Tokenizer) -> None:
    spec = task.spec(64)
    assert (spec.kind, spec.vocab_size, spec.seq_len) == ("lm", tokenizer.vocab_size, 64)
    assert spec.num_classes is None
    assert task.metric == "perplexity"


def test_corpus_too_small_for_seq_len(tokenizer: Tokenizer) -> None:
    small = LMTask(["x = 1\n" * 50], ["y = 2\n"], tokenizer)
    val_tokens = small.val_tokens.numel()
    message = f"corpus too small for seq_len=64 (val split has {val_tokens} tokens"
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        small.spec(64)
    with pytest.raises(ConfigError, match="corpus too small"):
        list(small.eval_batches(2, 64))
    with pytest.raises(ConfigError, match="corpus too small"):
        small.sample_batch(2, 64, torch.Generator(), split="val")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: t.sample_batch(0, 8, torch.Generator()), "batch_size=0"),
        (lambda t: t.sample_batch(2, -1, torch.Generator()), "seq_len=-1"),
        (lambda t: t.sample_batch(2, 8, torch.Generator(), split="valid"), "did you mean 'val'"),
        (lambda t: t.eval_batches(2, 8, max_tokens=0), "max_tokens=0"),
    ],
)
def test_bad_arguments(task: LMTask, call: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call(task)  # type: ignore[operator]


def test_empty_split_is_rejected(tokenizer: Tokenizer) -> None:
    with pytest.raises(ConfigError, match="empty corpus: the val split"):
        LMTask(["x = 1\n"], ["  \n"], tokenizer)
    with pytest.raises(ConfigError, match="empty corpus: the train split"):
        LMTask([], ["x = 1\n"], tokenizer)


def test_max_train_tokens(texts: list[str], tokenizer: Tokenizer) -> None:
    full = LMTask(texts[:4], texts[4:], tokenizer)
    capped = LMTask(texts[:4], texts[4:], tokenizer, max_train_tokens=500)
    assert capped.train_tokens.numel() == 500
    assert torch.equal(capped.train_tokens, full.train_tokens[:500])
    assert torch.equal(capped.val_tokens, full.val_tokens)
    assert capped.fingerprint != full.fingerprint
    reordered = LMTask(texts[3::-1], texts[4:], tokenizer)
    assert torch.equal(reordered.train_tokens, full.train_tokens)


def test_token_arrays_are_cached(
    texts: list[str], tokenizer: Tokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = LMTask(texts[:4], texts[4:], tokenizer, cache=tmp_path)
    files = sorted((tmp_path / "tokens").glob("*.npy"))
    assert len(files) == 2
    assert {np.load(f).dtype for f in files} == {np.dtype(np.uint16)}

    def fail(*args: object) -> None:
        raise AssertionError("tokenised again")

    monkeypatch.setattr(Tokenizer, "encode_many", fail)
    second = LMTask(texts[:4], texts[4:], tokenizer, cache=tmp_path)
    assert torch.equal(first.train_tokens, second.train_tokens)
    assert torch.equal(first.val_tokens, second.val_tokens)
    assert second.fingerprint == first.fingerprint


def _write_split_corpus(root: Path, count: int = 12) -> tuple[list[Path], list[Path]]:
    files = [root / f"doc{i:02d}.txt" for i in range(count)]
    train, val = split_by_file(files, 0.25, root)
    for file in train:
        file.write_text("aaa bbb aaa\n" * 40 + "bbb aaa\n", encoding="utf-8")
    for file in val:
        file.write_text("bbb bbb\n" * 40, encoding="utf-8")
    return train, val


def test_val_tokens_come_only_from_val_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    train, val = _write_split_corpus(corpus)
    assert train and val
    task = make_task(
        f"lm/text:{corpus}", cache=tmp_path / "cache", vocab_size=16, val_fraction=0.25
    )
    assert isinstance(task, LMTask)
    assert task.stats()["val_files"] == len(val)
    assert "a" not in task.tokenizer.decode(task.val_tokens.tolist())
    assert "a" in task.tokenizer.decode(task.train_tokens.tolist())
    for batch in task.eval_batches(4, 8):
        assert "a" not in task.tokenizer.decode(batch.inputs.flatten().tolist())
        assert "a" not in task.tokenizer.decode(batch.targets.flatten().tolist())


def test_batch_to_device_keeps_everything() -> None:
    batch = Batch(torch.ones(2, 3, dtype=torch.int64), torch.zeros(2, dtype=torch.int64))
    moved = batch.to("cpu")
    assert torch.equal(moved.inputs, batch.inputs) and moved.mask is None
    masked = Batch(batch.inputs, batch.targets, torch.tensor([[True, True, False]] * 2))
    assert masked.to(torch.device("cpu")).num_tokens == 4


def test_scored_windows_are_a_fixed_nested_sample(task: LMTask) -> None:
    every = task.scored_windows(16)
    assert torch.equal(every, torch.arange(every.numel()) * 16)  # no budget: all windows
    some = task.scored_windows(16, max_tokens=16 * 10)
    assert some.numel() == 10 and torch.equal(some, task.scored_windows(16, max_tokens=160))
    assert torch.equal(some, torch.sort(some).values) and bool((some % 16 == 0).all())
    more = task.scored_windows(16, max_tokens=16 * 20)
    assert set(some.tolist()) <= set(more.tolist())  # a larger budget scores a superset
    assert some.tolist() != list(range(0, 160, 16))  # not the prefix of the stream
    batches = list(task.eval_batches(4, 16, max_tokens=160))
    inputs = torch.cat([b.inputs for b in batches])
    assert torch.equal(inputs[:, 0], task.val_tokens[some])


def test_scored_windows_depend_on_the_task_data(texts: list[str], tokenizer: Tokenizer) -> None:
    one = LMTask(texts[:4], texts[4:], tokenizer, split_rule="test")
    same = LMTask(texts[:4], texts[4:], tokenizer, split_rule="test")
    other = LMTask(texts[1:], texts[:1], tokenizer, split_rule="test")
    assert torch.equal(one.scored_windows(16, 320), same.scored_windows(16, 320))
    assert not torch.equal(one.scored_windows(16, 320), other.scored_windows(16, 320)[:20])


def test_document_of(task: LMTask) -> None:
    ends = torch.nonzero(task.val_tokens == task.tokenizer.eos_id).flatten()
    first_end = int(ends[0])
    assert task.document_of(torch.tensor([0, first_end, first_end + 1])).tolist() == [0, 0, 1]


def test_baseline_loss_is_the_unigram_cross_entropy(task: LMTask, tokenizer: Tokenizer) -> None:
    counts = np.bincount(task.train_tokens.numpy(), minlength=tokenizer.vocab_size) + 1.0
    log_p = np.log(counts / counts.sum())
    expected = -log_p[task.val_tokens.numpy()[1:]].mean()
    assert task.baseline_loss() == pytest.approx(expected)
    assert 0 < task.baseline_loss() < np.log(tokenizer.vocab_size)

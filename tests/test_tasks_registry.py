"""Task ids, the memoising factory and the real standard-library LM task."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas_env.errors import ConfigError
from nas_env.tasks import TASK_IDS, LMTask, Tokenizer, make_task, parse_task_id
from nas_env.tasks import tokenizer as tokenizer_module
from nas_env.tasks.registry import clear_task_memo
from nas_env.tasks.snapshot import stdlib_documents

LINES = "".join(f"def function_{i}(value):\n    return value * {i}\n\n" for i in range(200))


def test_parse_task_ids() -> None:
    assert parse_task_id("lm/stdlib") == ("lm/stdlib", "")
    assert parse_task_id("lm/text:/data/x y.txt") == ("lm/text", "/data/x y.txt")
    assert parse_task_id("cls/stdlib-modules").name == "cls/stdlib-modules"
    assert parse_task_id("cls/jsonl:a.jsonl?text=t").argument == "a.jsonl?text=t"
    assert len(TASK_IDS) == 9 and parse_task_id("image/digits").name == "image/digits"
    assert parse_task_id("series/basic-motions").name == "series/basic-motions"


@pytest.mark.parametrize(
    ("task_id", "match"),
    [
        ("lm/stdlb", r"unknown task id 'lm/stdlb' \(did you mean 'lm/stdlib'\?\)"),
        ("cls/jsonlines:x", r"did you mean 'cls/jsonl'"),
        ("vision/cifar", r"unknown task id 'vision/cifar'; allowed: lm/stdlib, lm/stdlib-prose"),
        ("lm/text", r"needs a path after ':'"),
        ("lm/text:", r"needs a path after ':'"),
        ("lm/stdlib:foo", r"takes no argument"),
    ],
)
def test_bad_task_ids(task_id: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_task(task_id)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vocab_size": 0}, "vocab_size=0"),
        ({"val_fraction": 1.0}, "val_fraction=1.0"),
        ({"max_train_tokens": -5}, "max_train_tokens=-5"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_task("lm/stdlib", cache=tmp_path, **kwargs)  # type: ignore[arg-type]


def test_max_train_tokens_only_for_lm(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="applies to lm/ tasks only"):
        make_task("cls/stdlib-modules", cache=tmp_path, max_train_tokens=100)


def test_text_file_is_split_by_text_and_memoised(tmp_path: Path) -> None:
    path = tmp_path / "code.txt"
    path.write_text(LINES, encoding="utf-8")
    task = make_task(f"lm/text:{path}", cache=tmp_path / "cache", vocab_size=64)
    assert isinstance(task, LMTask)
    assert make_task(f"lm/text:{path}", cache=tmp_path / "cache", vocab_size=64) is task
    assert make_task(f"lm/text:{path}", cache=tmp_path / "cache", vocab_size=80) is not task
    text = task.tokenizer.decode(task.train_tokens.tolist())
    val = task.tokenizer.decode(task.val_tokens.tolist())
    assert text.startswith("def function_0(value):") and "function_199" not in text
    assert "function_199" in val and "function_0(" not in val
    assert 0.05 < task.val_tokens.numel() / task.train_tokens.numel() < 0.2


def test_relative_text_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "corpus").mkdir()
    for i in range(5):
        (tmp_path / "corpus" / f"part{i}.md").write_text(LINES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    task = make_task("lm/text:corpus", cache=tmp_path / "cache", vocab_size=64)
    assert task is make_task(
        f"lm/text:{tmp_path / 'corpus'}", cache=tmp_path / "cache", vocab_size=64
    )
    assert task.stats()["train_files"] + task.stats()["val_files"] == 5


def test_text_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder") as info:
        make_task(f"lm/text:{tmp_path / 'absent'}", cache=tmp_path)
    assert "absent" in str(info.value)
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(ConfigError, match="empty corpus"):
        make_task(f"lm/text:{tmp_path / 'blank.txt'}", cache=tmp_path)
    (tmp_path / "tiny.txt").write_text("x = 1\ny = 2\n")
    with pytest.raises(ConfigError, match="corpus too small for vocab_size=1024"):
        make_task(f"lm/text:{tmp_path / 'tiny.txt'}", cache=tmp_path)


def test_env_var_cache_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_ENV_CACHE", str(tmp_path / "env-cache"))
    path = tmp_path / "code.txt"
    path.write_text(LINES, encoding="utf-8")
    make_task(f"lm/text:{path}", vocab_size=48)
    assert list((tmp_path / "env-cache" / "tokenizers").glob("*-bpe48.model"))
    assert len(list((tmp_path / "env-cache" / "tokens").glob("*.npy"))) == 2


@pytest.fixture(scope="module")
def stdlib_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder private to this module."""
    return tmp_path_factory.mktemp("stdlib-cache")


@pytest.fixture(scope="module")
def stdlib_task(stdlib_cache: Path) -> LMTask:
    """The real ``lm/stdlib`` task with a small vocabulary."""
    task = make_task("lm/stdlib", cache=stdlib_cache, vocab_size=256)
    assert isinstance(task, LMTask)
    return task


def test_stdlib_task(stdlib_task: LMTask) -> None:
    stats = stdlib_task.stats()
    assert stats["train_files"] + stats["val_files"] == len(stdlib_documents())
    assert stats["val_files"] > 10 and stats["val_tokens"] > 10_000
    assert stats["train_tokens"] > 5 * stats["val_tokens"]
    assert stdlib_task.spec(128).vocab_size == 256
    batch = stdlib_task.sample_batch(4, 64, torch.Generator().manual_seed(0))
    assert batch.inputs.shape == (4, 64)


def test_stdlib_task_reloads_from_cache(
    stdlib_task: LMTask, stdlib_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("cached work was redone")

    monkeypatch.setattr(tokenizer_module, "train_tokenizer", fail)
    monkeypatch.setattr(Tokenizer, "encode_many", fail)
    clear_task_memo()
    again = make_task("lm/stdlib", cache=stdlib_cache, vocab_size=256)
    assert again is not stdlib_task
    assert again.fingerprint == stdlib_task.fingerprint
    assert torch.equal(again.train_tokens, stdlib_task.train_tokens)
    assert torch.equal(again.val_tokens, stdlib_task.val_tokens)


def test_stdlib_scoring_is_spread_over_all_held_out_documents(stdlib_task: LMTask) -> None:
    val_files = stdlib_task.stats()["val_files"]
    offsets = stdlib_task.scored_windows(64, max_tokens=16384)
    touched = set(stdlib_task.document_of(offsets).tolist())
    assert len(touched) >= 0.6 * val_files  # a prefix of 256 windows touches one or two
    prefix = torch.arange(offsets.numel()) * 64
    assert len(set(stdlib_task.document_of(prefix).tolist())) < 0.2 * val_files

"""Task ids and the factory that builds (and memoises) tasks.

Task ids:

* ``lm/stdlib``: causal language modelling on the standard library's source (the pinned
  snapshot of `nas_env.tasks.snapshot`, the same on every machine).
* ``lm/stdlib-prose``: the same on the snapshot's docstrings and comments (prose, not
  code: `nas_env.tasks.prose`).
* ``lm/stdlib-chars``: ``lm/stdlib`` at character level (one id per character of the
  training split; the vocabulary size is an upper bound).
* ``lm/text:PATH``: causal language modelling on a text file or a folder of text files.
* ``cls/stdlib-modules``: which of the largest stdlib packages a chunk of code is from.
* ``cls/jsonl:PATH[?text=FIELD&label=FIELD]``: labelled texts from a JSON-lines file.
* ``image/digits``: 8x8 handwritten digits (pinned; `nas_env.tasks.digits`), its own fixed
  stratified split (25 % held out; ``val_fraction`` does not apply) and no tokenizer;
  ``image/digits:K`` is another stratified split of the same sizes (seed ``K``; 0 is the
  plain id's).
* ``series/japanese-vowels``, ``series/basic-motions``: multivariate time series (UEA
  JapaneseVowels and BasicMotions, pinned; `nas_env.tasks.series`), the archive's
  official split, real-valued frames (no ids).

The tokenizer of a task is trained on its training split only. Within one process a
task is built once per set of arguments; across processes the tokenizer and the token
arrays come from the cache folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from nas_env.checks import check_int, suggest
from nas_env.errors import ConfigError
from nas_env.tasks.base import Task
from nas_env.tasks.cache import cache_dir
from nas_env.tasks.cls import ClsTask
from nas_env.tasks.corpus import Document, content_hash, read_documents, text_files
from nas_env.tasks.digits import LEVELS, DigitsTask
from nas_env.tasks.jsonl import parse_source, read_jsonl
from nas_env.tasks.lm import LMTask
from nas_env.tasks.prose import stdlib_prose_documents
from nas_env.tasks.series import SeriesTask
from nas_env.tasks.snapshot import stdlib_documents
from nas_env.tasks.split import check_val_fraction, held_out, split_documents, split_rule
from nas_env.tasks.stdlib_modules import module_examples
from nas_env.tasks.tokenizer import load_or_train_tokenizer

TASK_IDS: tuple[str, ...] = (
    "lm/stdlib",
    "lm/stdlib-prose",
    "lm/stdlib-chars",
    "lm/text:PATH",
    "cls/stdlib-modules",
    "cls/jsonl:PATH[?text=FIELD&label=FIELD]",
    "image/digits[:SPLIT_SEED]",
    "series/japanese-vowels",
    "series/basic-motions",
)
"""The task id forms, for help texts."""

DEFAULT_VOCAB: dict[str, int] = {
    "lm/stdlib": 1024,
    "lm/stdlib-prose": 1024,
    "lm/stdlib-chars": 256,
    "lm/text": 1024,
    "cls/stdlib-modules": 1024,
    "cls/jsonl": 1024,
    "image/digits": LEVELS,
    "series/japanese-vowels": 0,  # real-valued frames: no ids
    "series/basic-motions": 0,
}
"""Default tokenizer vocabulary size per task kind."""

_WITH_ARGUMENT = ("lm/text", "cls/jsonl")
_OPTIONAL_ARGUMENT = ("image/digits",)


class TaskId(NamedTuple):
    """A parsed task id.

    Attributes:
        name: ``lm/stdlib``, ``lm/stdlib-prose``, ``lm/text``, ``cls/stdlib-modules`` or
            ``cls/jsonl``.
        argument: The part after ``:`` (path and options), empty when there is none.
    """

    name: str
    argument: str


def parse_task_id(task_id: str) -> TaskId:
    """Split a task id into its name and argument.

    Raises:
        ConfigError: The id is not one of `TASK_IDS` (with a close match when there is one).
    """
    if not isinstance(task_id, str):
        raise ConfigError(f"task id {task_id!r} is invalid; allowed: {', '.join(TASK_IDS)}")
    name, colon, argument = task_id.partition(":")
    if name in _WITH_ARGUMENT and argument.strip():
        return TaskId(name, argument)
    if name in _WITH_ARGUMENT:
        raise ConfigError(f"task id {task_id!r} needs a path after ':'; allowed: {name}:PATH")
    if name in DEFAULT_VOCAB and not colon:
        return TaskId(name, "")
    if name in _OPTIONAL_ARGUMENT:
        if not argument.strip().isdigit():
            raise ConfigError(
                f"task id {task_id!r} is invalid: {argument!r} is not a split seed; "
                f"allowed: {name} or {name}:K with K an integer >= 0"
            )
        seed = int(argument)
        return TaskId(name, str(seed) if seed else "")  # :0 is the plain id
    if name in DEFAULT_VOCAB:
        raise ConfigError(f"task id {task_id!r} takes no argument after ':'; allowed: {name}")
    raise ConfigError(
        f"unknown task id {task_id!r}{suggest(name, list(DEFAULT_VOCAB))}; "
        f"allowed: {', '.join(TASK_IDS)}"
    )


def _lm_task(
    docs: tuple[list[Document], list[Document]],
    vocab: int,
    cache: Path,
    max_train_tokens: int | None,
    rule: str,
    model_type: str = "bpe",
) -> LMTask:
    train, val = docs
    train_texts = [doc.text for doc in train]
    corpus = content_hash(train)
    tokenizer = load_or_train_tokenizer(train_texts, vocab, cache, corpus, model_type)
    return LMTask(
        train_texts,
        [doc.text for doc in val],
        tokenizer,
        cache=cache,
        max_train_tokens=max_train_tokens,
        split_rule=rule,
    )


def _build(
    parsed: TaskId, cache: Path, vocab: int, val_fraction: float, max_train_tokens: int | None
) -> Task:
    rule = split_rule(val_fraction)
    if parsed.name == "image/digits":
        if vocab != LEVELS:
            raise ConfigError(
                f"image/digits: vocab_size={vocab} is invalid; its pixels have {LEVELS} "
                f"intensity levels (allowed: {LEVELS})"
            )
        if max_train_tokens is not None:
            raise ConfigError("max_train_tokens is invalid for image/digits; allowed: None")
        return DigitsTask(int(parsed.argument or 0))
    if parsed.name.startswith("series/"):
        if vocab != 0 or max_train_tokens is not None:
            raise ConfigError(
                f"{parsed.name}: vocab_size={vocab}, max_train_tokens={max_train_tokens} are "
                "invalid; a series task has real-valued frames (allowed: vocab_size None or "
                "0, max_train_tokens None)"
            )
        return SeriesTask(parsed.name.partition("/")[2])
    if parsed.name in ("lm/stdlib", "lm/stdlib-chars"):
        docs = list(stdlib_documents())
        kind = "char" if parsed.name.endswith("-chars") else "bpe"
        split = split_documents(docs, val_fraction)
        return _lm_task(split, vocab, cache, max_train_tokens, rule, kind)
    if parsed.name == "lm/stdlib-prose":
        docs = list(stdlib_prose_documents(cache))
        return _lm_task(split_documents(docs, val_fraction), vocab, cache, max_train_tokens, rule)
    if parsed.name == "lm/text":
        path = Path(parsed.argument).expanduser().absolute()
        files = text_files(path)
        root = path if path.is_dir() else path.parent
        docs = read_documents(files, root)
        if not any(doc.text.strip() for doc in docs):
            raise ConfigError(f"text corpus {str(path)!r}: empty corpus (no non-blank text)")
        return _lm_task(split_documents(docs, val_fraction), vocab, cache, max_train_tokens, rule)
    if max_train_tokens is not None:
        raise ConfigError(
            f"max_train_tokens={max_train_tokens} is invalid for {parsed.name}; "
            "allowed: None (it applies to lm/ tasks only)"
        )
    if parsed.name == "cls/stdlib-modules":
        train_ex, val_ex, names = module_examples(stdlib_documents(), val_fraction)
        extra: dict[str, object] = {f"{side}_files": len(names[side]) for side in names}
        rule += " weighted by chunks"
    else:
        path, text_field, label_field = parse_source(parsed.argument)
        rows = read_jsonl(path.absolute(), text_field, label_field)
        if len(rows) < 2:
            raise ConfigError(f"{path}: needs at least 2 rows to split, found {len(rows)}")
        flags = held_out([f"{label}\0{text}" for text, label in rows], val_fraction)
        train_ex = [row for row, is_val in zip(rows, flags, strict=True) if not is_val]
        val_ex = [row for row, is_val in zip(rows, flags, strict=True) if is_val]
        extra = {"rows": len(rows)}
    texts = [text for text, _ in train_ex]
    tokenizer = load_or_train_tokenizer(texts, vocab, cache, content_hash(enumerate(texts)))
    return ClsTask(train_ex, val_ex, tokenizer, split_rule=rule, extra_stats=extra)


_TASKS: dict[tuple[object, ...], Task] = {}


def make_task(
    task_id: str,
    *,
    cache: str | Path | None = None,
    vocab_size: int | None = None,
    val_fraction: float = 0.1,
    max_train_tokens: int | None = None,
) -> Task:
    """Build the task named by ``task_id`` (once per process for the same arguments).

    Args:
        task_id: One of the forms in `TASK_IDS`.
        cache: Cache folder for tokenizers and token arrays (see `cache_dir`).
        vocab_size: Tokenizer vocabulary size (None: `DEFAULT_VOCAB` of the task).
        val_fraction: Expected fraction of held-out files (or rows), in ``(0, 1)``.
        max_train_tokens: Cap on training tokens of ``lm/`` tasks (None: all).

    Returns:
        An `LMTask` for ``lm/`` ids, a `ClsTask` for ``cls/`` ids.

    Raises:
        ConfigError: Unknown id, missing or empty corpus, bad JSON lines, too small a
            corpus for the vocabulary, fewer than two classes, or a bad argument.
    """
    parsed = parse_task_id(task_id)
    series = parsed.name.startswith("series/")  # no ids: vocabulary 0
    vocab = check_int(vocab_size, "vocab_size", 0 if series else 1, allow_none=True)
    vocab = DEFAULT_VOCAB[parsed.name] if vocab is None else vocab
    val_fraction = check_val_fraction(val_fraction)
    max_train_tokens = check_int(max_train_tokens, "max_train_tokens", allow_none=True)
    root = cache_dir(cache)
    argument = parsed.argument
    if parsed.name == "lm/text":
        argument = str(Path(argument).expanduser().absolute())
    elif parsed.name == "cls/jsonl":
        path, text_field, label_field = parse_source(argument)
        argument = f"{path.absolute()}?text={text_field}&label={label_field}"
    key = (parsed.name, argument, str(root), vocab, val_fraction, max_train_tokens)
    if key not in _TASKS:
        _TASKS[key] = _build(parsed, root, vocab, val_fraction, max_train_tokens)
    return _TASKS[key]


def clear_task_memo() -> None:
    """Forget the tasks built so far in this process (the disk cache is kept)."""
    _TASKS.clear()

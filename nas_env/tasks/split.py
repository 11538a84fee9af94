"""Deterministic train/validation splits that never put one file on both sides.

Each item (a file's relative path, or a row's content for user data) gets a score in
``[0, 1)`` from the SHA-256 of ``salt + "\\0" + key``; items scoring below
``val_fraction`` are held out. The rule depends only on the keys, so it is the same on
every machine, in every process and whatever order the items come in. When there are
at least two items both sides are made non-empty: the lowest-scoring item is moved to
validation or the highest-scoring one to training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from nas_env.checks import check_real
from nas_env.tasks.corpus import Document

SPLITS: tuple[str, ...] = ("train", "val")
"""The names of a task's two splits: training and held-out validation."""
SPLIT_SALT = "nas_env-split-v1"


def check_val_fraction(val_fraction: float) -> float:
    """Return ``val_fraction`` as a float if it lies strictly between 0 and 1.

    Raises:
        ConfigError: It is not a number in ``(0, 1)``.
    """
    return check_real(val_fraction, "val_fraction", 0, 1, low_inclusive=False)


def split_rule(val_fraction: float, salt: str = SPLIT_SALT) -> str:
    """A short text naming the split rule, for fingerprints and reports."""
    return f"sha256({salt})<{val_fraction:g}"


def _score(key: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def held_out(keys: Sequence[str], val_fraction: float, salt: str = SPLIT_SALT) -> list[bool]:
    """For each key, whether it belongs to the validation side.

    Args:
        keys: Stable identifiers (relative paths, row contents).
        val_fraction: Expected fraction of held-out keys, in ``(0, 1)``.
        salt: Mixed into the hash; another salt gives another split.

    Returns:
        One flag per key; both values occur when there are at least two keys. A single
        key is always a training key.
    """
    val_fraction = check_val_fraction(val_fraction)
    scores = [_score(key, salt) for key in keys]
    flags = [score < val_fraction and len(keys) >= 2 for score in scores]
    if len(keys) >= 2 and not any(flags):
        flags[min(range(len(keys)), key=lambda i: (scores[i], keys[i]))] = True
    if len(keys) >= 2 and all(flags):
        flags[max(range(len(keys)), key=lambda i: (scores[i], keys[i]))] = False
    return flags


def held_out_by_weight(
    keys: Sequence[str], weights: Sequence[int], val_fraction: float, salt: str = SPLIT_SALT
) -> list[bool]:
    """Like `held_out`, but aiming at ``val_fraction`` of the total weight rather than keys.

    Keys are visited in hash order and held out while their summed weight stays within
    ``val_fraction`` of the total; a key too heavy to fit is skipped. Use it when items
    differ much in size (files yielding different numbers of examples), so that the
    held-out share of examples stays close to ``val_fraction``.

    Args:
        keys: Stable identifiers.
        weights: Positive size of each key (for example its number of examples).
        val_fraction: Target held-out fraction of the total weight, in ``(0, 1)``.
        salt: Mixed into the hash.

    Returns:
        One flag per key; both values occur when there are at least two keys.
    """
    val_fraction = check_val_fraction(val_fraction)
    order = sorted(range(len(keys)), key=lambda i: (_score(keys[i], salt), keys[i]))
    target = val_fraction * sum(weights)
    flags = [False] * len(keys)
    total = 0
    for i in order if len(keys) >= 2 else []:
        if total + weights[i] <= target:
            flags[i] = True
            total += weights[i]
    if len(keys) >= 2 and not any(flags):
        flags[min(order, key=lambda i: weights[i])] = True
    if len(keys) >= 2 and all(flags):
        flags[order[-1]] = False
    return flags


def _relative_key(path: Path, root: Path | None) -> str:
    return (path.relative_to(root) if root is not None else path).as_posix()


def split_by_file(
    files: Sequence[Path], val_fraction: float, root: Path | None = None, salt: str = SPLIT_SALT
) -> tuple[list[Path], list[Path]]:
    """Split files into training and validation files by a hash of their relative path.

    Args:
        files: The files; their order is kept on both sides.
        val_fraction: Expected fraction of validation files, in ``(0, 1)``.
        root: Paths are hashed relative to this folder (None: hashed as given).
        salt: Mixed into the hash.

    Returns:
        ``(train, val)``: disjoint, together all of ``files``, both non-empty when there are
        at least two files. A single file goes to ``train``; use `split_documents` to
        split its text instead.
    """
    flags = held_out([_relative_key(f, root) for f in files], val_fraction, salt)
    train = [f for f, is_val in zip(files, flags, strict=True) if not is_val]
    val = [f for f, is_val in zip(files, flags, strict=True) if is_val]
    return train, val


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """Cut one text into a leading training part and a trailing validation part.

    The cut is at the first line break at or after ``(1 - val_fraction)`` of the text
    (at exactly that character when no line break follows).
    """
    val_fraction = check_val_fraction(val_fraction)
    cut = round(len(text) * (1.0 - val_fraction))
    newline = text.find("\n", cut)
    if newline != -1 and newline + 1 < len(text):
        cut = newline + 1
    return text[:cut], text[cut:]


def split_documents(
    docs: Sequence[Document], val_fraction: float, salt: str = SPLIT_SALT
) -> tuple[list[Document], list[Document]]:
    """Split documents by a hash of their name (see `split_by_file`).

    A corpus of exactly one document cannot be split by file: its text is cut instead,
    the first ``1 - val_fraction`` (about 90 %) for training and the rest, starting at a
    line boundary, for validation (`split_text`); both parts keep the document's name.

    Returns:
        ``(train, val)`` documents, in their original order.
    """
    if len(docs) == 1:
        head, tail = split_text(docs[0].text, val_fraction)
        return [Document(docs[0].name, head)], [Document(docs[0].name, tail)]
    flags = held_out([doc.name for doc in docs], val_fraction, salt)
    train = [doc for doc, is_val in zip(docs, flags, strict=True) if not is_val]
    val = [doc for doc, is_val in zip(docs, flags, strict=True) if is_val]
    return train, val

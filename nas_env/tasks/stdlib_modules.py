"""Examples for ``cls/stdlib-modules``: which stdlib package does a chunk of code come from?

The classes are the `NUM_CLASSES` largest top-level package folders of the standard
library, by total UTF-8 bytes of their ``*.py`` files in the pinned snapshot
(`nas_env.tasks.snapshot`, which already leaves out test suites and the data-like
packages), so they are the same on every machine. Each file is cut into consecutive chunks of
`CHUNK_LINES` non-blank lines. Files are split into training and validation per
package, by file (validation chunks come from files never seen in training), aiming at
``val_fraction`` of each package's chunks (`held_out_by_weight`), so that every class
has about the same share of held-out examples.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from nas_env.errors import ConfigError
from nas_env.tasks.corpus import Document
from nas_env.tasks.split import held_out_by_weight

NUM_CLASSES = 8
CHUNK_LINES = 8
MIN_CHUNK_LINES = 3
DATA_PACKAGES: tuple[str, ...] = ("encodings", "pydoc_data")
"""Never classes (the snapshot leaves them out too)."""

Example = tuple[str, str]


def package_of(name: str) -> str | None:
    """The top-level package folder of a relative POSIX name (None for a top-level file)."""
    parts = name.split("/")
    return parts[0] if len(parts) > 1 else None


def top_packages(docs: Sequence[Document], k: int = NUM_CLASSES) -> list[str]:
    """The ``k`` top-level package folders holding the most UTF-8 bytes of code.

    Packages in `DATA_PACKAGES` are skipped. Ties are broken by name.

    Raises:
        ConfigError: Fewer than two packages are found.
    """
    sizes: Counter[str] = Counter()
    for doc in docs:
        package = package_of(doc.name)
        if package is not None and package not in DATA_PACKAGES:
            sizes[package] += len(doc.text.encode("utf-8"))
    ranked = sorted(sizes, key=lambda name: (-sizes[name], name))[:k]
    if len(ranked) < 2:
        raise ConfigError(
            f"cls/stdlib-modules needs at least 2 package folders, found {len(ranked)}: {ranked}"
        )
    return ranked


def chunk_text(text: str, lines: int = CHUNK_LINES, min_lines: int = MIN_CHUNK_LINES) -> list[str]:
    """Consecutive chunks of ``lines`` non-blank lines (indentation kept, blank lines dropped).

    A final shorter chunk is kept when it has at least ``min_lines`` lines.
    """
    kept = [line for line in text.split("\n") if line.strip()]
    chunks = ["\n".join(kept[i : i + lines]) for i in range(0, len(kept), lines)]
    if chunks and len(kept) % lines and len(kept) % lines < min_lines:
        chunks.pop()
    return chunks


def module_examples(
    docs: Sequence[Document], val_fraction: float, k: int = NUM_CLASSES
) -> tuple[list[Example], list[Example], dict[str, list[str]]]:
    """Labelled chunks of the ``k`` largest packages, split by file within each package.

    Files that yield no chunk (fewer than `MIN_CHUNK_LINES` non-blank lines) are skipped.

    Args:
        docs: Standard-library documents (see `stdlib_documents`).
        val_fraction: Expected fraction of validation files per package.
        k: Number of classes.

    Returns:
        ``(train, val, files)``: ``(chunk, package)`` examples in file order, and the
        relative names of the files used on each side (``files["train"]``,
        ``files["val"]``).
    """
    packages = top_packages(docs, k)
    by_package: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        package = package_of(doc.name)
        if package in packages:
            by_package[package].append(doc)
    train: list[Example] = []
    val: list[Example] = []
    names: dict[str, list[str]] = {"train": [], "val": []}
    for package in packages:
        chunks = [(doc.name, chunk_text(doc.text)) for doc in by_package[package]]
        chunks = [(name, parts) for name, parts in chunks if parts]
        flags = held_out_by_weight(
            [name for name, _ in chunks], [len(parts) for _, parts in chunks], val_fraction
        )
        for (name, parts), is_val in zip(chunks, flags, strict=True):
            names["val" if is_val else "train"].append(name)
            (val if is_val else train).extend((chunk, package) for chunk in parts)
    return train, val, names

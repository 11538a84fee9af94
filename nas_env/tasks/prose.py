"""A second pinned corpus, prose rather than code: the standard library's docstrings and
comments.

``lm/stdlib-prose`` reads the pinned snapshot of `nas_env.tasks.snapshot` and keeps, per
file, only what its authors wrote in English: every docstring (module, class and
function, as `ast.get_docstring` cleans it) and every comment (the text after ``#``,
from `tokenize`), in source order, one per paragraph. Licence headers and shebangs are
comments too and stay. A file with no prose is left out. The derived text is checked
against `PROSE_SHA256`, so that the corpus is the same on every machine; an interpreter
whose `ast` or `tokenize` reads the snapshot differently is told so. Deriving it takes
about 10 s, so the result is kept in the cache folder (``prose/``), checked on every read.
"""

from __future__ import annotations

import ast
import functools
import io
import tokenize
from pathlib import Path

from nas_env.atomic import atomic_write_bytes
from nas_env.errors import ConfigError
from nas_env.tasks.corpus import Document, content_hash
from nas_env.tasks.snapshot import decode_documents, encode_documents, stdlib_documents

PROSE_SHA256 = "d03c2dc670c50bdc2ddac825150ff2617ffc270ad7be83c4dc2d3536e07c366d"
"""`content_hash` of the derived documents (595 files, 2.9 M characters; CPython 3.11)."""


def _docstrings(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            text = ast.get_docstring(node, clean=True)
            if text and node.body:
                out.append((node.body[0].lineno, text))
    return out


def _comments(source: str) -> list[tuple[int, str]]:
    out = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            if text:
                out.append((token.start[0], text))
    return out


def prose_of(source: str) -> str:
    """The docstrings and comments of one Python source, in source order.

    Consecutive comment lines form one paragraph; each docstring is its own. A source that
    does not parse gives "" (the snapshot's all do).
    """
    try:
        pieces = sorted(
            [(line, 0, text) for line, text in _docstrings(ast.parse(source))]
            + [(line, 1, text) for line, text in _comments(source)]
        )
    except (SyntaxError, tokenize.TokenError, ValueError):
        return ""
    paragraphs: list[str] = []
    last_comment = -2
    for line, kind, text in pieces:
        if kind == 1 and line == last_comment + 1 and paragraphs:
            paragraphs[-1] += " " + text
        else:
            paragraphs.append(text)
        last_comment = line if kind == 1 else -2
    return "\n\n".join(paragraphs)


def derive_prose() -> tuple[Document, ...]:
    """The prose of every snapshot file that has some, named like the file (unchecked)."""
    docs = []
    for doc in stdlib_documents():
        text = prose_of(doc.text)
        if text.strip():
            docs.append(Document(doc.name, text))
    return tuple(docs)


def _checked(docs: tuple[Document, ...]) -> tuple[Document, ...]:
    digest = content_hash(docs)
    if digest != PROSE_SHA256:
        raise ConfigError(
            f"lm/stdlib-prose: the prose derived from the pinned snapshot has SHA-256 "
            f"{digest[:16]}..., the pinned one is {PROSE_SHA256[:16]}...; this interpreter's "
            "ast or tokenize reads the snapshot differently (the corpus is pinned for "
            "CPython 3.11)"
        )
    return docs


@functools.lru_cache(maxsize=2)
def stdlib_prose_documents(cache: Path) -> tuple[Document, ...]:
    """`derive_prose`, checked against the pin and kept under ``cache/prose``.

    Raises:
        ConfigError: The derived corpus differs from the pinned one.
    """
    path = Path(cache) / "prose" / f"{PROSE_SHA256[:16]}.jsonl"
    if path.is_file():
        try:
            return _checked(decode_documents(path.read_bytes(), str(path)))
        except (ConfigError, ValueError):
            pass  # a damaged cache file is derived again
    docs = _checked(derive_prose())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, encode_documents(list(docs)))
    return docs

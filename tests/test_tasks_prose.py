"""The prose corpus: docstrings and comments of the pinned snapshot, in source order,
pinned by hash, cached, and served as an ``lm/`` task."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_env.errors import ConfigError
from nas_env.tasks import make_task, parse_task_id, prose
from nas_env.tasks.prose import prose_of, stdlib_prose_documents

SOURCE = '''"""Module docstring."""
import os  # why os

# A comment block
# that goes on.
x = 1


class A:
    """Class docstring.

    More."""

    def f(self):
        """Function docstring."""
        return "not prose"  # trailing
'''


def test_prose_is_docstrings_and_comments_in_source_order() -> None:
    assert prose_of(SOURCE) == "\n\n".join(
        [
            "Module docstring.",
            "why os",
            "A comment block that goes on.",
            "Class docstring.\n\nMore.",
            "Function docstring.",
            "trailing",
        ]
    )
    assert "import" not in prose_of(SOURCE) and "not prose" not in prose_of(SOURCE)
    assert prose_of("x = (") == "" and prose_of("x = 1\n") == ""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prose_cache")


@pytest.mark.slow  # re-derives the corpus; the default suite stays under 5 minutes
def test_the_corpus_is_pinned_cached_and_rederived_when_damaged(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = stdlib_prose_documents(cache)
    assert len(docs) == 595 and all(d.text.strip() for d in docs)
    assert [d.name for d in docs] == sorted(d.name for d in docs)
    stored = cache / "prose" / f"{prose.PROSE_SHA256[:16]}.jsonl"
    assert stored.is_file()
    derived: list[int] = []
    monkeypatch.setattr(prose, "derive_prose", lambda: derived.append(1) or docs)
    stdlib_prose_documents.cache_clear()
    assert stdlib_prose_documents(cache) == docs and not derived  # read back, checked
    stdlib_prose_documents.cache_clear()
    stored.write_text("not json\n")
    assert stdlib_prose_documents(cache) == docs and derived == [1]  # derived again...
    assert stored.read_text().startswith('["')  # ...and stored again
    stdlib_prose_documents.cache_clear()
    monkeypatch.setattr(prose, "PROSE_SHA256", "0" * 64)
    with pytest.raises(ConfigError, match="the pinned one is 0000000000000000"):
        stdlib_prose_documents(cache)
    stdlib_prose_documents.cache_clear()


@pytest.mark.slow  # builds the prose corpus and its tokenizer (9 s)
def test_it_is_a_language_modelling_task_of_its_own(cache: Path) -> None:
    assert parse_task_id("lm/stdlib-prose").name == "lm/stdlib-prose"
    task = make_task("lm/stdlib-prose", cache=cache, vocab_size=256)
    code = make_task("lm/stdlib", cache=cache, vocab_size=256)
    assert task.fingerprint != code.fingerprint
    stats = task.stats()
    assert stats["train_files"] + stats["val_files"] == 595
    assert 0 < task.baseline_loss() < 6

"""Whether stored results (a benchmark table) were measured like the running code measures.

A table is comparable with fresh evaluations only when it was built with the same
evaluator version and on the same task data: corpus, split and tokenizer, all summed up
by the task fingerprint. Anything else is refused unless the user opts in. A table that
records no fingerprint (made by a custom evaluator that has no task object) can only be
checked for its version.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas_env.errors import ConfigError
from nas_env.evaluation.evaluator import EVALUATOR_VERSION
from nas_env.tasks import make_task


def running_fingerprint(task_id: str, vocab_size: int, cache_root: str | Path | None) -> str:
    """The fingerprint that the running code computes for ``task_id`` at ``vocab_size``."""
    return make_task(task_id, cache=cache_root, vocab_size=vocab_size).fingerprint


def provenance_problems(meta: Mapping[str, Any], cache_root: str | Path | None = None) -> list[str]:
    """How the table's evaluator version and task fingerprint differ from the running ones."""
    problems = []
    version = str(meta.get("evaluator_version", ""))
    if version != EVALUATOR_VERSION:
        problems.append(
            f"it was built with evaluator version {version or '(none)'!r}, the running "
            f"evaluator is version {EVALUATOR_VERSION!r}"
        )
    stored = meta.get("task_fingerprint")
    if not stored:
        return problems
    vocab = int(meta.get("vocab_size") or meta["space"]["task"]["vocab_size"])
    current = running_fingerprint(str(meta["task"]), vocab, cache_root)
    if stored != current:
        problems.append(
            f"its task {meta['task']!r} has fingerprint {stored!r}, the running code computes "
            f"{current!r} for that task (other data, split or tokenizer)"
        )
    return problems


def check_provenance(
    meta: Mapping[str, Any],
    where: str,
    rebuild: str,
    allow_mismatch: bool = False,
    cache_root: str | Path | None = None,
) -> list[str]:
    """Refuse (or, with ``allow_mismatch``, warn about) a table measured differently.

    Args:
        meta: The table's meta data (``evaluator_version``, ``task``, ``task_fingerprint``...).
        where: The table's path, for messages.
        rebuild: The command that rebuilds the table, for messages.
        allow_mismatch: Warn instead of raising.
        cache_root: Cache folder for the task's tokenizer and tokens.

    Returns:
        The problems found (empty when the table is comparable).

    Raises:
        ConfigError: A problem was found and ``allow_mismatch`` is False.
    """
    problems = provenance_problems(meta, cache_root)
    if not problems:
        return problems
    text = f"benchmark table {where}: " + "; ".join(problems)
    if not allow_mismatch:
        raise ConfigError(
            f"{text}. Its results are not comparable with the running evaluator's. Rebuild it "
            f"({rebuild}), or pass allow_mismatch=True (env kwarg table_allow_mismatch=True) "
            "to use it anyway"
        )
    warnings.warn(f"{text}; used anyway (allow_mismatch=True)", stacklevel=3)
    return problems

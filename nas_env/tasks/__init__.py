"""Tasks that candidate models are trained and scored on.

`make_task` turns a task id (see `TASK_IDS`) into a `Task`: an `LMTask` (causal
language modelling, scored by perplexity) or a `ClsTask` (sequence classification, scored
by accuracy). What differs by kind (how a batch enters the model, the held-out loss, the
metric) is the kind's (`TaskKind`, `TASK_KINDS`), never a test of the metric's name.
Both tasks tokenise their data once with a cached BPE `Tokenizer`, sample training
batches by vectorised gathers from in-memory tensors and walk their held-out split in a
fixed order. Corpora come from the machine itself (the standard library's source) or
from the user's files; nothing is downloaded.
"""

from __future__ import annotations

from nas_env.tasks.base import Task
from nas_env.tasks.batch import Batch
from nas_env.tasks.cache import cache_dir
from nas_env.tasks.cls import ClsTask
from nas_env.tasks.corpus import stdlib_files
from nas_env.tasks.kinds import TASK_KINDS, TaskKind, kind_of_metric, task_kind
from nas_env.tasks.lm import LMTask
from nas_env.tasks.registry import TASK_IDS, make_task, parse_task_id
from nas_env.tasks.tokenizer import Tokenizer

__all__ = [
    "TASK_IDS",
    "TASK_KINDS",
    "Batch",
    "ClsTask",
    "LMTask",
    "Task",
    "TaskKind",
    "Tokenizer",
    "cache_dir",
    "kind_of_metric",
    "make_task",
    "parse_task_id",
    "stdlib_files",
    "task_kind",
]

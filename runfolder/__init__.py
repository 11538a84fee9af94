"""A run folder's format, declared once: file names, the episode record and its version.

Every writer and reader of a run folder uses this package: the agents and baselines
(`agents`), the reports (`analyze`), the replay (`nas_env.validate`) and the benchmarks. It
imports nothing of the project, so any layer may import it.

A run folder (``<log folder>/<algo>/<env>__<seed>__<time>/``) holds:

================  ===============================================================
``config.yaml``   the resolved run configuration (`CONFIG_FILE`)
``command.txt``   the command lines that made and resumed it (`COMMAND_FILE`)
``versions.json`` package versions and ``record_version`` (`VERSIONS_FILE`)
``episodes.jsonl`` one `EpisodeRecord` per env step (`EPISODES_FILE`)
``best.json``     the best result so far (`BEST_FILE`)
``pareto.json``   the quality-size-latency front so far (`PARETO_FILE`)
``final.json``    the final training's candidates and winner (`FINAL_FILE`)
``eval.json``     greedy evaluation episodes, when asked for (`EVAL_FILE`)
``model/``        the winner's trained model (`MODEL_DIR`)
``checkpoints/``  the agent, its replay buffer and ``state.json`` (`CHECKPOINTS`)
``tb/``           TensorBoard scalars (`TB_FOLDER`)
================  ===============================================================
"""

from __future__ import annotations

from runfolder.records import (
    METRIC_FIELDS,
    RECORD_FIELDS,
    RECORD_VERSION,
    EpisodeRecord,
    RecordWriter,
    read_records,
)

CONFIG_FILE = "config.yaml"
COMMAND_FILE = "command.txt"
VERSIONS_FILE = "versions.json"
EPISODES_FILE = "episodes.jsonl"
BEST_FILE = "best.json"
PARETO_FILE = "pareto.json"
FINAL_FILE = "final.json"
EVAL_FILE = "eval.json"
MODEL_DIR = "model"
TOKENIZER_FILE = "tokenizer.model"
CHECKPOINTS = "checkpoints"
MODEL_FILE = "model.zip"
REPLAY_FILE = "replay_buffer.pkl"
STATE_FILE = "state.json"
TB_FOLDER = "tb"

__all__ = [
    "BEST_FILE",
    "CHECKPOINTS",
    "COMMAND_FILE",
    "CONFIG_FILE",
    "EPISODES_FILE",
    "EVAL_FILE",
    "FINAL_FILE",
    "METRIC_FIELDS",
    "MODEL_DIR",
    "MODEL_FILE",
    "PARETO_FILE",
    "RECORD_FIELDS",
    "RECORD_VERSION",
    "REPLAY_FILE",
    "STATE_FILE",
    "TB_FOLDER",
    "TOKENIZER_FILE",
    "VERSIONS_FILE",
    "EpisodeRecord",
    "RecordWriter",
    "read_records",
]

"""The one SB3 counter with no public accessor, read in this one place.

SB3 counts the gradient updates an algorithm has made in ``_n_updates`` and logs it as
``train/n_updates``, but offers no public attribute for it. The CLI prints it at the end of
a run and keeps it in ``checkpoints/state.json``, so that one can see that an agent
learned at all. tests/test_agents_progress.py pins what this relies on: every algorithm of
`agents.algos.ALGOS` has the attribute, it counts the updates of ``learn``, and it is
saved with the model.
"""

from __future__ import annotations

from stable_baselines3.common.base_class import BaseAlgorithm

N_UPDATES = "_n_updates"


def gradient_updates(model: BaseAlgorithm) -> int:
    """The gradient updates ``model`` has made so far, in all its runs (0 before any)."""
    return int(getattr(model, N_UPDATES, 0))

"""Text and image renderings of the environment's current architecture."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def render_ansi(env: Any) -> str:
    """The genome, the last evaluation and the score as a few lines of text."""
    lines = [f"space {env.space.name}  mode {env.mode}  step {env.steps}  score {env.score:.4f}"]
    genes = env._design.genes if env.mode == "design" else dict(env.genome or {})
    for name, value in genes.items():
        shown = list(value) if isinstance(value, tuple) else value
        lines.append(f"  {name:<16}{json.dumps(shown)}")
    r = env.result
    if r is not None:
        lines.append(f"  status {r.status}{' (cached)' if r.cache_hit else ''}  source {r.source}")
        if r.ok:
            quality = (
                f"ppl {r.perplexity:.2f}" if r.perplexity is not None else (f"acc {r.accuracy:.3f}")
            )
            lines.append(
                f"  {quality}  params {r.params:,}  size {r.size_mb:.3f} MiB  "
                f"latency {r.latency_ms:.3f} ms"
            )
        elif r.message:
            lines.append(f"  {r.message[:200]}")
    return "\n".join(lines) + "\n"


def render_rgb(text: str, width: int = 640, height: int = 360) -> np.ndarray:
    """``text`` drawn in monospace on a white ``(height, width, 3)`` uint8 image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    figure.text(0.01, 0.98, text, family="monospace", fontsize=8, va="top")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()

"""The Gymnasium environment and its parts (observation encoding, design decisions)."""

from __future__ import annotations

from nas_env.env.core import NASEnv
from nas_env.env.observation import ObservationEncoder

__all__ = ["NASEnv", "ObservationEncoder"]

"""Latency per device: a stable measurement protocol, a closed-form latency model over a
genome's analytic counts, and profiles that ship it (`nas_env.latency.profile`)."""

from nas_env.latency.model import FEATURES, features, fit, predict
from nas_env.latency.profile import PROTOCOL, Profile, default_path, load_profile

__all__ = [
    "FEATURES",
    "PROTOCOL",
    "Profile",
    "default_path",
    "features",
    "fit",
    "load_profile",
    "predict",
]

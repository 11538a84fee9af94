"""Token mixers, one per layer (the ``mixer`` gene): builder and analytic counts.

| mixer | module | what mixes the tokens |
| --- | --- | --- |
| ``attention`` | `models.attention.SelfAttention` | softmax attention (MHA / GQA / MQA) |
| ``linear`` | `models.linear_attention.LinearAttention` | kernel ``elu + 1``, running sums |
| ``retention`` | `models.retention.Retention` | per-head decays (RetNet) |
| ``mamba`` | `models.ssm.SelectiveSSM` | selective state-space scan (Mamba) |

Every mixer maps ``(B, T, C) -> (B, T, C)``, takes ``key_mask`` (attention only uses it)
and names the matrix that writes into the residual stream (``residual_projection``), so a
block holds any of them. Each module file holds its own counts.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from models.attention import (
    SelfAttention,
    attention_context_flops,
    attention_params,
    attention_weights,
)
from models.config import BlockConfig
from models.linear_attention import (
    LinearAttention,
    linear_attention_context_flops,
    linear_attention_params,
    linear_attention_weights,
)
from models.retention import (
    Retention,
    retention_context_flops,
    retention_params,
    retention_weights,
)
from models.ssm import SelectiveSSM, ssm_context_flops, ssm_params, ssm_weights

Count = Callable[[BlockConfig], int]

_MIXERS: dict[str, tuple[type[nn.Module], Count, Count, Count]] = {
    "attention": (SelfAttention, attention_params, attention_weights, attention_context_flops),
    "linear": (
        LinearAttention,
        linear_attention_params,
        linear_attention_weights,
        linear_attention_context_flops,
    ),
    "retention": (Retention, retention_params, retention_weights, retention_context_flops),
    "mamba": (SelectiveSSM, ssm_params, ssm_weights, ssm_context_flops),
}
"""mixer -> (module, parameters, weights per token, other FLOPs per token)."""


def make_mixer(config: BlockConfig) -> nn.Module:
    """Builds the token mixer ``config.mixer`` names."""
    return _MIXERS[config.mixer][0](config)


def mixer_params(config: BlockConfig) -> int:
    """Parameters of ``make_mixer(config)``."""
    return _MIXERS[config.mixer][1](config)


def mixer_weights(config: BlockConfig) -> int:
    """Weights the mixer multiplies per token (counted as ``2`` FLOPs each)."""
    return _MIXERS[config.mixer][2](config)


def mixer_context_flops(config: BlockConfig) -> int:
    """The mixer's other FLOPs per token: attention over the context, or the scan."""
    return _MIXERS[config.mixer][3](config)


def residual_projection(mixer: nn.Module) -> nn.Linear:
    """The matrix of ``mixer`` that writes into the residual stream."""
    return mixer.residual_projection()  # type: ignore[operator,no-any-return]

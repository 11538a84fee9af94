"""Model config dataclasses of the Transformer and RNN families (the genome -> config
translation is `models.families`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from models.checks import check_bool, check_choice, check_int, check_real
from models.errors import ModelConfigError
from models.genes import check_gene_choice, gene_where, per_layer
from models.norms import GROUPS
from models.spec import TaskSpec

CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "transformer": {
        "mixer": ("attention", "linear", "retention", "mamba"),
        "precision": ("fp32", "int8", "int4"),
        "norm": ("layernorm", "rmsnorm", "groupnorm"),
        "norm_position": ("pre", "post"),
        "activation": ("relu", "gelu", "silu", "swiglu", "geglu"),
        "position": ("learned", "sinusoidal", "rope", "alibi"),
        "pooling": ("mean", "first", "attention"),
    },
    "rnn": {
        "cell": ("lstm", "gru", "vanilla"),
        "pooling": ("last", "mean", "attention"),
    },
}
"""The values of each categorical gene (each implemented by the module that builds it:
`models.mixers`, `models.norms`, `models.transformer`, `models.ffn`, `models.positions`,
`models.pooling`, `models.rnn`; a family of its own module keeps its own, as
`models.dendritic` does)."""

LM_ONLY_MIXERS: tuple[str, ...] = ("linear", "retention", "mamba")
"""Mixers built causal only (running sums, decays, scans): language models only."""


def _choice(family: str, gene: str, value: Any) -> str:
    """A categorical gene's value, checked against `CHOICES`."""
    return check_gene_choice(family, gene, value, CHOICES[family][gene])


@dataclass(frozen=True)
class BlockConfig:
    """Resolved settings of one transformer block (derived from :class:`TransformerConfig`)."""

    d_model: int
    n_head: int
    ffn_hidden: int
    norm: str
    norm_position: str
    activation: str
    position: str
    bias: bool
    dropout: float
    causal: bool
    seq_len: int
    mixer: str = "attention"
    kv_heads: int | None = None
    attn_head_dim: int | None = None

    @property
    def head_dim(self) -> int:
        """Width of one attention head: ``attn_head_dim``, else ``d_model / n_head``."""
        return self.attn_head_dim or self.d_model // self.n_head

    @property
    def inner(self) -> int:
        """Width of all query heads together (``d_model`` unless heads were pruned)."""
        return self.n_head * self.head_dim

    @property
    def n_kv_head(self) -> int:
        """Key/value heads: ``kv_heads``, or one per query head when it is None."""
        return self.n_head if self.kv_heads is None else self.kv_heads


@dataclass(frozen=True)
class TransformerConfig:
    """Transformer architecture plus the task it is built for.

    Per-layer genes (``mixer``, ``heads``, ``kv_heads``, ``ffn_ratio``) accept a scalar or
    one value per layer and are stored as tuples of length ``layers`` after construction.
    ``mixer`` picks each layer's token mixer (`models.mixers`); ``kv_heads`` the key/value
    heads of an attention layer (None: one per query head, multi-head attention; fewer:
    grouped-query; 1: multi-query), a divisor of that layer's ``heads``, ignored by the
    other mixers. ``tied_embeddings`` only applies to ``"lm"`` (a classifier has no LM head
    to tie); ``pooling`` only applies to ``"cls"``. ``precision`` and ``prune`` say how the
    trained model is deployed (`nas_env.compression`: the precision it runs at, the share of
    FFN channels and attention heads pruned before a recovery fine-tune); `models.build_model`
    builds the model that trains, `models.pruning.deployed_config` the one that is deployed.
    ``head_dim`` (None: ``d_model / heads``) sets an attention layer's head width apart
    from ``d_model``, which is what a model with pruned heads has.
    """

    task: TaskSpec
    layers: int = 2
    d_model: int = 64
    heads: int | tuple[int, ...] = 2
    ffn_ratio: float | tuple[float, ...] = 4.0
    norm: str = "layernorm"
    norm_position: str = "pre"
    activation: str = "gelu"
    position: str = "learned"
    bias: bool = True
    tied_embeddings: bool = True
    pooling: str = "mean"
    dropout: float = 0.0
    mixer: str | tuple[str, ...] = "attention"
    kv_heads: int | tuple[int | None, ...] | None = None
    precision: str = "fp32"
    prune: float = 0.0
    head_dim: int | tuple[int | None, ...] | None = None

    family: ClassVar[str] = "transformer"

    def __post_init__(self) -> None:
        fam = self.family
        if not isinstance(self.task, TaskSpec):
            raise ModelConfigError(
                f"TransformerConfig.task={self.task!r} is invalid; allowed: a TaskSpec"
            )
        if self.task.reads_frames:
            raise ModelConfigError(
                f"the transformer family reads token ids; task kind {self.task.kind!r} (real-"
                "valued frames) is invalid (allowed: tasks of token ids; frames: rnn, assembly)"
            )
        layers = check_int(self.layers, gene_where(fam, "layers"))
        d_model = check_int(self.d_model, gene_where(fam, "d_model"))

        free_width = self.head_dim is not None

        def check_heads(value: Any, index: int | None) -> int:
            where = gene_where(fam, "heads", index)
            n_head = check_int(value, where)
            if free_width:
                return n_head
            divisors = [k for k in range(1, d_model + 1) if d_model % k == 0]
            if d_model % n_head != 0:
                raise ModelConfigError(
                    f"{where}={n_head} does not divide d_model={d_model}; "
                    f"allowed: a divisor of d_model, one of {divisors}"
                )
            if self.position == "rope" and (d_model // n_head) % 2 != 0:
                even = [k for k in divisors if (d_model // k) % 2 == 0]
                raise ModelConfigError(
                    f"{where}={n_head} gives head_dim={d_model // n_head}, which is odd, but "
                    f"position='rope' rotates channel pairs; allowed: heads with an even "
                    f"d_model / heads, one of {even}"
                )
            return n_head

        def check_ratio(value: Any, index: int | None) -> float:
            where = gene_where(fam, "ffn_ratio", index)
            ratio = check_real(value, where, 0.0, low_inclusive=False)
            if round(ratio * d_model) < 1:
                raise ModelConfigError(
                    f"{where}={ratio!r} gives an FFN width of "
                    f"round({ratio} * {d_model}) = 0; allowed: a ratio with "
                    "round(ratio * d_model) >= 1"
                )
            return ratio

        def check_mixer(value: Any, index: int | None) -> str:
            mixer = check_choice(value, gene_where(fam, "mixer", index), CHOICES[fam]["mixer"])
            if mixer in LM_ONLY_MIXERS and not self.task.is_lm:
                raise ModelConfigError(
                    f"{gene_where(fam, 'mixer', index)}={mixer!r} is causal only and the task "
                    f"kind is {self.task.kind!r}; allowed for classifiers: 'attention'"
                )
            return str(mixer)

        values = {
            "layers": layers,
            "d_model": d_model,
            "norm": _choice(fam, "norm", self.norm),
            "norm_position": _choice(fam, "norm_position", self.norm_position),
            "activation": _choice(fam, "activation", self.activation),
            "position": _choice(fam, "position", self.position),
            "bias": check_bool(self.bias, gene_where(fam, "bias")),
            "tied_embeddings": check_bool(self.tied_embeddings, gene_where(fam, "tied_embeddings")),
            "pooling": _choice(fam, "pooling", self.pooling),
            "dropout": check_real(self.dropout, gene_where(fam, "dropout"), 0.0, 1.0),
            "precision": _choice(fam, "precision", self.precision),
            "prune": check_real(self.prune, gene_where(fam, "prune"), 0.0, 0.9),
        }
        values["heads"] = per_layer("heads", self.heads, fam, layers, check_heads)
        values["ffn_ratio"] = per_layer("ffn_ratio", self.ffn_ratio, fam, layers, check_ratio)
        values["mixer"] = per_layer("mixer", self.mixer, fam, layers, check_mixer)
        heads = values["heads"]

        def check_kv(value: Any, index: int | None) -> int | None:
            if value is None:
                return None
            where = gene_where(fam, "kv_heads", index)
            kv = check_int(value, where)
            for i in range(layers) if index is None else (index,):
                if heads[i] % kv != 0:  # type: ignore[index]
                    allowed = [k for k in range(1, heads[i] + 1) if heads[i] % k == 0]  # type: ignore[index]
                    raise ModelConfigError(
                        f"{where}={kv} does not divide heads={heads[i]} of layer {i}; "  # type: ignore[index]
                        f"allowed: a divisor of heads, one of {allowed}"
                    )
            return kv

        values["kv_heads"] = per_layer("kv_heads", self.kv_heads, fam, layers, check_kv)

        def check_head_dim(value: Any, index: int | None) -> int | None:
            if value is None:
                return None
            where = gene_where(fam, "head_dim", index)
            width = check_int(value, where)
            if self.position == "rope" and width % 2 != 0:
                raise ModelConfigError(
                    f"{where}={width} is odd, but position='rope' rotates channel pairs; "
                    "allowed: an even head width"
                )
            return width

        values["head_dim"] = per_layer("head_dim", self.head_dim, fam, layers, check_head_dim)
        if self.norm == "groupnorm" and d_model % GROUPS != 0:
            raise ModelConfigError(
                f"{gene_where(fam, 'norm')}='groupnorm' splits d_model into {GROUPS} groups "
                f"but d_model={d_model}; allowed: a d_model divisible by {GROUPS}, or "
                "'layernorm' / 'rmsnorm'"
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def ffn_hidden(self) -> tuple[int, ...]:
        """FFN hidden width of every layer: ``round(ffn_ratio_i * d_model)``."""
        return tuple(round(r * self.d_model) for r in self.ffn_ratio)  # type: ignore[union-attr]

    @property
    def final_norm(self) -> bool:
        """Whether the stack ends with a norm (pre-norm only)."""
        return self.norm_position == "pre"

    def block(self, i: int) -> BlockConfig:
        """Returns the resolved settings of block ``i``."""
        return BlockConfig(
            d_model=self.d_model,
            n_head=self.heads[i],  # type: ignore[index]
            ffn_hidden=self.ffn_hidden[i],
            norm=self.norm,
            norm_position=self.norm_position,
            activation=self.activation,
            position=self.position,
            bias=self.bias,
            dropout=self.dropout,
            causal=self.task.is_lm,
            seq_len=self.task.seq_len,
            mixer=self.mixer[i],  # type: ignore[index]
            kv_heads=self.kv_heads[i],  # type: ignore[index]
            attn_head_dim=self.head_dim[i],  # type: ignore[index]
        )

    def to_genes(self) -> dict[str, Any]:
        """Returns the genes as a plain dict (per-layer genes as lists)."""
        return _genes_of(self)


@dataclass(frozen=True)
class RNNConfig:
    """Recurrent architecture plus the task it is built for.

    ``bidirectional`` is rejected for ``"lm"`` (a causal LM cannot look ahead);
    ``pooling`` only applies to ``"cls"``. ``dropout`` acts between recurrent layers.
    """

    task: TaskSpec
    cell: str = "lstm"
    layers: int = 1
    embed_dim: int = 64
    hidden_size: int = 64
    bidirectional: bool = False
    cell_norm: bool = False
    pooling: str = "last"
    dropout: float = 0.0

    family: ClassVar[str] = "rnn"

    def __post_init__(self) -> None:
        fam = self.family
        if not isinstance(self.task, TaskSpec):
            raise ModelConfigError(f"RNNConfig.task={self.task!r} is invalid; allowed: a TaskSpec")
        values = {
            "cell": _choice(fam, "cell", self.cell),
            "layers": check_int(self.layers, gene_where(fam, "layers")),
            "embed_dim": check_int(self.embed_dim, gene_where(fam, "embed_dim")),
            "hidden_size": check_int(self.hidden_size, gene_where(fam, "hidden_size")),
            "bidirectional": check_bool(self.bidirectional, gene_where(fam, "bidirectional")),
            "cell_norm": check_bool(self.cell_norm, gene_where(fam, "cell_norm")),
            "pooling": _choice(fam, "pooling", self.pooling),
            "dropout": check_real(self.dropout, gene_where(fam, "dropout"), 0.0, 1.0),
        }
        if values["bidirectional"] and self.task.is_lm:
            raise ModelConfigError(
                "rnn gene 'bidirectional'=True is invalid for task kind 'lm': a causal "
                "language model cannot look ahead; allowed: False"
            )
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def num_directions(self) -> int:
        """2 if bidirectional else 1."""
        return 2 if self.bidirectional else 1

    @property
    def out_dim(self) -> int:
        """Width of the top layer's output (``hidden_size * num_directions``)."""
        return self.hidden_size * self.num_directions

    def to_genes(self) -> dict[str, Any]:
        """Returns the genes as a plain dict."""
        return _genes_of(self)


def _genes_of(config: TransformerConfig | RNNConfig) -> dict[str, Any]:
    """Returns a config's genes as a plain dict with tuples turned into lists."""
    genes = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "task"}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in genes.items()}

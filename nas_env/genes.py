"""Genes: the named, discrete decisions a search space is made of.

A gene is *ordinal* when its choices are ordered numbers (``layers``, ``d_model``,
``heads``...), so that "one step up" and "one step down" are meaningful edits, or
*categorical* when its choices are unordered (``norm``, ``activation``, booleans...).
A *per-layer* gene takes one value per active layer (heterogeneous "block sizes").
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nas_env.checks import check_keys, describe, expect_choice, expect_mapping, is_real
from nas_env.errors import ConfigError

GeneKind = Literal["ordinal", "categorical"]
GENE_KINDS: tuple[str, ...] = ("ordinal", "categorical")
Scalar = int | float | str | bool


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from the integers 0 and 1."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def format_value(value: Any) -> str:
    """Render a gene value the way it appears in action names (``true``, ``2``, ``rope``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Gene:
    """One named decision of a search space.

    Attributes:
        name: Gene name understood by the model builders (``layers``, ``norm``...).
        kind: ``"ordinal"`` (ordered numeric choices) or ``"categorical"``.
        choices: Allowed values; for ordinal genes strictly increasing numbers.
        default: The value used by the space's default genome.
        per_layer: When true the gene holds one value per active layer.
        description: Free text shown in docs and renders.
    """

    name: str
    kind: GeneKind
    choices: tuple[Scalar, ...]
    default: Scalar
    per_layer: bool = False
    description: str = ""

    @functools.cached_property
    def _positions(self) -> dict[Any, int]:
        return {choice: i for i, choice in enumerate(self.choices)}

    @property
    def searchable(self) -> bool:
        """True when the gene has more than one choice (a single choice is a fixed setting)."""
        return len(self.choices) > 1

    def index(self, value: Any) -> int:
        """Return the position of ``value`` among the choices.

        Raises:
            ValueError: ``value`` is not one of the choices.
        """
        try:
            i = self._positions.get(value)
        except TypeError:  # an unhashable value is no choice
            i = None
        if i is not None and same_value(self.choices[i], value):
            return i
        for i, choice in enumerate(self.choices):
            if same_value(choice, value):
                return i
        raise ValueError(
            f"gene {self.name!r}: {describe(value)} is not one of its choices "
            f"{describe(list(self.choices))}"
        )

    def contains(self, value: Any) -> bool:
        """True when ``value`` is one of the choices."""
        return any(same_value(choice, value) for choice in self.choices)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, as written in a space YAML file."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "choices": list(self.choices),
            "default": self.default,
        }
        if self.per_layer:
            data["per_layer"] = True
        if self.description:
            data["description"] = self.description
        return data


def _parse_choices(raw: Any, where: str) -> tuple[Scalar, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) == 0:
        raise ConfigError(f"{where}: expected a non-empty list of values, got {describe(raw)}")
    for value in raw:
        if not isinstance(value, int | float | str | bool):
            raise ConfigError(
                f"{where}: choices must be numbers, strings or booleans, got {describe(value)}"
            )
    for i, value in enumerate(raw):
        if any(same_value(value, other) for other in raw[:i]):
            raise ConfigError(f"{where}: duplicate choice {describe(value)}")
    return tuple(raw)


def parse_gene(name: str, raw: Any, where: str) -> Gene:
    """Build a `Gene` from its YAML form.

    Two forms are accepted: a full mapping ``{kind, choices, default, per_layer,
    description}`` or a bare list of choices (kind inferred: ordinal for numbers,
    categorical otherwise; default = first choice).

    Args:
        name: The gene's name.
        raw: The YAML value.
        where: Location prefix for error messages.

    Raises:
        ConfigError: The field, the bad value and what is allowed.
    """
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        raw = {"choices": list(raw)}
    spec = expect_mapping(raw, where)
    check_keys(spec, where, ["choices"], ["kind", "default", "per_layer", "description"])
    choices = _parse_choices(spec["choices"], f"{where}.choices")
    numeric = all(is_real(c) for c in choices)
    kind = spec.get("kind", "ordinal" if numeric else "categorical")
    expect_choice(kind, f"{where}.kind", GENE_KINDS)
    if kind == "ordinal":
        if not numeric:
            raise ConfigError(
                f"{where}.choices: an ordinal gene needs numeric choices, got "
                f"{describe(list(choices))}; use kind: categorical for unordered values"
            )
        if any(b <= a for a, b in itertools.pairwise(choices)):
            raise ConfigError(
                f"{where}.choices: ordinal choices must be strictly increasing, "
                f"got {describe(list(choices))}"
            )
    default = spec.get("default", choices[0])
    if not any(same_value(default, c) for c in choices):
        raise ConfigError(
            f"{where}.default: {describe(default)} is not one of the choices "
            f"{describe(list(choices))}"
        )
    per_layer = spec.get("per_layer", False)
    if not isinstance(per_layer, bool):
        raise ConfigError(f"{where}.per_layer: expected true or false, got {describe(per_layer)}")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}.description: expected text, got {describe(description)}")
    return Gene(name, kind, choices, default, per_layer, description)


def parse_genes(raw: Any, where: str) -> tuple[Gene, ...]:
    """Parse the ``genes:`` mapping of a space file, keeping the file's order."""
    mapping: Mapping[str, Any] = expect_mapping(raw, where)
    if not mapping:
        raise ConfigError(f"{where}: a search space needs at least one gene")
    return tuple(parse_gene(name, spec, f"{where}.{name}") for name, spec in mapping.items())

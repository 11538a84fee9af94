"""Named edit actions over a search space.

Actions are generated from the genes, in space order:

- ordinal gene ``g``: ``g+1`` and ``g-1`` (one step up or down its choices);
- categorical gene ``g``: ``g=value`` for every choice (``norm=rmsnorm``, ``bias=false``);
- per-layer gene ``g``: the same per layer index, ``g[0]+1``, ``g[3]=relu``...,
  for every layer up to the space's maximum (edits of inactive layers are masked);
- ``stop``: ends an edit episode; always allowed, leaves the genome unchanged.

Genes with a single choice are fixed settings and get no actions. Changing
``layers`` appends copies of the last layer's per-layer values, or drops the last
layers. `EditActions.apply` refuses every edit that `EditActions.mask` hides: a
no-op, a step past the end of the choices, an inactive layer, or a result that
breaks a constraint of the space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from nas_env.checks import suggest
from nas_env.errors import InvalidActionError
from nas_env.genes import Gene, format_value, same_value
from nas_env.genome import GeneSpace, Genome

STOP = "stop"
ActionOp = Literal["inc", "dec", "set", "stop"]


@dataclass(frozen=True)
class Action:
    """One named edit.

    Attributes:
        name: Display name, e.g. ``layers+1``, ``heads[2]-1``, ``norm=rmsnorm``, ``stop``.
        op: ``inc``, ``dec``, ``set`` or ``stop``.
        gene: Gene edited (None for ``stop``).
        layer: Layer index for per-layer genes, else None.
        value: New value for ``set``.
    """

    name: str
    op: ActionOp
    gene: str | None = None
    layer: int | None = None
    value: Any = None


def _gene_actions(gene: Gene, max_layers: int) -> list[Action]:
    layers: list[int | None] = list(range(max_layers)) if gene.per_layer else [None]
    actions = []
    for layer in layers:
        label = gene.name if layer is None else f"{gene.name}[{layer}]"
        if gene.kind == "ordinal":
            actions.append(Action(f"{label}+1", "inc", gene.name, layer))
            actions.append(Action(f"{label}-1", "dec", gene.name, layer))
        else:
            actions += [
                Action(f"{label}={format_value(v)}", "set", gene.name, layer, v)
                for v in gene.choices
            ]
    return actions


class EditActions:
    """The discrete action set of a space: names, application and masks.

    Args:
        space: The search space the actions edit (a `nas_env.space.SearchSpace`).
    """

    def __init__(self, space: GeneSpace) -> None:
        self.space = space
        actions: list[Action] = []
        for gene in space.genes:
            if gene.searchable:
                actions += _gene_actions(gene, space.max_layers)
        actions.append(Action(STOP, "stop"))
        self.actions: tuple[Action, ...] = tuple(actions)
        self.names: tuple[str, ...] = tuple(a.name for a in actions)
        self._index = {name: i for i, name in enumerate(self.names)}
        self._mask_cache: dict[Genome, np.ndarray] = {}
        self._apply_cache: dict[tuple[Genome, str], tuple[Genome | None, str]] = {}
        self._table: Any = None  # a MaskTable once built; False: the space has none

    def _mask_table(self) -> Any:
        """The space's `nas_env.mask_table.MaskTable` (built on first use), or None."""
        if self._table is None:
            from nas_env.mask_table import MaskTable, tabulable

            space: Any = self.space
            self._table = MaskTable(space, self.actions) if tabulable(space) else False
        return self._table or None

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def stop_index(self) -> int:
        """Index of the ``stop`` action."""
        return self._index[STOP]

    def index(self, name: str) -> int:
        """Action index of ``name``.

        Raises:
            KeyError: Unknown name, with the closest matches.
        """
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(
                f"unknown action {name!r}{suggest(name, self.names)} in space "
                f"{self.space.name!r}; {len(self.names)} actions, e.g. {', '.join(self.names[:6])}"
            ) from None

    def resolve(self, action: int | str | Action | np.integer) -> Action:
        """Turn an index, a name or an `Action` into an `Action`."""
        if isinstance(action, Action):
            return action
        if isinstance(action, str):
            return self.actions[self.index(action)]
        index = int(action)
        if not 0 <= index < len(self.actions):
            raise InvalidActionError(
                f"action index {index} is out of range; allowed 0..{len(self.actions) - 1}"
            )
        return self.actions[index]

    def _edit(self, genome: Genome, action: Action) -> Genome:
        """Apply ``action`` without checking constraints; raise on no-ops and range errors."""
        gene = self.space.gene(action.gene or "")
        current = genome[gene.name]
        if action.layer is not None:
            if action.layer >= len(current):
                raise InvalidActionError(
                    f"{action.name}: layer {action.layer} is inactive "
                    f"(the genome has {len(current)} layers)"
                )
            current = current[action.layer]
        position = gene.index(current)
        if action.op == "set":
            if same_value(current, action.value):
                raise InvalidActionError(
                    f"{action.name}: no-op, {gene.name} is already {format_value(current)}"
                )
            new = action.value
        else:
            target = position + (1 if action.op == "inc" else -1)
            if not 0 <= target < len(gene.choices):
                end = "maximum" if action.op == "inc" else "minimum"
                raise InvalidActionError(
                    f"{action.name}: {gene.name} is already at its {end} {format_value(current)} "
                    f"(choices {list(gene.choices)})"
                )
            new = gene.choices[target]
        if action.layer is not None:
            values = list(genome[gene.name])
            values[action.layer] = new
            return genome.replace(**{gene.name: tuple(values)})
        if gene.name == "layers":
            return self._resize(genome, int(new))
        return genome.replace(**{gene.name: new})

    def _resize(self, genome: Genome, layers: int) -> Genome:
        changes: dict[str, Any] = {"layers": layers}
        for gene in self.space.genes:
            if gene.per_layer:
                values = tuple(genome[gene.name])
                if layers <= len(values):
                    changes[gene.name] = values[:layers]
                else:
                    changes[gene.name] = values + (values[-1],) * (layers - len(values))
        return genome.replace(**changes)

    def try_apply(
        self, genome: Genome, action: int | str | Action | np.integer
    ) -> tuple[Genome | None, str]:
        """Apply an action; return ``(new_genome, "")`` or ``(None, reason)``.

        Outcomes are memoised per (genome, action index): genomes are immutable, and a
        search revisits the same neighbourhoods again and again.
        """
        act = self.resolve(action)
        memo_key = (genome, act.name)
        found = self._apply_cache.get(memo_key)
        if found is None:
            if len(self._apply_cache) >= 500_000:
                self._apply_cache.clear()
            found = self._apply_cache[memo_key] = self._try_apply(genome, act)
        return found

    def _try_apply(self, genome: Genome, act: Action) -> tuple[Genome | None, str]:
        if act.op == "stop":
            return genome, ""
        try:
            new = self._edit(genome, act)
        except InvalidActionError as exc:
            return None, str(exc)
        table = self._mask_table()
        if table is not None and table.moved(genome, self._index[act.name], new):
            return new, ""
        reasons = self.space.check(new)
        if reasons:
            return None, f"{act.name}: the result is invalid: {'; '.join(reasons)}"
        return new, ""

    def apply(self, genome: Genome, action: int | str | Action | np.integer) -> Genome:
        """Return the genome edited by ``action`` (``stop`` returns it unchanged).

        Raises:
            InvalidActionError: The action is masked for this genome; the message says why.
        """
        new, reason = self.try_apply(genome, action)
        if new is None:
            raise InvalidActionError(reason)
        return new

    def mask(self, genome: Genome) -> np.ndarray:
        """Boolean vector, True where `apply` would succeed (``stop`` is always True)."""
        table = self._mask_table()
        if table is not None:
            found = table.mask(genome)
            if found is not None:
                return found
        cached = self._mask_cache.get(genome)
        if cached is None:
            cached = np.array(
                [self.try_apply(genome, i)[0] is not None for i in range(len(self.actions))],
                dtype=bool,
            )
            if len(self._mask_cache) >= 100_000:
                self._mask_cache.clear()
            self._mask_cache[genome] = cached
        return cached.copy()

"""Named baselines: well-known designs (GPT-2-like, LLaMA-like, ultra-small, ...) written as
genomes of the spaces, in ``config/baselines.yaml``.

A search can start from one (``env.reset(options={"genome": "llama-like"})``) and an
answer can be compared with them::

    python -m nas_env.baselines --space modern                  # sizes and FLOPs
    python -m nas_env.baselines --space modern --fidelity fast  # trained at a fidelity
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from config import CONFIG_DIR
from nas_env.checks import describe, expect_mapping, load_data_file, suggest
from nas_env.errors import ConfigError
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.training_genes import model_genes

BASELINES_FILE = CONFIG_DIR / "baselines.yaml"


def _genes(space: SearchSpace, given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The space's default genome with ``given`` laid over it (scalars of per-layer genes
    repeated over the layers, per-layer defaults over a new layer count)."""
    genes = dict(space.default_genome())
    unknown = sorted(set(given) - set(space.gene_names))
    if unknown:
        raise ConfigError(
            f"{where}: unknown genes {unknown} for space {space.name!r}; allowed: "
            f"{', '.join(space.gene_names)}"
        )
    layers = int(given.get("layers", genes.get("layers", 1)))
    genes.update({k: v for k, v in given.items() if k == "layers"})
    for gene in space.genes:
        value = given.get(gene.name, genes[gene.name])
        if gene.per_layer:
            if gene.name not in given and len(genes[gene.name]) != layers:
                value = gene.default
            value = tuple(value) if isinstance(value, (list, tuple)) else (value,) * layers
        genes[gene.name] = value
    return genes


def baseline_genomes(space: SearchSpace) -> dict[str, Genome]:
    """The named baselines of ``space`` (empty when the file names none), each valid.

    Raises:
        ConfigError: An entry names an unknown gene or is not a valid genome of the space
            (the message names the file, the entry and every reason).
    """
    data = expect_mapping(load_data_file(BASELINES_FILE), str(BASELINES_FILE))
    entries = data.get(space.name) or {}
    entries = expect_mapping(entries, f"{BASELINES_FILE}: {space.name}")
    out = {}
    for name, given in entries.items():
        where = f"{BASELINES_FILE}: {space.name}.{name}"
        genome = Genome(space.name, _genes(space, expect_mapping(given, where), where))
        reasons = space.check(genome)
        if reasons:
            raise ConfigError(
                f"{where}: not a valid genome of space {space.name!r}: {'; '.join(reasons)}"
            )
        out[str(name)] = genome
    return out


def baseline_genome(space: SearchSpace, name: str) -> Genome:
    """The baseline called ``name`` of ``space``.

    Raises:
        ConfigError: ``name`` is not one of the space's baselines (lists them).
    """
    found = baseline_genomes(space)
    if name not in found:
        allowed = ", ".join(found) or "none for this space"
        raise ConfigError(
            f"genome {describe(name)}: not a named baseline of space {space.name!r}"
            f"{suggest(name, found)}; allowed: {allowed} ({BASELINES_FILE})"
        )
    return found[name]


def describe_baselines(space: SearchSpace, fidelity: str | None, task: str | None) -> str:
    """A table of the space's baselines: size and FLOPs, and with ``fidelity`` their
    trained quality (one real training each)."""
    from models import count_params, flops_per_token

    genomes = baseline_genomes(space)
    head = "| baseline | params | MiB (fp32) | MFLOP/token |"
    rule = "| --- | --: | --: | --: |"
    evaluator = None
    if fidelity is not None:
        from nas_env.evaluation import Evaluator

        evaluator = Evaluator(space, fidelity=fidelity, **({"task": task} if task else {}))
        head += " val loss | perplexity | latency ms |"
        rule += " --: | --: | --: |"
    lines = [head, rule]
    for name, genome in genomes.items():
        params = count_params(model_genes(genome, space.family), space.task)
        flops = flops_per_token(model_genes(genome, space.family), space.task)
        row = f"| {name} | {params:,} | {params * 4 / 2**20:.2f} | {flops / 1e6:.2f} |"
        if evaluator is not None:
            r = evaluator.evaluate(genome)
            if r.ok:
                row += f" {r.val_loss:.4f} | {r.quality:.2f} | {r.latency_ms:.3f} |"
            else:
                row += f" {r.status}: {r.message} | | |"
        lines.append(row)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print a space's named baselines (exit 2 on a bad argument)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", required=True, help="space preset or file")
    parser.add_argument("--fidelity", default=None, help="train each at this fidelity")
    parser.add_argument("--task", default=None, help="task id (default: the space's)")
    args = parser.parse_args(argv)
    try:
        print(describe_baselines(SearchSpace.load(args.space), args.fidelity, args.task))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

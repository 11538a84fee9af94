"""Every option of every gene trains: no choice is silently broken.

The default genome of each space, varied one gene at a time over every choice, is trained
at a cheap fidelity and must beat the task's context-free predictor (unigram tokens for
LM, class priors for classification: ``EvalResult.baseline_loss``) by a clear margin.
The sinusoidal table once swamped the token embeddings and stayed at the unigram level
while its siblings learned; this is the test that catches such a bug. Trains ~30 small
models per space, so it runs in the slow stage; the scale check of the fix runs always.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from models import TaskSpec, build_model, model_config
from nas_env.evaluation import Evaluator, TrainSettings
from nas_env.genome import Genome
from nas_env.space import SearchSpace
from nas_env.training_genes import TRAINING_GENES

MARGIN: dict[str, float] = {
    "tiny": 0.25, "modern": 0.25, "cls": 0.25, "rnn": 0.05, "dendritic": 0.5, "vowels": 0.5,
    "rnn-lm": 0.25, "assembly": 0.5, "rnn-lm-char": 0.25,
}  # fmt: skip
"""Nats per token (or example) below the baseline every option must reach. Recurrent
classifiers learn slowest, and deep LSTMs least reproducibly across processors: at the
budget below, 2- and 3-layer LSTMs reached 0.27 and 0.25 nats below the class prior's
2.02 on one machine and 0.07 and 0.13 on CI's (other float rounding in the kernels). A
broken option stays at the prior (about 0 below it), so the rnn bar is 0.05. Dendritic
networks on digits: the default genome ends 2.1 nats below the prior's 2.30, the weakest
variation (`soma_disabled` with 4 dendrites: four features) 1.08 below."""

CHEAP: dict[str, dict[str, Any] | str] = {
    "tiny": {"steps": 300, "batch_size": 8, "lr": 5e-3, "warmup_steps": 30, "eval_tokens": 4096},
    "modern": {"steps": 300, "batch_size": 8, "lr": 5e-3, "warmup_steps": 30, "eval_tokens": 4096},
    "cls": {"steps": 150, "batch_size": 16, "lr": 3e-3, "warmup_steps": 15, "eval_tokens": 16384},
    "rnn": {"steps": 300, "batch_size": 16, "lr": 5e-3, "warmup_steps": 30, "eval_tokens": 16384},
    "dendritic": "fast-img",
    "vowels": "fast-series",
    "assembly": "fast-series",
    # recurrent LMs leave the unigram plateau late: at 300 steps stacked LSTMs and vanilla
    # cells are still on it (4.99 against the unigram's 4.99), at 800 they are 0.7-1.2 below
    "rnn-lm": {"steps": 800, "batch_size": 8, "lr": 5e-3, "warmup_steps": 30, "eval_tokens": 4096},
}
CHEAP["rnn-lm-char"] = CHEAP["rnn-lm"]  # the same recipe, at character level
TASKS = {
    "tiny": "lm/stdlib",
    "modern": "lm/stdlib",
    "cls": "cls/stdlib-modules",
    "rnn": "cls/stdlib-modules",
    "dendritic": "image/digits",
    "vowels": "series/japanese-vowels",
    "assembly": "series/japanese-vowels",
    "rnn-lm": "lm/stdlib",
    "rnn-lm-char": "lm/stdlib-chars",
}


def variations(space: SearchSpace) -> list[tuple[str, Genome]]:
    """The default genome with one gene set to each of its other choices (a per-layer
    gene on every layer; another layer count repeats the per-layer defaults). Training
    genes are a recipe, not an option of the model (a learning rate too low for the
    budget is a finding of the search, not a broken option): they stay at their default,
    but for the schedule, whose every shape must train."""
    default = dict(space.default_genome())
    out = []
    for gene in space.genes:
        if gene.name in TRAINING_GENES and gene.name != "schedule":
            continue
        for choice in gene.choices:
            genes = dict(default)
            if gene.name == "layers":
                if choice == default["layers"]:
                    continue
                genes["layers"] = choice
                for other in space.genes:
                    if other.per_layer:
                        genes[other.name] = (other.default,) * int(choice)
            elif gene.per_layer:
                if all(v == choice for v in default[gene.name]):
                    continue
                genes[gene.name] = (choice,) * len(default[gene.name])
            elif choice == default[gene.name]:
                continue
            else:
                genes[gene.name] = choice
            genome = Genome(space.name, genes)
            if space.is_valid(genome):
                out.append((f"{gene.name}={choice}", genome))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("space_name", list(CHEAP))
def test_every_single_gene_variation_beats_the_task_baseline(
    space_name: str, tmp_path: Path
) -> None:
    evaluator = Evaluator(
        space_name,
        task=TASKS[space_name],
        fidelity=CHEAP[space_name],
        settings=TrainSettings(device="cpu", precision="fp32", threads=1),
        cache=False,
    )
    space = evaluator.space
    cases = [("default", space.default_genome()), *variations(space)]
    assert len(cases) >= 10
    failures = []
    for label, genome in cases:
        result = evaluator.evaluate(genome)
        assert result.baseline_loss is not None and result.baseline_loss > 0
        if not result.ok or result.val_loss > result.baseline_loss - MARGIN[space_name]:
            failures.append(f"{label}: {result.status} loss {result.val_loss}")
    assert not failures, (
        f"options at or near the baseline {evaluator.task.baseline_loss():.3f} "
        f"(margin {MARGIN[space_name]}): {failures}"
    )


@pytest.mark.parametrize("position", ["learned", "sinusoidal", "rope", "alibi"])
def test_token_content_and_position_have_comparable_scale_at_init(position: str) -> None:
    task = TaskSpec(kind="lm", vocab_size=256, seq_len=32)
    genes = {
        "family": "transformer",
        "layers": 1,
        "d_model": 64,
        "heads": (2,),
        "ffn_ratio": (2,),
        "norm": "layernorm",
        "norm_position": "pre",
        "activation": "gelu",
        "position": position,
        "bias": True,
        "tied_embeddings": True,
    }
    torch.manual_seed(0)
    backbone = build_model(model_config(genes, task)).transformer
    idx = torch.randint(0, 256, (4, 32))
    with torch.no_grad():
        content = backbone.tok_emb(idx) * backbone.embed_scale
    if backbone.pos_table is not None:
        position_part = backbone.pos_table[:32]
    elif backbone.pos_emb is not None:
        position_part = backbone.pos_emb.weight[:32].detach()
    else:
        position_part = torch.zeros(1)
    ratio = float(content.pow(2).mean().sqrt()) / max(
        float(position_part.pow(2).mean().sqrt()), 1e-12
    )
    if position in ("rope", "alibi"):  # position acts inside attention, not on the input
        assert float(position_part.abs().max()) == 0.0
    else:
        assert 0.5 < ratio < 2.5, f"content / position RMS = {ratio:.3f}"
    assert math.isfinite(ratio)

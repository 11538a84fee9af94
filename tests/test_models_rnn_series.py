"""Recurrent classifiers of real-valued series: the frames' input projection, exact
counts, masks that keep padding out, and families that read ids refusing series."""

from __future__ import annotations

import pytest
import torch

from models import TaskSpec, build_model, count_params, model_config
from models.common import example_input
from models.errors import ModelConfigError

SERIES = TaskSpec(kind="series", vocab_size=0, seq_len=29, num_classes=9, channels=12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "vanilla"])
@pytest.mark.parametrize("cell_norm", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
def test_counts_and_padding(cell: str, cell_norm: bool, pooling: str) -> None:
    genes = {"cell": cell, "cell_norm": cell_norm, "pooling": pooling, "layers": 2,
             "embed_dim": 16, "hidden_size": 24, "bidirectional": pooling != "mean"}  # fmt: skip
    torch.manual_seed(0)
    model = build_model(genes, SERIES).eval()
    assert count_params(genes, SERIES) == model.num_params()
    x = example_input(SERIES, 3, torch.Generator().manual_seed(1))
    assert x.shape == (3, 29, 12) and x.dtype == torch.float32
    mask = torch.ones(3, 29, dtype=torch.bool)
    mask[1, 9:] = False
    noisy = x.clone()
    noisy[1, 9:] = 50.0  # padding frames: must not reach the logits
    logits, _ = model(x, mask=mask)
    assert logits.shape == (3, 9)
    assert torch.allclose(logits, model(noisy, mask=mask)[0], atol=1e-5)


def test_specs_and_families_that_read_ids_refuse_series() -> None:
    with pytest.raises(ModelConfigError, match=r"allowed: vocab_size=0 with channels"):
        TaskSpec(kind="series", vocab_size=5, seq_len=29, num_classes=9, channels=12)
    with pytest.raises(ModelConfigError, match=r"vocab_size=0 with channels"):
        TaskSpec(kind="cls", vocab_size=5, seq_len=29, num_classes=9, channels=12)
    with pytest.raises(ModelConfigError, match=r"TaskSpec\.vocab_size"):
        TaskSpec(kind="series", vocab_size=0, seq_len=29, num_classes=9)  # ids, none
    assert "channels" not in TaskSpec(kind="lm", vocab_size=5, seq_len=8).to_dict()
    assert TaskSpec.from_dict(SERIES.to_dict()) == SERIES
    with pytest.raises(ModelConfigError, match="transformer family reads token ids"):
        model_config({"layers": 1}, SERIES)
    with pytest.raises(ModelConfigError, match="task kind 'series' is invalid"):
        model_config({"architecture": "dendritic_simple"}, SERIES)
    model = build_model({"cell": "gru"}, SERIES)
    with pytest.raises(ValueError, match=r"allowed: a float tensor of shape \(B, T, 12\)"):
        model(torch.zeros(2, 29, dtype=torch.long))


@pytest.mark.parametrize("family", ["transformer", "rnn", "dendritic"])
def test_a_new_task_kind_of_a_known_shape_needs_nothing_on_the_model_side(family: str) -> None:
    # The models read the spec's shape (ids or frames, tokens or labels), not the kind's name.
    spec = TaskSpec(kind="audio_tags", vocab_size=17, seq_len=16, num_classes=4)
    genes = {"transformer": {"layers": 1}, "rnn": {"cell": "gru"}}.get(family, {})
    if family == "dendritic":
        genes = {"architecture": "dendritic_simple"}
    model = build_model(genes, spec)
    logits = model(torch.randint(0, 17, (2, 16)))
    logits = logits[0] if isinstance(logits, tuple) else logits
    assert logits.shape == (2, 4)
    frames = TaskSpec(kind="sensor_windows", vocab_size=0, seq_len=8, num_classes=3, channels=5)
    assert frames.reads_frames and not frames.is_lm
    assert build_model({"cell": "gru"}, frames)(torch.zeros(2, 8, 5))[0].shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "", "vocab_size": 5, "seq_len": 8}, "TaskSpec.kind=''"),
        ({"kind": "lm", "vocab_size": 5, "seq_len": 8, "num_classes": 3}, "for kind 'lm'"),
        ({"kind": "cls", "vocab_size": 5, "seq_len": 8}, "num_classes=None is invalid"),
        ({"kind": "lm", "vocab_size": 0, "seq_len": 8, "channels": 2}, "with channels"),
    ],
)
def test_a_spec_of_no_known_shape_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ModelConfigError, match=match):
        TaskSpec(**kwargs)

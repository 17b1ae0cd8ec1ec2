import numpy as np
import pytest
import torch
from torch import nn

from pneumo_core.adaptation.method import class_shift_correction, statistics_applied
from pneumo_core.adaptation.normalisation import (adapted_layers, apply_statistics, collect_statistics,
                                                  source_statistics, tail_start)
from pneumo_core.models.paper_cnn import PaperCNN


def _model() -> nn.Module:
    torch.manual_seed(0)
    return PaperCNN().eval()


def test_the_last_layers_are_adapted_from_the_block_that_holds_the_first():
    m = _model()
    layers = adapted_layers(m, 2)
    assert layers == ["blocks.6.1", "blocks.6.4"] and tail_start(m, layers) == 6
    assert adapted_layers(m, 0) == [] and tail_start(m, []) == len(m.blocks)


def test_unweighted_collection_equals_a_train_mode_pass_over_the_batch():
    """AdaBN's statistics: what BatchNorm itself measures on the batch in train mode."""
    m = _model()
    x = torch.randn(6, 1, 32, 32)
    layers = adapted_layers(m, 8)
    found = collect_statistics(m, x, 0, layers)
    train = PaperCNN().train()
    train.load_state_dict(m.state_dict())
    for bn in (mod for mod in train.modules() if isinstance(mod, nn.BatchNorm2d)):
        bn.momentum, bn.track_running_stats = 1.0, True
    with torch.no_grad():
        train(x)
    own = dict((n, mod) for n, mod in train.named_modules() if isinstance(mod, nn.BatchNorm2d))
    for name in layers:
        assert np.allclose(found[name][0], own[name].running_mean.numpy(), atol=1e-5)
        # train mode keeps the unbiased variance: at most a 96/95 factor on the smallest layer here
        assert np.allclose(found[name][1], own[name].running_var.numpy(), rtol=2e-2)


def test_collection_leaves_the_model_as_it_was():
    m = _model()
    before = source_statistics(m, adapted_layers(m, 8))
    collect_statistics(m, torch.randn(4, 1, 32, 32), 0, adapted_layers(m, 8))
    after = source_statistics(m, adapted_layers(m, 8))
    assert all(np.array_equal(before[k][0], after[k][0]) and np.array_equal(before[k][1], after[k][1]) for k in before)


def test_film_weights_change_the_moments_toward_the_heavier_films():
    m = _model()
    x = torch.cat([torch.zeros(3, 1, 32, 32), torch.ones(3, 1, 32, 32)])
    layer = adapted_layers(m, 8)[:1]
    even = collect_statistics(m, x, 0, layer)[layer[0]][0]
    heavy = collect_statistics(m, x, 0, layer, weights=np.array([1, 1, 1, 9, 9, 9.0]))[layer[0]][0]
    ones = collect_statistics(m, x[3:], 0, layer)[layer[0]][0]
    assert np.abs(heavy - ones).sum() < np.abs(even - ones).sum()


def test_applied_statistics_are_restored_after_the_block():
    m = _model()
    layers = adapted_layers(m, 2)
    source = source_statistics(m, layers)
    moved = {k: (v[0] + 1.0, v[1] * 2.0) for k, v in source.items()}
    with statistics_applied(m, moved):
        assert np.allclose(source_statistics(m, layers)[layers[0]][0], moved[layers[0]][0])
    assert np.allclose(source_statistics(m, layers)[layers[0]][0], source[layers[0]][0])


def test_statistics_of_the_wrong_size_are_refused():
    m = _model()
    with pytest.raises(ValueError):
        apply_statistics(m, {"blocks.6.1": (np.zeros(3), np.ones(3))})


def test_the_correction_moves_moments_from_the_site_mix_to_the_source_mix():
    """Films of the source's two classes mixed at 10%: the corrected moments are the 74% mix's."""
    means = np.array([[0.0, 1.0], [2.0, 5.0]])  # class 0, class 1 (2 channels)
    vars_ = np.array([[1.0, 1.0], [1.0, 4.0]])
    moments = {"layer": {"mean": means, "var": vars_}}

    def mixture(p):
        m = p * means[1] + (1 - p) * means[0]
        return m, p * vars_[1] + (1 - p) * vars_[0] + p * (1 - p) * (means[1] - means[0]) ** 2

    adjust = class_shift_correction(moments, 0.1, 0.74)
    mean, var = adjust("layer", *mixture(0.1))
    assert np.allclose(mean, mixture(0.74)[0]) and np.allclose(var, mixture(0.74)[1])

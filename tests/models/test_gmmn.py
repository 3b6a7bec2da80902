"""The GMMN generator network: architecture, noise, determinism, generation."""
import pytest
import torch
from torch import nn

from zs3core.models.gmmn import GMMN, build_gmmn, gmmn_from_state


def test_architecture_and_shapes():
    model = GMMN(300, 256)  # the paper's sizes
    assert model.fc1.in_features == 600 and model.fc1.out_features == 256
    assert model.fc2.in_features == 256 and model.fc2.out_features == 256
    assert torch.all(model.fc1.bias == 0.01) and torch.all(model.fc2.bias == 0.01)
    out = model(torch.randn(10, 300), generator=torch.Generator().manual_seed(0))
    assert out.shape == (10, 256) and out.dtype == torch.float32


def test_layers_compose_as_specified():
    """Eval-mode output is Linear -> LeakyReLU(0.2) -> Linear, optional ReLU."""
    g = torch.Generator().manual_seed(0)
    for relu in (False, True):
        model = GMMN(5, 4, noise_dim=3, hidden=7, output_relu=relu).eval()
        a, z = torch.randn(6, 5), torch.randn(6, 3)
        want = model.fc2(nn.functional.leaky_relu(model.fc1(torch.cat([a, z], 1)), 0.2))
        torch.testing.assert_close(model(a, z, generator=g), want.clamp_min(0) if relu else want)


def test_noise_distributions():
    g = torch.Generator().manual_seed(1)
    uniform = GMMN(4, 3, noise_dim=50, noise="uniform").sample_noise(2000, g)
    assert uniform.shape == (2000, 50)
    assert uniform.min() >= 0 and uniform.max() < 1
    assert uniform.mean().item() == pytest.approx(0.5, abs=0.01)
    gaussian = GMMN(4, 3, noise_dim=50, noise="gaussian").sample_noise(2000, g)
    assert (gaussian < 0).any()
    assert gaussian.mean().item() == pytest.approx(0.0, abs=0.01)
    assert gaussian.std().item() == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError):
        GMMN(4, 3, noise="laplace")


def test_initialisation_is_deterministic_under_a_generator():
    a = GMMN(8, 6, init_generator=torch.Generator().manual_seed(3))
    b = GMMN(8, 6, init_generator=torch.Generator().manual_seed(3))
    c = GMMN(8, 6, init_generator=torch.Generator().manual_seed(4))
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(va, vb)
        if k.endswith("weight"):
            assert not torch.equal(va, vc)


@pytest.mark.parametrize("dropout", [False, True])
def test_generate_is_deterministic_and_grouped_by_class(dropout):
    model = GMMN(6, 5, noise_dim=4, hidden=16, init_generator=torch.Generator().manual_seed(0))
    table = torch.randn(4, 6)
    f1, c1 = model.generate(table, 7, torch.Generator().manual_seed(9), class_ids=[3, 1], dropout=dropout)
    f2, c2 = model.generate(table, 7, torch.Generator().manual_seed(9), class_ids=[3, 1], dropout=dropout)
    f3, _ = model.generate(table, 7, torch.Generator().manual_seed(10), class_ids=[3, 1], dropout=dropout)
    assert f1.shape == (14, 5) and c1.tolist() == [3] * 7 + [1] * 7
    assert torch.equal(f1, f2) and torch.equal(c1, c2)
    assert not torch.equal(f1, f3)
    everything, ids = model.generate(table, 2, torch.Generator().manual_seed(0))
    assert ids.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and everything.shape == (8, 5)


def test_generate_uses_eval_mode_unless_dropout_is_asked_and_restores_the_mode():
    model = GMMN(3, 2, noise_dim=2, hidden=64, dropout=0.5).train()
    table = torch.randn(1, 3)
    g = torch.Generator().manual_seed(0)
    feats, _ = model.generate(table, 5, g)
    assert model.training  # mode restored
    noise = model.sample_noise(5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(feats, model.eval()(table.expand(5, -1), noise))
    model.train()
    with_dropout, _ = model.generate(table, 5, torch.Generator().manual_seed(0), dropout=True)
    assert not torch.allclose(with_dropout, feats)


def test_dropout_masks_follow_the_generator_in_training_mode():
    model = GMMN(3, 2, noise_dim=2, hidden=32).train()
    a = torch.randn(8, 3)
    out1 = model(a, generator=torch.Generator().manual_seed(5))
    out2 = model(a, generator=torch.Generator().manual_seed(5))
    assert torch.equal(out1, out2)


def test_build_and_rebuild_from_state():
    cfg = {"noise_dim": 5, "noise": "uniform", "hidden": 12, "dropout": 0.2, "output_relu": True,
           "lr": 1.0}  # non-model keys are ignored
    model = build_gmmn(cfg, 7, 3)
    assert (model.noise_dim, model.noise, model.hidden, model.dropout, model.output_relu) == (5, "uniform", 12, 0.2, True)
    rebuilt = gmmn_from_state({"model": model.config(), "state_dict": model.state_dict()})
    assert not rebuilt.training
    a, z = torch.randn(4, 7), torch.rand(4, 5)
    torch.testing.assert_close(rebuilt(a, z), model.eval()(a, z))

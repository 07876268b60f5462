"""Model factories and the learned L∞ adversary."""

import torch
from torch import nn

from lib.models import mlp
from papers.gan_adversarial_training.models import (
    Perturber,
    squash_minmax,
    squash_scaled,
    squash_tanh,
)


def test_mlp_layers_and_logits():
    model = mlp([784, 128, 64, 10], batch_norm=True, activation=nn.LeakyReLU)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == [
        "Flatten",
        "Linear",
        "BatchNorm1d",
        "LeakyReLU",
        "Linear",
        "BatchNorm1d",
        "LeakyReLU",
        "Linear",
    ]
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_mlp_dropout_and_no_batch_norm():
    kinds = [type(layer).__name__ for layer in mlp([4, 3, 2], dropout=0.5)]
    assert kinds == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]


def test_squashes_reach_but_do_not_pass_one():
    o = torch.randn(8, 784) * 5
    assert squash_tanh(o).abs().max() <= 1
    scaled = squash_scaled(o)
    assert torch.allclose(scaled.abs().amax(1), torch.ones(8))
    assert torch.allclose((o - o.mean(1, keepdim=True)).argmax(1), scaled.argmax(1))


def test_perturber_stays_in_the_ball_and_the_box():
    torch.manual_seed(0)
    adversary = Perturber(mlp([784, 32, 784]), eps=0.1, squash=squash_scaled)
    x = torch.rand(16, 1, 28, 28)
    x_adv = adversary(x)
    assert x_adv.shape == x.shape
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_minmax_squash_sends_each_samples_extremes_to_minus_one_and_one():
    o = torch.randn(5, 784) * 3 + 1
    out = squash_minmax(o)
    torch.testing.assert_close(out.amin(1), -torch.ones(5))
    torch.testing.assert_close(out.amax(1), torch.ones(5))
    # A monotone map of each sample's outputs
    assert (out.argsort(1) == o.argsort(1)).all()

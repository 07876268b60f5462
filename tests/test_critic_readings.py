"""The adversary critic's readings (issue 24): the baselines initialised as their
own code (Glorot uniform), and the ratio of ρ under the paper's attack to ρ under
DeepFool."""

import copy
import math

import pytest
import torch
from torch import nn

from lib.attacks import deepfool
from lib.metrics import rho_min_norm
from papers.adversary_critic.attacks import high_confidence, rho_ratio
from papers.adversary_critic.models import fc_net, he_init_, lenet


def seeded(make, seed=0):
    torch.manual_seed(seed)
    return make()


def layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def test_the_default_init_is_he_as_before():
    for make in (lenet, lambda: fc_net((64, 32))):
        # the code before the option: PyTorch's layers made under the seed, then He
        before = copy.deepcopy(make())
        torch.manual_seed(0)
        for layer in layers(before):
            layer.reset_parameters()
        b = he_init_(before).state_dict()
        a = seeded(make).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("make", [lenet, lambda init: fc_net((64, 32), init=init)])
def test_glorot_weights_lie_within_their_bound_with_zero_biases(make):
    net, he = seeded(lambda: make(init="glorot")), seeded(lambda: make(init="he"))
    for layer, he_layer in zip(layers(net), layers(he), strict=True):
        fan_out, fan_in = layer.weight.shape[0], layer.weight[0].numel()
        fan_out *= layer.weight[0, 0].numel()  # a convolution's receptive field
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max() <= bound
        # uniform on ±bound: its spread, not He's
        assert layer.weight.abs().max() > 0.9 * bound
        torch.testing.assert_close(
            layer.weight.var(), torch.tensor(bound**2 / 3), rtol=0.3, atol=0
        )
        assert not torch.equal(layer.weight, he_layer.weight)
        assert layer.bias.abs().max() == 0
    with pytest.raises(ValueError, match=r"init must be one of \('he', 'glorot'\)"):
        make(init="xavier")


def test_rho_ratio_is_ours_over_deepfool_as_table_1_counts_them():
    model = seeded(lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 2)))
    x = (0.5 + 0.05 * torch.randn(12, 1, 4, 4)).clamp(0, 1)
    y = model(x).argmax(1)
    y[:2] = 1 - y[:2]  # two misclassified points count 0
    settings = dict(step_clip=0.1, overshoot=0.02)
    result = rho_ratio(
        model, x, y, steps=50, deepfool_steps=50, batch_size=5, **settings
    )
    ours = high_confidence(model, x, y, steps=50, **settings)
    df = deepfool(model, x, y, steps=50, clip=True, **settings)
    expected = {
        "ours": rho_min_norm(model, x, ours, y, failures="count"),
        "deepfool": rho_min_norm(model, x, df, y, failures="count"),
    }
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-5)
    assert result["ratio"] == pytest.approx(result["ours"] / result["deepfool"])
    # a linear model's boundary is where p = 1/2, and ours goes on to the clean
    # confidence, beyond it
    assert result["ratio"] > 1

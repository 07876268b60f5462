"""Learning with Adversary's cost claim (§4.1: Adv_Alpha costs d times Adv_Loss): the
operations counted by operator, the backward passes apart, and the claim's cause."""

import pytest
import torch
from torch import nn

from papers.learning_with_adversary.attacks import adv_alpha, adv_loss
from papers.learning_with_adversary.cost import counted, ratios
from papers.learning_with_adversary.report import cost_claim

SPEC = {
    "id": "adv_alpha_cost",
    "kind": "norm",
    "tolerance": 0.3,
    "n": None,
    "reported": 10.0,
    "description": "Adv_Alpha costs d = 10 times Adv_Loss",
}


def linear(classes, features=12):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(features, classes, bias=False))


def batch(n=5, features=12, classes=4):
    torch.manual_seed(1)
    return torch.rand(n, 1, 1, features), torch.randint(classes, (n,))


def test_a_linear_layers_operations_are_its_matrix_products():
    x, y = batch()
    model = linear(4)
    forward, gradients = 2 * 5 * 12 * 4, 2 * 5 * 4 * 12  # x @ W.T, and g @ W
    assert counted(adv_loss, model, x, y, eps=1.0) == (forward + gradients, gradients)


@pytest.mark.parametrize("classes", [2, 4, 10])
def test_adv_alpha_takes_one_backward_pass_per_other_class(classes):
    x, y = batch(classes=classes)
    measured = ratios(linear(classes), x, y, adv_alpha, adv_loss, eps=1.0)
    assert measured["gradients"] == classes - 1
    # the forward pass is shared, once each: (1 + (K - 1)) / (1 + 1)
    assert measured["all"] == pytest.approx(classes / 2)


def test_the_papers_count_is_a_reading_the_wall_time_is_ours():
    seeds = [0, 1, 2]
    seconds = [{"Adv_Alpha": 3.8, "Adv_Loss": 1.0}] * 3
    readings = [("all operations", [5.0] * 3), ("gradients alone", [9.0] * 3)]
    claim = cost_claim(SPEC, seconds, seeds, readings)
    assert claim["ours_mean"] == pytest.approx(3.8)
    assert claim["verdict"] == "not reproduced" and claim["cause"] == "reading"
    assert claim["evidence"]["reading"] == "gradients alone"
    assert claim["evidence"]["tried"] == [
        {"reading": "all operations", "ours": 5.0, "verdict": "partly"}
    ]
    assert cost_claim(SPEC, seconds, seeds, readings[:1])["cause"] == "open"

"""The baselines' losses: AT, VAT and margin maximization, against hand computations
and finite differences."""

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib.models import mlp
from papers.adversary_critic.regularizers import (
    at_loss,
    ce_loss,
    margin_penalty,
    mm_loss,
    multiclass_hinge,
    regularized_step,
    vat_loss,
)


def smooth_model(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return mlp([4, 16, 3], activation=nn.Tanh).to(dtype)


def test_at_loss_is_clean_plus_unclipped_fgsm_ce():
    torch.manual_seed(0)
    model = mlp([784, 16, 10])
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    loss, logits = at_loss(model, x, y, eps=0.1)
    xg = x.clone().requires_grad_(True)
    grad = torch.autograd.grad(F.cross_entropy(model(xg), y, reduction="sum"), xg)[0]
    expected = F.cross_entropy(model(x), y) + F.cross_entropy(
        model(x + 0.1 * grad.sign()), y
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(logits, model(x))


def test_vat_loss_adds_a_nonnegative_kl_at_the_virtual_adversary():
    torch.manual_seed(0)
    model = mlp([784, 16, 10])
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    loss, logits = vat_loss(model, x, y, eps=2.0, seed=0)
    assert loss.item() > F.cross_entropy(logits, y).item()
    # The KL term reaches the parameters only through p(x + r): p(x) is a constant.
    assert loss.requires_grad


def test_multiclass_hinge_by_hand():
    logits = torch.tensor([[3.0, 2.5, 0.0], [0.0, 5.0, 1.0]])
    y = torch.tensor([0, 2])
    # max(0, 1 + 2.5 - 3) = 0.5; max(0, 1 + 5 - 1) = 5
    assert multiclass_hinge(logits, y).item() == pytest.approx(2.75)


def finite_difference_input_grad(f, x, h=1e-6):
    grad = torch.zeros_like(x)
    for i in range(x.shape[1]):
        e = torch.zeros_like(x)
        e[:, i] = h
        grad[:, i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


def test_margin_penalty_matches_a_finite_difference():
    model = smooth_model()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    rows = torch.arange(5)
    with torch.no_grad():
        jac = torch.stack(
            [
                finite_difference_input_grad(lambda v, j=j: model(v)[:, j], x)
                for j in range(3)
            ],
            1,
        )
    diff = jac - jac[rows, y].unsqueeze(1)
    far = diff.pow(2).sum(2).argmax(1)
    expected = diff[rows, far].pow(2).sum(1).mean()
    penalty, _ = margin_penalty(model, x, y)
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)


def test_margin_penalty_parameter_gradient_matches_a_finite_difference():
    model = smooth_model(1)
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    weight = model[1].weight
    grad = torch.autograd.grad(margin_penalty(model, x, y)[0], weight)[0]
    h = 1e-6
    with torch.no_grad():
        weight[0, 0] += h
    up = margin_penalty(model, x, y)[0].item()
    with torch.no_grad():
        weight[0, 0] -= 2 * h
    down = margin_penalty(model, x, y)[0].item()
    assert grad[0, 0].item() == pytest.approx((up - down) / (2 * h), rel=1e-5)


@pytest.mark.parametrize(
    "loss_fn",
    [
        ce_loss,
        partial(at_loss, eps=0.1),
        partial(vat_loss, eps=2.0, seed=0),
        partial(mm_loss, lam=0.1),
    ],
    ids=["ce", "at", "vat", "mm"],
)
def test_regularized_steps_lower_their_loss_on_a_batch(loss_fn):
    torch.manual_seed(0)
    model = mlp([784, 32, 10])
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = regularized_step(loss_fn, model, x, y, optimizer=optimizer)["loss"].item()
    for _ in range(20):
        last = regularized_step(loss_fn, model, x, y, optimizer=optimizer)[
            "loss"
        ].item()
    assert last < first

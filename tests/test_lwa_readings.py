"""Learning with Adversary's readings (issue 24): the representation network's units
and depth, input dropout, and c relative to each sample's ||h||."""

import pytest
import torch
from torch import nn

from lib.data import Batches
from lib.models import mlp
from papers.learning_with_adversary.lwa import (
    alpha_direction,
    loss_direction,
    pseudo_sample,
    train_lwa,
)
from papers.learning_with_adversary.models import lwa_mlp, representation_split
from papers.learning_with_adversary.training import network, split, train_stack

HIDDEN = (32, 32)


def seeded(make, seed=0):
    torch.manual_seed(seed)
    return make()


def same_model(a, b):
    assert repr(a) == repr(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_default_mlp_and_split_are_the_pages():
    for rate in (0.0, 0.5):
        same_model(
            seeded(lambda rate=rate: lwa_mlp(HIDDEN, dropout=rate)),
            seeded(lambda rate=rate: mlp([784, *HIDDEN, 10], dropout=rate)),
        )
    model = lwa_mlp(HIDDEN)
    rep, head = representation_split(model)
    assert list(rep) == list(model[:3]) and list(head) == list(model[3:])
    rep, head = split("LWA_Rep", model)
    assert list(rep) == list(model[:3])
    assert isinstance(split("LWA", model)[0], nn.Identity)
    # experiment.network: the plain MLP, dropout on the Dropout row alone
    for method, rate in (("LWA_Rep", 0.0), ("Dropout", 0.5)):
        same_model(
            seeded(lambda m=method: network("MLP", m, HIDDEN, 0.5, "cpu")),
            seeded(lambda r=rate: mlp([784, *HIDDEN, 10], dropout=r)),
        )


@pytest.mark.parametrize("units, low, high", [("tanh", -1, 1), ("sigmoid", 0, 1)])
def test_bounded_units_bound_h_and_keep_the_weights(units, low, high):
    model = seeded(lambda: lwa_mlp(HIDDEN, units=units))
    same_model_weights = seeded(lambda: lwa_mlp(HIDDEN)).state_dict()
    assert all(
        torch.equal(v, same_model_weights[k]) for k, v in model.state_dict().items()
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(100)
        h = representation_split(model)[0](torch.rand(16, 1, 28, 28))
    assert h.min() >= low and h.max() <= high
    assert h.flatten(1).norm(dim=1).max() <= HIDDEN[0] ** 0.5
    # the classifier's layers keep their ReLUs
    assert isinstance(model[4], nn.ReLU)


def test_a_deeper_representation_ends_at_a_later_hidden_layer():
    model = lwa_mlp((32, 24, 16), units="tanh", rep_layers=2)
    rep, head = representation_split(model, rep_layers=2)
    assert [type(m).__name__ for m in rep] == [
        "Flatten",
        "Linear",
        "Tanh",
        "Linear",
        "Tanh",
    ]
    assert [type(m).__name__ for m in head] == ["Linear", "ReLU", "Linear"]
    x = torch.rand(4, 1, 28, 28)
    assert rep(x).shape == (4, 24)
    torch.testing.assert_close(head(rep(x)), model(x))
    with pytest.raises(ValueError, match=r"rep_layers must be in \[1, 3\]"):
        lwa_mlp((32, 24, 16), rep_layers=4)
    with pytest.raises(ValueError, match=r"rep_layers must be in \[1, 2\]"):
        representation_split(lwa_mlp(HIDDEN), rep_layers=3)


def test_input_dropout_drops_pixels_in_training_only():
    model = seeded(lambda: lwa_mlp(HIDDEN, input_dropout=0.2))
    assert isinstance(model[1], nn.Dropout) and model[1].p == 0.2
    seen = []
    model[2].register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    x = torch.ones(64, 1, 28, 28)
    model.train()(x)
    dropped = (seen[0] == 0).float().mean().item()
    assert 0.17 < dropped < 0.23
    torch.testing.assert_close(
        seen[0][seen[0] != 0], torch.full_like(seen[0][seen[0] != 0], 1.25)
    )
    model.eval()(x)
    assert torch.equal(seen[1], x.flatten(1))
    # the representation starts after the input dropout
    assert list(representation_split(model)[0]) == list(model[:4])
    with pytest.raises(ValueError, match="dropout and input_dropout"):
        lwa_mlp(HIDDEN, input_dropout=1.0)


def test_bad_units_name_the_choices():
    with pytest.raises(
        ValueError, match=r"units must be one of \('relu', 'tanh', 'sigmoid'\)"
    ):
        lwa_mlp(HIDDEN, units="gelu")


def test_relative_c_scales_each_step_by_the_samples_norm():
    head = seeded(lambda: mlp([8, 16, 3]))
    h = torch.randn(6, 8) * torch.arange(1.0, 7.0).view(-1, 1)
    y = torch.randint(0, 3, (6,))
    for direction in (alpha_direction, loss_direction):
        step = (
            pseudo_sample(head, h, y, c=0.5, direction=direction, relative_c=True) - h
        )
        torch.testing.assert_close(step.norm(dim=1), 0.5 * h.norm(dim=1))
        absolute = pseudo_sample(head, h, y, c=0.5, direction=direction) - h
        torch.testing.assert_close(absolute.norm(dim=1), torch.full((6,), 0.5))
        # the same direction either way
        torch.testing.assert_close(
            step / step.norm(dim=1, keepdim=True),
            absolute / absolute.norm(dim=1, keepdim=True),
        )


def test_train_lwa_perturbs_h_relative_to_its_norm():
    model = seeded(lambda: mlp([784, 32, 32, 10]))
    rep, head = representation_split(model)
    seen = []
    model[3].register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    train_lwa(
        rep,
        head,
        Batches(x, y, batch_size=8, shuffle=False),
        epochs=1,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
        c=0.1,
        direction=alpha_direction,
        relative_c=True,
    )
    with torch.no_grad():
        h = rep(x)
    torch.testing.assert_close(
        (seen[-1] - h).norm(dim=1), 0.1 * h.norm(dim=1), rtol=1e-5, atol=1e-6
    )


def test_train_stack_takes_the_readings():
    common = dict(
        arch="MLP", seeds=[0], epochs=1, n_train=50, device="cpu", hidden=HIDDEN
    )
    default = train_stack(method="LWA_Rep", **common)
    again = train_stack(method="LWA_Rep", units="relu", rep_layers=1, **common)
    assert default["losses"] == again["losses"]
    reading = train_stack(
        method="LWA_Rep", units="tanh", rep_layers=2, relative_c=True, c=0.1, **common
    )
    assert reading["losses"] != default["losses"]
    dropout = train_stack(method="Dropout", input_dropout=0.2, **common)
    # Flatten, Dropout(0.2), Linear, ...: the first Linear moved one place down
    assert "2.weight" in dropout["states"][0] and "1.weight" not in dropout["states"][0]

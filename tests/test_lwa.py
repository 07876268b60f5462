"""Learning with adversary (papers/learning_with_adversary/lwa.py) and Caffe's LeNet
(papers/learning_with_adversary/models.py)."""

import torch
import torch.nn.functional as F
from torch import nn

from lib.data import Batches
from lib.models import mlp
from papers.learning_with_adversary.attacks import adv_alpha, adv_loss
from papers.learning_with_adversary.lwa import (
    alpha_direction,
    loss_direction,
    pseudo_sample,
    train_lwa,
)
from papers.learning_with_adversary.models import caffe_lenet


def small_mlp(seed=0):
    torch.manual_seed(seed)
    return mlp([784, 32, 32, 10])


def test_caffe_lenet_layers_parameters_and_logits():
    torch.manual_seed(0)
    model = caffe_lenet()
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == [
        "Conv2d",
        "MaxPool2d",
        "Conv2d",
        "MaxPool2d",
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
    ]
    # Caffe's lenet_train_test.prototxt has 431,080 parameters.
    assert sum(p.numel() for p in model.parameters()) == 431_080
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    first = model[0].weight
    assert first.abs().max() <= (3 / 25) ** 0.5 and model[0].bias.abs().max() == 0


def test_pseudo_sample_has_l2_norm_c_exactly():
    model = small_mlp()
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    for direction in (alpha_direction, loss_direction):
        x_hat = pseudo_sample(model, x, y, c=1.5, direction=direction)
        assert x_hat.shape == x.shape
        torch.testing.assert_close(
            (x_hat - x).flatten(1).norm(dim=1), torch.full((16,), 1.5)
        )


def test_directions_match_the_attack_suite():
    # The batched Jacobian of lwa.py against the class-by-class one of lib.attacks:
    # the same pseudo-samples.
    model = small_mlp(1)
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    torch.testing.assert_close(
        pseudo_sample(model, x, y, c=0.7, direction=alpha_direction),
        adv_alpha(model, x, y, eps=0.7, clip=False),
        rtol=1e-4,
        atol=1e-5,
    )
    torch.testing.assert_close(
        pseudo_sample(model, x, y, c=0.7, direction=loss_direction),
        adv_loss(model, x, y, eps=0.7, clip=False),
        rtol=1e-4,
        atol=1e-5,
    )


def test_alpha_direction_on_a_conv_net_matches_the_attack_suite():
    torch.manual_seed(2)
    model = caffe_lenet()
    x, y = torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))
    torch.testing.assert_close(
        pseudo_sample(model, x, y, c=1.5, direction=alpha_direction),
        adv_alpha(model, x, y, eps=1.5, clip=False),
        rtol=1e-4,
        atol=1e-5,
    )


def test_lwa_rep_perturbs_only_the_first_hidden_layers_output():
    model = small_mlp(3)
    rep, head = model[:3], model[3:]  # Flatten, Linear, ReLU | Linear, ReLU, Linear
    seen = {}
    model[1].register_forward_hook(
        lambda m, inputs, out: seen.__setitem__("first", inputs[0].detach())
    )
    model[3].register_forward_hook(
        lambda m, inputs, out: seen.__setitem__("second", inputs[0].detach())
    )
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    train_lwa(
        rep,
        head,
        Batches(x, y, batch_size=8, shuffle=False),
        epochs=1,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
        c=1.5,
        direction=alpha_direction,
    )
    # The last forward pass is the training one, on the pseudo-samples: the first layer
    # saw the clean images, the second the first layer's output moved by exactly c.
    torch.testing.assert_close(seen["first"], x.flatten(1))
    with torch.no_grad():
        hidden = rep(x)
    torch.testing.assert_close(
        (seen["second"] - hidden).norm(dim=1), torch.full((8,), 1.5)
    )


def test_lwa_trains_on_pseudo_samples_only_and_updates_the_representation():
    model = small_mlp(4)
    rep, head = model[:3], model[3:]
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    before = [p.detach().clone() for p in model.parameters()]
    clean = F.cross_entropy(model(x), y).item()
    expected = F.cross_entropy(
        head(pseudo_sample(head, rep(x), y, c=1.5, direction=alpha_direction)), y
    ).item()
    history = train_lwa(
        rep,
        head,
        Batches(x, y, batch_size=20, shuffle=False),
        epochs=1,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        c=1.5,
        direction=alpha_direction,
    )
    assert abs(history[0] - expected) < 1e-5
    assert abs(history[0] - clean) > 1e-3  # the clean images never enter the loss
    # Algorithm 3, line 10: both networks are updated, the representation too.
    assert all(
        not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True)
    )


def test_lwa_with_identity_rep_is_algorithm_2():
    model = small_mlp(5)
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    expected = F.cross_entropy(
        model(adv_alpha(model, x, y, eps=1.5, clip=False)), y
    ).item()
    clean = F.cross_entropy(model(x), y).item()
    history = train_lwa(
        nn.Identity(),
        model,
        Batches(x, y, batch_size=20, shuffle=False),
        epochs=1,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
        c=1.5,
        direction=alpha_direction,
    )
    assert abs(history[0] - expected) < 1e-4 and abs(history[0] - clean) > 1e-3

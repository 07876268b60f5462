"""Stacked training (lib/stack.py): a stack is its members, trained side by side, each
on its own numbers."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib.attacks import fgsm
from lib.data import Batches
from lib.models import mlp
from lib.stack import (
    member_histories,
    member_loss,
    members,
    stack,
    stack_seeds,
    total,
    unstack,
)
from lib.stack_optim import StackedAdam, StackedBatches, StackedSGD
from lib.train import HalveOnIncrease, train
from papers.a3t.game import train_a3t
from papers.gan_adversarial_training.game import train_game
from papers.gan_adversarial_training.models import Perturber, squash_scaled
from papers.learning_with_adversary.attacks import adv_alpha
from papers.learning_with_adversary.lwa import alpha_direction, train_lwa
from papers.learning_with_adversary.models import caffe_lenet


def toy_problem(n=240, seed=0, size=4):
    """Two separable blobs in [0, 1]^(1 x size x size), their centres 0.4 apart."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = (
        0.3
        + 0.4 * y.view(-1, 1, 1, 1)
        + 0.1 * torch.randn(n, 1, size, size, generator=generator)
    ).clamp(0, 1)
    return x, y


def defender(seed):
    torch.manual_seed(seed)
    return mlp([16, 12, 8, 2], batch_norm=True, activation=nn.LeakyReLU)


def sgd(model, lr=0.2):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=4e-4)


def stacked_sgd(model, lr=0.2):
    return StackedSGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=4e-4)


def assert_same_modules(a, b, atol, rtol=0.0):
    for (name, p), q in zip(
        a.state_dict().items(), b.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(p.float(), q.float(), rtol=rtol, atol=atol, msg=name)


def test_a_stack_of_one_equals_the_plain_model_after_some_steps():
    x, y = toy_problem()
    plain, solo = defender(0), defender(0)
    stacked = stack([solo])
    perturb = lambda model, xb, yb: fgsm(model, xb, yb, eps=0.1)  # noqa: E731
    losses = train(
        plain,
        Batches(x, y, batch_size=40, seed=3),
        epochs=3,
        optimizer=sgd(plain),
        perturb=perturb,
    )
    stacked_losses = train(
        stacked,
        StackedBatches(x, y, batch_size=40, seeds=[3]),
        epochs=3,
        optimizer=stacked_sgd(stacked),
        perturb=perturb,
    )
    torch.testing.assert_close(
        torch.tensor(stacked_losses).flatten(),
        torch.tensor(losses),
        rtol=1e-6,
        atol=1e-6,
    )
    (member,) = unstack(stacked)
    # Within 1e-6, absolute or relative: a batched matmul rounds a few last bits
    # otherwise than a plain one.
    assert_same_modules(member, plain, atol=1e-6, rtol=1e-6)


def test_each_members_gradient_is_its_own():
    x, y = toy_problem(n=60)
    models = [defender(seed) for seed in range(3)]
    stacked = stack(models)
    xs, ys = (
        x.repeat(3, 1, 1, 1)
        + 0.01 * torch.arange(3).repeat_interleave(60).view(-1, 1, 1, 1),
        y.repeat(3),
    )
    total(member_loss(F.cross_entropy, stacked(xs), ys, members(stacked))).backward()
    for e, model in enumerate(models):
        F.cross_entropy(model(xs[60 * e : 60 * (e + 1)]), y).backward()
        for name, p in model.named_parameters():
            layer, tensor = name.rsplit(".", 1)
            grad = stacked.get_submodule(layer).get_parameter(tensor).grad[e]
            grad = grad.T if tensor in stacked.get_submodule(layer).TRANSPOSED else grad
            torch.testing.assert_close(grad, p.grad, rtol=1e-5, atol=1e-6, msg=name)


def test_stacked_batches_are_each_members_own_batches():
    x, y = toy_problem(n=100)
    seeds = [5, 7]
    solo = [list(Batches(x, y, batch_size=30, seed=seed)) for seed in seeds]
    for i, (xb, yb) in enumerate(StackedBatches(x, y, batch_size=30, seeds=seeds)):
        for e in range(2):
            block = slice(len(yb) // 2 * e, len(yb) // 2 * (e + 1))
            assert torch.equal(xb[block], solo[e][i][0]) and torch.equal(
                yb[block], solo[e][i][1]
            )


def test_halve_on_increase_follows_each_members_own_loss():
    stacked = stack([defender(0), defender(1), defender(2)])
    optimizer = stacked_sgd(stacked, lr=1.0)
    rule = HalveOnIncrease(optimizer)
    for losses in ([1.0, 1.0, 1.0], [0.5, 1.5, 0.9], [0.6, 1.0, float("nan")]):
        rule(losses)
    assert optimizer.param_groups[0]["lr"].tolist() == [0.5, 0.5, 0.5]
    rule([0.4, 1.2, 0.1])
    assert optimizer.param_groups[0]["lr"].tolist() == [0.5, 0.25, 0.5]


def test_per_member_rates_train_each_member_as_its_own_rate_would():
    x, y = toy_problem()
    rates = [0.05, 0.3]
    stacked = stack([defender(0), defender(0)])
    train(
        stacked,
        StackedBatches(x, y, batch_size=40, seeds=[1, 1]),
        epochs=2,
        optimizer=stacked_sgd(stacked, rates),
    )
    for rate, member in zip(rates, unstack(stacked), strict=True):
        alone = defender(0)
        train(
            alone,
            Batches(x, y, batch_size=40, seed=1),
            epochs=2,
            optimizer=sgd(alone, rate),
        )
        assert_same_modules(member, alone, atol=1e-5)


def test_eval_mode_outputs_of_a_member_equal_its_unstacked_copy():
    x, y = toy_problem()
    stacked = stack([defender(0), defender(1)])
    train(
        stacked,
        StackedBatches(x, y, batch_size=40, seeds=[0, 1]),
        epochs=2,
        optimizer=stacked_sgd(stacked),
    )
    stacked.eval()
    out = stacked(torch.cat([x, x])).unflatten(0, (2, -1))
    for e, member in enumerate(unstack(stacked)):
        assert not member.training and type(member[2]) is nn.BatchNorm1d
        torch.testing.assert_close(out[e], member(x), rtol=1e-6, atol=1e-6)


def test_convolutions_stack_and_attacks_run_on_a_stack_as_on_its_members():
    torch.manual_seed(0)
    models = [caffe_lenet().eval() for _ in range(2)]
    stacked = stack(models).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    xs, ys = torch.cat([x, x]), torch.cat([y, y])
    for attack in (
        lambda m, a, b: fgsm(m, a, b, eps=0.1),
        lambda m, a, b: adv_alpha(m, a, b, eps=1.5),
    ):
        x_adv = attack(stacked, xs, ys).unflatten(0, (2, -1))
        for e, model in enumerate(models):
            torch.testing.assert_close(
                x_adv[e], attack(model, x, y), rtol=1e-4, atol=1e-5
            )


def test_the_game_on_a_stack_is_each_members_game():
    x, y = toy_problem()

    def players(seed):
        torch.manual_seed(seed)
        return Perturber(
            mlp([16, 16, 16], batch_norm=True), eps=0.1, squash=squash_scaled
        ), defender(seed)

    pairs = [players(seed) for seed in (0, 1)]
    adversaries, defenders = stack([a for a, _ in pairs]), stack([d for _, d in pairs])
    history = train_game(
        adversaries,
        defenders,
        StackedBatches(x, y, batch_size=40, seeds=[0, 1]),
        epochs=2,
        adversary_optimizer=stacked_sgd(adversaries, 0.1),
        defender_optimizer=stacked_sgd(defenders, 0.1),
    )
    for e, (adversary, defender_) in enumerate(pairs):
        alone = train_game(
            adversary,
            defender_,
            Batches(x, y, batch_size=40, seed=e),
            epochs=2,
            adversary_optimizer=sgd(adversary, 0.1),
            defender_optimizer=sgd(defender_, 0.1),
        )
        torch.testing.assert_close(
            member_histories(history, 2)[e], alone, rtol=1e-5, atol=1e-6
        )
        assert_same_modules(unstack(defenders)[e], defender_, atol=1e-5)


def test_a3t_and_lwa_on_a_stack_are_each_members_runs():
    x, y = toy_problem()

    def players(seed):
        torch.manual_seed(seed)
        encoder = nn.Sequential(
            *mlp([16, 12, 8], activation=nn.LeakyReLU), nn.LeakyReLU()
        )
        return nn.Sequential(encoder, mlp([8, 8, 2], activation=nn.LeakyReLU)), mlp(
            [8, 8, 1]
        )

    pairs = [players(seed) for seed in (0, 1)]
    solo = copy.deepcopy(pairs)
    classifiers, discriminators = (
        stack([c for c, _ in pairs]),
        stack([d for _, d in pairs]),
    )
    options = dict(epochs=2, eps=0.1, alpha=0.5, beta=1.0)
    history = train_a3t(
        classifiers,
        discriminators,
        StackedBatches(x, y, batch_size=40, seeds=[0, 1]),
        classifier_optimizer=StackedAdam(classifiers.parameters(), lr=1e-2),
        discriminator_optimizer=StackedAdam(discriminators.parameters(), lr=1e-2),
        **options,
    )
    for e, (classifier, discriminator) in enumerate(solo):
        alone = train_a3t(
            classifier,
            discriminator,
            Batches(x, y, batch_size=40, seed=e),
            classifier_optimizer=torch.optim.Adam(classifier.parameters(), lr=1e-2),
            discriminator_optimizer=torch.optim.Adam(
                discriminator.parameters(), lr=1e-2
            ),
            **options,
        )
        torch.testing.assert_close(
            member_histories(history, 2)[e], alone, rtol=1e-4, atol=1e-5
        )
        assert_same_modules(unstack(classifiers)[e], classifier, atol=1e-4)

    models = [mlp([16, 32, 2]) for _ in range(2)]
    solo = copy.deepcopy(models)
    stacked = stack(models)
    losses = train_lwa(
        stacked[:3],
        stacked[3:],
        StackedBatches(x, y, batch_size=40, seeds=[0, 1]),
        epochs=2,
        optimizer=StackedAdam(stacked.parameters(), lr=1e-2),
        c=0.5,
        direction=alpha_direction,
    )
    for e, model in enumerate(solo):
        alone = train_lwa(
            model[:3],
            model[3:],
            Batches(x, y, batch_size=40, seed=e),
            epochs=2,
            optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
            c=0.5,
            direction=alpha_direction,
        )
        torch.testing.assert_close(
            [epoch[e] for epoch in losses], alone, rtol=1e-4, atol=1e-5
        )

    # A sweep over c as one stack: each member trains with its own c.
    cs = [0.3, 1.2]
    models = [mlp([16, 32, 2]) for _ in range(2)]
    solo = copy.deepcopy(models)
    stacked = stack(models)
    losses = train_lwa(
        stacked[:3],
        stacked[3:],
        StackedBatches(x, y, batch_size=40, seeds=[0, 0]),
        epochs=2,
        optimizer=StackedAdam(stacked.parameters(), lr=1e-2),
        c=cs,
        direction=alpha_direction,
    )
    for e, model in enumerate(solo):
        alone = train_lwa(
            model[:3],
            model[3:],
            Batches(x, y, batch_size=40, seed=0),
            epochs=2,
            optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
            c=cs[e],
            direction=alpha_direction,
        )
        torch.testing.assert_close(
            [epoch[e] for epoch in losses], alone, rtol=1e-4, atol=1e-5
        )
    with pytest.raises(ValueError, match="one number per member"):
        train_lwa(
            stacked[:3],
            stacked[3:],
            StackedBatches(x, y, batch_size=40, seeds=[0, 0]),
            epochs=1,
            optimizer=StackedAdam(stacked.parameters()),
            c=[1.0],
            direction=alpha_direction,
        )


def test_stack_refuses_what_it_cannot_stack():
    with pytest.raises(ValueError, match="cannot stack"):
        stack([nn.Sequential(nn.Linear(3, 2, bias=False))])
    with pytest.raises(ValueError, match="non-empty"):
        stack([])
    with pytest.raises(ValueError, match="settings differ"):
        stack(
            [
                Perturber(mlp([4, 4]), eps=eps, squash=squash_scaled)
                for eps in (0.1, 0.2)
            ]
        )


def test_stack_seeds_makes_each_member_under_its_own_seed():
    def make():
        return mlp([16, 4, 2]), mlp([16, 3, 2])

    first, second = stack_seeds(make, [3, 5])
    for e, seed in enumerate([3, 5]):
        torch.manual_seed(seed)
        plain = make()
        assert_same_modules(unstack(first)[e], plain[0], atol=0)
        assert_same_modules(unstack(second)[e], plain[1], atol=0)
    assert isinstance(stack_seeds(lambda: mlp([16, 2]), [0, 1]), nn.Module)
    with pytest.raises(ValueError, match="seeds"):
        stack_seeds(make, [])

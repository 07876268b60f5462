"""A3T's readings (issue 24): normalised features into D, several D steps per
classifier step, and FGSM at test without clipping to [0, 1]."""

import copy
import functools

import pytest
import torch
from test_games import EPS, players, sgd, toy_problem

from lib.data import Batches
from lib.metrics import accuracy, attacked
from papers.a3t.game import (
    a3t_step,
    classifier_step,
    discriminator_step,
    features,
    fgsm_examples,
    game_metrics,
    train_a3t,
)


class CountingSGD(torch.optim.SGD):
    """SGD that counts its steps."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, lr=lr)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def norms_seen_by(discriminator):
    """The L2 norms of every input row of D's forward passes, appended as they come."""
    seen = []
    discriminator.register_forward_hook(
        lambda m, i, o: seen.append(i[0].detach().flatten(1).norm(dim=1))
    )
    return seen


def step(classifier, discriminator, x, y, c_opt=None, d_opt=None, **options):
    """One A3T step (α = ½, β = 1) with SGD unless optimizers are given."""
    return a3t_step(
        classifier,
        discriminator,
        x,
        y,
        eps=EPS,
        alpha=0.5,
        beta=1.0,
        classifier_optimizer=c_opt or sgd(classifier),
        discriminator_optimizer=d_opt or sgd(discriminator),
        **options,
    )


def test_features_are_unit_rows_when_normalised_and_untouched_otherwise():
    z = torch.randn(5, 8) * 100
    assert features(z, False) is z
    unit = features(z, True)
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(unit * z.norm(dim=1, keepdim=True), z)


def test_normalised_features_reach_d_in_both_steps_and_the_metrics():
    x, y = toy_problem(n=64)
    classifier, discriminator = players()
    seen = norms_seen_by(discriminator)
    step(classifier, discriminator, x, y, normalize_features=True)
    # D's step on clean and adversarial features, then L_enc on the adversarial ones
    assert len(seen) == 2
    game_metrics(
        classifier, discriminator, x, y, eps=EPS, normalize_features=True, batch_size=32
    )
    assert len(seen) == 2 + 2 * 2
    for norms in seen:
        torch.testing.assert_close(norms, torch.ones_like(norms))
    seen.clear()
    game_metrics(classifier, discriminator, x, y, eps=EPS)
    assert not torch.allclose(seen[0], torch.ones_like(seen[0]))


def test_k_discriminator_steps_take_k_optimizer_steps_on_one_batch():
    x, y = toy_problem(n=64)
    classifier, discriminator = players()
    d_opt, c_opt = (
        CountingSGD(discriminator.parameters()),
        CountingSGD(classifier.parameters()),
    )
    for _ in range(3):
        step(classifier, discriminator, x, y, c_opt, d_opt, discriminator_steps=4)
    assert d_opt.steps == 12 and c_opt.steps == 3
    with pytest.raises(ValueError, match="discriminator_steps must be >= 1"):
        step(classifier, discriminator, x, y, discriminator_steps=0)


def test_the_default_step_is_one_d_step_on_raw_features_then_the_classifier():
    x, y = toy_problem(n=64)
    classifier, discriminator = players()
    discriminator.eval()
    c_ref, d_ref = copy.deepcopy(classifier), copy.deepcopy(discriminator)
    stats = step(classifier, discriminator, x, y)
    # the step as it was written before its options
    x_adv = fgsm_examples(c_ref, x, y, eps=EPS)
    z, z_adv = c_ref[0](torch.cat([x, x_adv])).chunk(2)
    loss_disc, acc_disc = discriminator_step(d_ref, z, z_adv, sgd(d_ref))
    loss_cls, loss_enc, _, _ = classifier_step(
        c_ref, d_ref, z, z_adv, y, sgd(c_ref), alpha=0.5, beta=1.0
    )
    assert torch.equal(stats["loss_disc"], loss_disc)
    assert torch.equal(stats["acc_disc"], acc_disc)
    assert torch.equal(stats["loss_enc"], loss_enc)
    for a, b in zip(classifier.parameters(), c_ref.parameters(), strict=True):
        assert torch.equal(a, b)


def test_train_a3t_passes_the_options_on():
    x, y = toy_problem(n=128)
    histories = {}
    for options in ({}, {"normalize_features": True}, {"discriminator_steps": 3}):
        classifier, discriminator = players()
        d_opt = CountingSGD(discriminator.parameters())
        histories[tuple(options)] = train_a3t(
            classifier,
            discriminator,
            Batches(x, y, batch_size=64, seed=0),
            epochs=1,
            eps=EPS,
            alpha=0.5,
            beta=1.0,
            classifier_optimizer=sgd(classifier),
            discriminator_optimizer=d_opt,
            **options,
        )
        assert d_opt.steps == 2 * options.get("discriminator_steps", 1)
    default = histories[()]["loss_disc"]
    assert histories[("normalize_features",)]["loss_disc"] != default


def test_unclipped_fgsm_serves_as_a_test_attack():
    x, y = toy_problem(n=64)
    classifier, _ = players()
    classifier.eval()
    unclipped = functools.partial(fgsm_examples, eps=0.25, clip=False)
    x_adv = attacked(unclipped, classifier, x, y, batch_size=16)
    assert x_adv.min() < 0 and x_adv.max() > 1
    assert 0 <= accuracy(classifier, x_adv, y) <= 1

"""The GAN paper's readings (issue 24): its losses, batch-norm at test time, λ on a
[-1, 1] scale and separate batch-norm passes in the defender's step."""

import copy

import pytest
import torch
import torch.nn.functional as F
from test_train import toy_problem
from torch import nn

from lib.attacks import fgsm
from lib.data import Batches
from lib.metrics import accuracy
from lib.models import mlp
from papers.gan_adversarial_training.game import defender_step, train_game
from papers.gan_adversarial_training.losses import (
    clipped_log_loss,
    loss_named,
    softmax_cross_entropy,
    zero_gradient_share,
)
from papers.gan_adversarial_training.models import Perturber, squash_tanh
from papers.gan_adversarial_training.readings import (
    batch_statistics,
    batch_statistics_accuracy,
    eps_from_signed_scale,
)


def defender(seed=0):
    torch.manual_seed(seed)
    return mlp([16, 8, 2], batch_norm=True, activation=nn.LeakyReLU)


def adversary(seed=1):
    torch.manual_seed(seed)
    return Perturber(mlp([16, 16, 16], batch_norm=True), eps=0.1, squash=squash_tanh)


def test_softmax_cross_entropy_is_the_cross_entropy_of_the_probabilities():
    logits = torch.tensor([[30.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    p = logits.softmax(1)
    expected = -(p.gather(1, y[:, None]).exp() / p.exp().sum(1, keepdim=True)).log()
    torch.testing.assert_close(
        softmax_cross_entropy(logits, y, reduction="none"), expected.squeeze(1)
    )
    # bounded: even a sure mistake costs at most log(1 + e) for two classes
    assert softmax_cross_entropy(logits, torch.tensor([1, 1])) < 1.32


def test_clipped_log_has_zero_gradient_on_confident_points_only():
    logits = torch.tensor([[30.0, 0.0], [1.0, 0.0]], requires_grad=True)
    y = torch.tensor([0, 0])
    loss = clipped_log_loss(logits, y, reduction="none")
    torch.testing.assert_close(
        loss[1], F.cross_entropy(logits[1:], y[1:]), rtol=1e-6, atol=1e-7
    )
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    assert (grad[0] == 0).all() and (grad[1] != 0).all()
    with pytest.raises(ValueError, match="reduction must be one of"):
        clipped_log_loss(logits, y, reduction="max")


def test_loss_named_names_the_readings():
    assert loss_named("logits") is F.cross_entropy
    with pytest.raises(ValueError, match="loss must be one of .*'clipped log'"):
        loss_named("hinge")


def test_zero_gradient_share_counts_the_points_fgsm_cannot_move():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[0.625] * 16, [-0.625] * 16]))
        model[1].bias.zero_()
    x = torch.cat([torch.ones(3, 1, 4, 4), torch.zeros(1, 1, 4, 4)])
    y = torch.zeros(4, dtype=torch.long)
    # logit margin 20 on the bright points: p_y = 1 - 2e-9, past the clip at 1 - 1e-7,
    # where the cross-entropy of the logits still has a gradient
    share = zero_gradient_share(model, x, y, loss_fn=clipped_log_loss, batch_size=3)
    assert share == 0.75
    assert zero_gradient_share(model, x, y, loss_fn=F.cross_entropy) == 0
    x_adv = fgsm(model, x, y, eps=0.1, loss_fn=clipped_log_loss)
    assert torch.equal(x_adv[:3], x[:3])


def test_batch_statistics_leave_the_model_as_they_found_it():
    model = defender()
    x, y = toy_problem(n=128)
    model.train()
    model(x + 0.3)  # running statistics away from their initial values
    model.eval()
    before = copy.deepcopy(model.state_dict())
    with batch_statistics(model):
        assert model[2].training and not model.training
        out = model(x)
    assert not model.training and not model[2].training
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    # in train mode the layer normalised by the batch's own statistics
    train_mode = copy.deepcopy(model).train()
    torch.testing.assert_close(out, train_mode(x))
    assert not torch.allclose(out, model(x))


def test_batch_statistics_accuracy_averages_passes_and_changes_nothing():
    model = defender()
    x, y = toy_problem(n=128)
    model.eval()
    before = copy.deepcopy(model.state_dict())
    acc = batch_statistics_accuracy(model, x, y, batch_size=32, passes=3)
    assert 0 <= acc <= 1 and not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    # one pass over one batch of everything: the train-mode model's accuracy
    whole = batch_statistics_accuracy(model, x, y, batch_size=len(x), passes=1)
    assert whole == accuracy(copy.deepcopy(model).train(), x, y)
    attacked = batch_statistics_accuracy(
        model,
        x,
        y,
        batch_size=32,
        passes=2,
        attack=lambda m, xb, yb: fgsm(m, xb, yb, eps=0.3),
    )
    assert attacked <= acc
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="passes and batch_size"):
        batch_statistics_accuracy(model, x, y, batch_size=32, passes=0)


def test_lambda_on_a_signed_scale_is_half_the_books_eps():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    x, y = toy_problem(n=16)
    lam = 0.1
    # FGSM made on the model that reads pixels in [-1, 1], then mapped back
    signed = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        signed[1].weight.copy_(model[1].weight / 2)  # f'(x') = f((x' + 1) / 2)
        signed[1].bias.copy_(model[1].bias + model[1].weight.sum(1) / 2)
    x_signed = (2 * x - 1).requires_grad_(True)
    grad = torch.autograd.grad(F.cross_entropy(signed(x_signed), y), x_signed)[0]
    x_adv_signed = (x_signed + lam * grad.sign()).clamp(-1, 1).detach()
    torch.testing.assert_close(
        (x_adv_signed + 1) / 2, fgsm(model, x, y, eps=eps_from_signed_scale(lam))
    )
    with pytest.raises(ValueError, match="lam must be in"):
        eps_from_signed_scale(2.5)


def test_separate_batch_norm_passes_average_the_halves_losses():
    x, y = toy_problem(n=32)
    x_adv = (x + 0.1).clamp(0, 1)
    joint, separate = defender(), defender()
    reference = copy.deepcopy(separate).train()
    # the default: one pass over the joined batch, as before the option
    loss_joint = defender_step(
        joint, x, x_adv, y, torch.optim.SGD(joint.parameters(), lr=0.1)
    )
    both = torch.cat([x, x_adv])
    expected_joint = F.cross_entropy(copy.deepcopy(reference)(both), torch.cat([y, y]))
    torch.testing.assert_close(loss_joint, expected_joint.detach())
    expected = (
        F.cross_entropy(reference(x), y) + F.cross_entropy(reference(x_adv), y)
    ) / 2
    loss_separate = defender_step(
        separate,
        x,
        x_adv,
        y,
        torch.optim.SGD(separate.parameters(), lr=0.1),
        separate_batch_norm=True,
    )
    torch.testing.assert_close(loss_separate, expected.detach())
    assert not torch.allclose(loss_joint, loss_separate)
    # without batch-norm both ways are the same step
    plain = [mlp([16, 8, 2]) for _ in range(2)]
    plain[1].load_state_dict(plain[0].state_dict())
    for model, flag in zip(plain, (False, True), strict=True):
        defender_step(
            model,
            x,
            x_adv,
            y,
            torch.optim.SGD(model.parameters(), lr=0.1),
            separate_batch_norm=flag,
        )
    for a, b in zip(plain[0].parameters(), plain[1].parameters(), strict=True):
        torch.testing.assert_close(a, b)


def play(**options):
    x, y = toy_problem(n=128)
    adv, dfd = adversary(), defender()
    history = train_game(
        adv,
        dfd,
        Batches(x, y, batch_size=32, seed=0),
        epochs=2,
        adversary_optimizer=torch.optim.SGD(adv.parameters(), lr=0.1),
        defender_optimizer=torch.optim.SGD(dfd.parameters(), lr=0.1),
        **options,
    )
    return history, dfd


def test_the_games_defaults_are_the_logit_cross_entropy_and_one_joint_pass():
    history, dfd = play()
    explicit, dfd_explicit = play(loss_fn=F.cross_entropy, separate_batch_norm=False)
    assert history == explicit
    for a, b in zip(dfd.parameters(), dfd_explicit.parameters(), strict=True):
        assert torch.equal(a, b)


def test_the_game_options_change_the_game():
    history, _ = play()
    for options in ({"loss_fn": softmax_cross_entropy}, {"separate_batch_norm": True}):
        other, _ = play(**options)
        assert other["defender"] != history["defender"], options

"""The adversary critic's pieces: running confidence, straight-through stop, unrolled
attack, critic and steps."""

import pytest
import torch
from torch import nn

from lib.models import mlp
from papers.adversary_critic.critic import (
    RunningConfidence,
    adversary_critic_step,
    classifier_step,
    critic_loss,
    critic_net,
    critic_step,
    gradient_penalty,
    high_confidence_attack_unrolled,
    pretrain_step,
    straight_through_round,
    weight_decay_sum,
)
from papers.adversary_critic.models import fc_net


def small_model(seed=0):
    torch.manual_seed(seed)
    return mlp([784, 32, 10])


def target_confidence(model, x, targets):
    with torch.no_grad():
        return model(x).softmax(1)[torch.arange(len(x)), targets]


def test_running_confidence_debiases_and_keeps_absent_classes():
    running = RunningConfidence(3, decay=0.5)
    assert torch.equal(running.value, torch.ones(3))
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1]])
    # Zero-debiasing: the first update is the batch's per-class mean itself; class 2 is
    # absent and keeps 1.
    assert torch.allclose(running.update(probs), torch.tensor([0.7, 0.7, 1.0]))
    second = torch.tensor([[0.9, 0.05, 0.05]])
    # (0.5·0.5·0.7 + 0.5·0.9) / (1 - 0.25) for class 0; the absent classes
    # keep their values.
    assert torch.allclose(
        running.update(second), torch.tensor([(0.175 + 0.45) / 0.75, 0.7, 1.0])
    )
    restored = RunningConfidence(3)
    restored.load_state_dict(running.state_dict())
    assert torch.equal(restored.value, running.value)


def test_straight_through_gradient_is_the_sigmoids():
    z = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    s = torch.sigmoid(z)
    out = straight_through_round(s)
    assert torch.equal(out.detach(), s.detach().round())
    grad = torch.autograd.grad(out.sum(), z)[0]
    assert torch.allclose(grad, (s * (1 - s)).detach())


def test_unrolled_attack_reaches_its_confidence_and_stops_per_example():
    model = small_model()
    torch.manual_seed(1)
    x = torch.rand(16, 1, 28, 28)
    targets = torch.arange(16) % 10
    confidence = torch.full((16,), 0.9)
    confidence[:4] = 1e-4  # already reached on x: these must not move at all
    kwargs = dict(
        confidence=confidence, targets=targets, overshoot=0.0, differentiable=False
    )
    x_adv = high_confidence_attack_unrolled(model, x, steps=30, **kwargs)
    assert torch.equal(x_adv[:4], x[:4])
    assert (target_confidence(model, x_adv[4:], targets[4:]) >= 0.9).all()
    # An example that has reached C stops: the iterate it stopped at is the output of
    # every longer run.
    short = high_confidence_attack_unrolled(model, x, steps=7, **kwargs)
    longer = high_confidence_attack_unrolled(model, x, steps=12, **kwargs)
    done = target_confidence(model, short, targets) >= confidence
    assert done[4:].any() and not done.all()
    assert torch.equal(longer[done], short[done])
    assert not torch.equal(longer[~done], short[~done])


def test_unrolled_attack_has_parameter_gradients_and_its_default_targets_flip():
    model = small_model()
    x = torch.rand(8, 1, 28, 28)
    x_adv = high_confidence_attack_unrolled(
        model, x, confidence=torch.full((8,), 0.5), steps=5
    )
    grads = torch.autograd.grad(x_adv.pow(2).sum(), list(model.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)
    with torch.no_grad():
        assert (model(x_adv).argmax(1) != model(x).argmax(1)).float().mean() > 0.5


def test_gradient_penalty_is_zero_for_unit_gradient_norm():
    torch.manual_seed(0)
    u = torch.randn(784, dtype=torch.float64)
    x = torch.rand(10, 1, 28, 28, dtype=torch.float64, requires_grad=True)
    unit = x.flatten(1) @ (u / u.norm())
    assert gradient_penalty(unit, x).item() == pytest.approx(0, abs=1e-12)
    double = x.flatten(1) @ (2 * u / u.norm())
    assert gradient_penalty(double, x).item() == pytest.approx(1.0)


def test_critic_has_noise_one_logit_per_class_and_penalised_loss():
    torch.manual_seed(0)
    critic = critic_net()
    x = torch.rand(6, 1, 28, 28)
    assert critic(x).shape == (6, 10)
    critic.eval()
    # The noise stays on in evaluation, as in the paper's code
    assert not torch.equal(critic(x), critic(x))
    loss, parts = critic_loss(
        critic, x, torch.arange(6), x.flip(0), torch.arange(6).flip(0), lam_grad=10.0
    )
    assert loss.item() > 0 and parts["critic_penalty"].item() >= 0


def trained_pair(seed=0):
    torch.manual_seed(seed)
    model, critic = mlp([784, 32, 10]), critic_net(hidden=(32,))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.5, 0.999))
    critic_optimizer = torch.optim.Adam(
        critic.parameters(), lr=1e-3, betas=(0.5, 0.999)
    )
    return model, critic, optimizer, critic_optimizer


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def test_critic_step_touches_no_classifier_parameter():
    model, critic, _, critic_optimizer = trained_pair()
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    before_model, before_critic = snapshot(model), snapshot(critic)
    running = RunningConfidence()
    critic_step(
        model, critic, x, y, running=running, optimizer=critic_optimizer, lam_grad=10.0
    )
    assert all(
        torch.equal(a, b) for a, b in zip(before_model, model.parameters(), strict=True)
    )
    assert all(p.grad is None for p in model.parameters())
    assert any(
        not torch.equal(a, b)
        for a, b in zip(before_critic, critic.parameters(), strict=True)
    )
    assert running.updates == 1


def test_classifier_step_touches_no_critic_parameter():
    model, critic, optimizer, _ = trained_pair()
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    before_model, before_critic = snapshot(model), snapshot(critic)
    running = RunningConfidence()
    running.update(torch.full((1, 10), 0.1) + torch.eye(10)[:1] * 0.8)
    parts = classifier_step(
        model, critic, x, y, running=running, optimizer=optimizer, lam=0.5, lam_rec=0.01
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(before_critic, critic.parameters(), strict=True)
    )
    assert all(p.grad is None for p in critic.parameters())
    assert any(
        not torch.equal(a, b)
        for a, b in zip(before_model, model.parameters(), strict=True)
    )
    assert parts["attack_success"] > 0 and parts["gan"] > 0 and parts["rec"] > 0


def test_game_step_and_pretraining_report_finite_numbers():
    model, critic, optimizer, critic_optimizer = trained_pair()
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    running = RunningConfidence()
    pretrain_step(model, x, y, running=running, optimizer=optimizer, weight_decay=5e-6)
    parts = adversary_critic_step(
        model,
        critic,
        x,
        y,
        running=running,
        optimizer=optimizer,
        critic_optimizer=critic_optimizer,
        lam=0.5,
        lam_rec=0.01,
        lam_grad=10.0,
    )
    # pre-training, then once per attack graph: the critic's and the classifier's
    assert running.updates == 3
    assert all(torch.isfinite(v) for v in parts.values())


def test_weight_decay_skips_the_logits_layer_and_biases():
    model = fc_net()
    hidden = [m.weight for m in model.modules() if isinstance(m, nn.Linear)][:-1]
    assert weight_decay_sum(model).item() == pytest.approx(
        sum(w.pow(2).sum().item() for w in hidden) / 2, rel=1e-5
    )
    assert [m.out_features for m in model.modules() if isinstance(m, nn.Linear)] == [
        1200,
        1200,
        1200,
        10,
    ]

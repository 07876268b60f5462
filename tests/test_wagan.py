"""WAGAN (papers/wagan/wagan.py): the authors' networks, losses, game steps and their
"PGD"."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib.data import Batches
from lib.train import fit
from papers.wagan.wagan import (
    FreshAdams,
    TargetNet,
    attack_loss,
    classifier_step,
    clip_perturbation,
    discriminator,
    generate,
    generator,
    generator_step,
    init_weights,
    iterative_fgsm,
    lsgan_d_loss,
    perturbation_norm,
    wagan_step,
    wasserstein_term,
)

SINKHORN = dict(epsilon=0.2, iters=50, tol=1e-6, delta=1e-8)  # wasserstein.py


def data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(
        0, 10, (n,), generator=g
    )


def test_shapes_and_parameter_counts():
    torch.manual_seed(0)
    x, _ = data(5)
    target, g, d = TargetNet(), generator(), discriminator()
    assert target(x).shape == (5, 10)
    p = g(x)
    assert p.shape == x.shape and p.abs().max() <= 1
    assert d(x).shape == (5,) and ((d(x) > 0) & (d(x) < 1)).all()
    # The authors' MNIST_target_net and AdvGAN's generator / discriminator (models.py).
    assert (
        sum(q.numel() for q in target.parameters())
        == 320 + 9248 + 18496 + 36928 + 205000 + 40200 + 2010
    )
    assert sum(q.numel() for q in d.parameters()) == 136 + 2064 + 32 + 8224 + 64 + 33


def test_dropout_is_always_on_by_default_and_off_in_the_ablation():
    torch.manual_seed(0)
    x, _ = data(8)
    faithful = TargetNet().eval()
    # Stochastic even in eval(), as F.dropout(h, 0.5) is
    assert not torch.equal(faithful(x), faithful(x))
    ablation = TargetNet(always_on_dropout=False)
    ablation.load_state_dict(faithful.state_dict())
    ablation.eval()
    assert torch.equal(ablation(x), ablation(x))
    ablation.train()
    assert not torch.equal(ablation(x), ablation(x))


def test_initialisation():
    torch.manual_seed(0)
    g = generator().apply(init_weights)
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 3 + 8 + 3
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert (
        abs(weights.std().item() - 0.02) < 0.002 and abs(weights.mean().item()) < 0.002
    )
    norms = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(m.bias.abs().max() == 0 for m in norms)
    assert abs(torch.cat([m.weight for m in norms]).mean().item() - 1) < 0.01


def test_clipping_trick_is_an_linf_bound_in_the_box():
    x, _ = data(16)
    x_adv = clip_perturbation(x, 3 * torch.randn_like(x), bound=0.3)
    assert (
        (x_adv - x).abs().max() <= 0.3 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    )


def test_attack_loss_on_probabilities():
    logits = torch.log(
        torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    )
    y = torch.tensor([0, 0, 1])
    # max(p_y - max_other, 0): 0.5, 0 (already wrong), 0 (0.4 < 0.5)
    torch.testing.assert_close(attack_loss(logits, y), torch.tensor(0.5))


def test_perturbation_norm_is_the_mean_l2_of_the_raw_output():
    p = torch.zeros(2, 1, 28, 28)
    p[0, 0, 0, :4] = 1.0  # norm 2
    p[1] = 2.0  # norm 56, beyond any clipping
    torch.testing.assert_close(perturbation_norm(p), torch.tensor(29.0))


def test_lsgan_d_loss():
    d = lambda x: x.flatten(1).mean(1)  # noqa: E731
    x, x_adv = torch.ones(4, 1, 2, 2), torch.full((4, 1, 2, 2), 0.5)
    torch.testing.assert_close(lsgan_d_loss(d, x, x_adv), torch.tensor(0.25))


def test_detached_wasserstein_term_has_no_gradient_the_hinge_has():
    x, _ = data(4)
    p = (0.1 * torch.randn_like(x)).requires_grad_(True)
    x_adv = clip_perturbation(x, p, bound=0.3)
    detached = wasserstein_term(x, x_adv, mode="detached", **SINKHORN)
    assert not detached.requires_grad and detached > 0
    hinge = wasserstein_term(x, x_adv, mode="hinge", hinge_c=0.0, **SINKHORN)
    # a batch mean against the code's batch sum
    torch.testing.assert_close(hinge * 4, detached)
    assert torch.autograd.grad(hinge, p)[0].abs().sum() > 0
    far = wasserstein_term(x, x_adv, mode="hinge", hinge_c=1e6, **SINKHORN)
    assert far == 0
    with pytest.raises(ValueError, match="mode"):
        wasserstein_term(x, x_adv, mode="plain", **SINKHORN)


def train_generator(wasserstein, beta, seed=0, hinge_c=0.0):
    torch.manual_seed(1)
    target = TargetNet()
    torch.manual_seed(seed)
    g, d = generator().apply(init_weights), discriminator().apply(init_weights)
    adams = FreshAdams(g, d, lr=1e-3, lr_late=1e-4, switch_after=1)
    step = wagan_step(
        g,
        d,
        target,
        adams,
        alpha=10,
        beta=beta,
        bound=0.3,
        wasserstein=wasserstein,
        hinge_c=hinge_c,
        sinkhorn_kwargs=SINKHORN,
    )
    x, y = data(48)
    history = fit(
        step,
        Batches(x, y, batch_size=16, seed=seed),
        epochs=2,
        modules=(g, d),
        after_epoch=adams,
    )
    return g, d, history


def test_faithful_beta_plus_trains_exactly_like_advgan():
    g_advgan, d_advgan, h_advgan = train_generator(None, beta=1)
    g_plus, d_plus, h_plus = train_generator("detached", beta=1)
    for a, b in zip(
        list(g_advgan.state_dict().values()) + list(d_advgan.state_dict().values()),
        list(g_plus.state_dict().values()) + list(d_plus.state_dict().values()),
        strict=True,
    ):
        assert torch.equal(a, b)
    assert (
        h_advgan["adv"] == h_plus["adv"]
        and "wasserstein" in h_plus
        and "wasserstein" not in h_advgan
    )
    # The differentiable hinge does move the generator.
    g_hinge, _, _ = train_generator("hinge", beta=1)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(
            g_advgan.state_dict().values(), g_hinge.state_dict().values(), strict=True
        )
    )


def test_history_has_every_term_by_epoch():
    _, _, history = train_generator("detached", beta=-1)
    assert set(history) == {"d", "g_gan", "adv", "pert", "wasserstein"}
    assert all(len(v) == 2 for v in history.values())


def test_generator_step_touches_only_the_generator():
    torch.manual_seed(0)
    target, g, d = TargetNet(), generator(), discriminator()
    x, y = data(8)
    p = g(x)
    x_adv = clip_perturbation(x, p, bound=0.3)
    optimizer = torch.optim.Adam(g.parameters(), lr=1e-3)
    generator_step(g, d, target, x, y, p, x_adv, optimizer, alpha=10, beta=1)
    assert all(q.grad is None for q in list(d.parameters()) + list(target.parameters()))
    assert all(q.grad is not None for q in g.parameters())


def test_fresh_adams_reset_state_and_lr_at_the_switch():
    model = nn.Linear(2, 1)
    adams = FreshAdams(model, lr=1e-3, lr_late=1e-4, switch_after=2)
    x, y = torch.randn(4, 2), torch.zeros(4, dtype=torch.long)
    step = classifier_step(nn.Sequential(model, nn.Linear(1, 2)), adams)
    step(x, y)
    first = adams.optimizers[0]
    adams()
    assert adams.optimizers[0] is first
    adams()
    assert (
        adams.optimizers[0] is not first
        and adams.optimizers[0].param_groups[0]["lr"] == 1e-4
    )
    assert not adams.optimizers[0].state


def test_generate_matches_the_clipping_trick():
    torch.manual_seed(0)
    g = generator().eval()
    x, _ = data(10)
    x_adv, norms = generate(g, x, bound=0.3, batch_size=4)
    with torch.no_grad():
        p = g(x)
    torch.testing.assert_close(x_adv, clip_perturbation(x, p, bound=0.3))
    torch.testing.assert_close(norms, p.flatten(1).norm(dim=1))


def test_iterative_fgsm_has_no_projection():
    # A linear two-class model: ∇ₓCE = -(1 - p_y)(w_y - w_other) keeps its sign, so
    # every step moves each pixel by exactly eps.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))
    x = torch.full((4, 1, 28, 28), 0.5)
    y = torch.zeros(4, dtype=torch.long)
    x_adv = iterative_fgsm(model, x, y, eps=0.001, alpha=2 / 255, steps=50)
    change = (x_adv - x).abs()
    # 50 steps of 0.001
    torch.testing.assert_close(change.amax(), torch.tensor(0.05), rtol=0, atol=1e-5)
    assert change.amax() > 0.001  # far beyond the "eps" of a projected attack
    x_grad = x.clone().requires_grad_(True)
    grad_sign = torch.autograd.grad(F.cross_entropy(model(x_grad), y), x_grad)[0].sign()
    torch.testing.assert_close(
        x_adv, (x + 0.05 * grad_sign).clamp(0, 1), rtol=0, atol=1e-5
    )


def test_the_target_trains_through_fit():
    torch.manual_seed(0)
    model = TargetNet()
    adams = FreshAdams(model, lr=1e-3, lr_late=1e-4, switch_after=1)
    x, y = data(64)
    history = fit(
        classifier_step(model, adams),
        Batches(x, y, batch_size=32),
        epochs=2,
        modules=(model,),
        after_epoch=adams,
    )
    assert (
        len(history["loss"]) == 2 and adams.optimizers[0].param_groups[0]["lr"] == 1e-4
    )

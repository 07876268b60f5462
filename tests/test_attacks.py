"""Properties every attack must have, on toy models (seconds): eps = 0 is the identity,
the norm bound holds, outputs stay in [0, 1], shape/dtype/device are kept, the model is
left as it was, seeds repeat, bad input raises. Then the attacks' defining formulas on a
linear model, where they can be checked by hand, and the new metrics."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib import attacks
from lib.metrics import min_norm_summary, rho_min_norm, success_rate
from papers.adversary_critic import attacks as critic_attacks
from papers.gan_adversarial_training import attacks as gan_attacks
from papers.learning_with_adversary import attacks as lwa_attacks


def toy_mlp(batch_norm=True):
    torch.manual_seed(0)
    # BatchNorm and dropout make train and eval mode differ, so a mode
    # switch would show.
    norm = [nn.BatchNorm1d(32)] if batch_norm else []
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 32),
        *norm,
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(32, 10),
    ).eval()


def toy_conv():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(144, 10)
    ).eval()


def linear():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()


def batch(n=8, dtype=torch.float32):
    """Uniform pixels, some exactly 0 and 1, so that box projection has work to do."""
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 28, 28, generator=generator, dtype=dtype)
    x[:, :, :4] = 0
    x[:, :, -4:] = 1
    return x


def labels(model, x):
    with torch.no_grad():
        return model(x).argmax(1)


# name: (attack(model, x, y, eps, seed), the norm it is bounded in). Small step counts
# keep the file fast.
BOUNDED = {
    "fgsm": (lambda m, x, y, eps, seed: attacks.fgsm(m, x, y, eps=eps), "linf"),
    "pgd_linf": (
        lambda m, x, y, eps, seed: attacks.pgd(
            m, x, y, eps=eps, alpha=eps / 4, steps=3, seed=seed
        ),
        "linf",
    ),
    "pgd_l2": (
        lambda m, x, y, eps, seed: attacks.pgd(
            m, x, y, eps=eps, alpha=eps / 4, steps=3, norm="l2", restarts=2, seed=seed
        ),
        "l2",
    ),
    "uniform_noise": (
        lambda m, x, y, eps, seed: gan_attacks.uniform_noise(x, eps=eps, seed=seed),
        "linf",
    ),
    "adv_loss": (
        lambda m, x, y, eps, seed: lwa_attacks.adv_loss(m, x, y, eps=eps),
        "l2",
    ),
    "adv_loss_sign": (
        lambda m, x, y, eps, seed: lwa_attacks.adv_loss_sign(m, x, y, eps=eps),
        "l2",
    ),
    "adv_alpha": (
        lambda m, x, y, eps, seed: lwa_attacks.adv_alpha(m, x, y, eps=eps),
        "l2",
    ),
    "vat": (
        lambda m, x, y, eps, seed: critic_attacks.vat(m, x, y, eps=eps, seed=seed),
        "l2",
    ),
}
EPS = {"linf": 0.05, "l2": 1.0}
SEEDED = ("pgd_linf", "pgd_l2", "uniform_noise", "vat")

# name: attack(model, x, y, steps) for the minimum-norm attacks, which have no eps.
MIN_NORM = {
    "deepfool": lambda m, x, y, steps: attacks.deepfool(m, x, y, steps=steps),
    "deepfool_step_clip": lambda m, x, y, steps: attacks.deepfool(
        m, x, y, steps=steps, step_clip=0.05
    ),
    "high_confidence": lambda m, x, y, steps: critic_attacks.high_confidence(
        m, x, y, steps=steps, step_clip=0.1, overshoot=0.02
    ),
    "cw_l2": lambda m, x, y, steps: critic_attacks.cw_l2(
        m, x, y, steps=steps, binary_steps=3, c=0.1
    ),
}


def every_attack():
    """(name, attack(model, x, y)) for all attacks at their test settings."""
    out = [
        (name, lambda m, x, y, f=f, norm=norm: f(m, x, y, EPS[norm], 0))
        for name, (f, norm) in BOUNDED.items()
    ]
    out += [(name, lambda m, x, y, f=f: f(m, x, y, 10)) for name, f in MIN_NORM.items()]
    return out


ALL = dict(every_attack())
MODELS = {"mlp": toy_mlp, "conv": toy_conv}


def norms(delta, norm):
    flat = delta.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


@pytest.mark.parametrize("name", BOUNDED)
def test_eps_zero_returns_x(name):
    model, x = toy_mlp(), batch()
    f, _ = BOUNDED[name]
    assert torch.equal(f(model, x, labels(model, x), 0.0, 0), x)


@pytest.mark.parametrize("name", MIN_NORM)
def test_zero_steps_return_x(name):
    model, x = toy_mlp(), batch()
    assert torch.equal(MIN_NORM[name](model, x, labels(model, x), 0), x)


@pytest.mark.parametrize("model_name", MODELS)
@pytest.mark.parametrize("name", BOUNDED)
def test_norm_bound_holds(name, model_name):
    model, x = MODELS[model_name](), batch()
    f, norm = BOUNDED[name]
    eps = EPS[norm]
    x_adv = f(model, x, labels(model, x), eps, 0)
    assert norms(x_adv - x, norm).max().item() <= eps * (1 + 1e-5)
    assert norms(x_adv - x, norm).max().item() > 0.5 * eps, (
        "the attack should move the points"
    )


@pytest.mark.parametrize(
    "fn",
    [
        lwa_attacks.adv_loss,
        lwa_attacks.adv_loss_sign,
        lwa_attacks.adv_alpha,
        critic_attacks.vat,
    ],
    ids=lambda fn: fn.__name__,
)
def test_l2_attacks_without_clip_have_norm_exactly_eps(fn):
    model, x = toy_conv(), batch()
    x_adv = fn(model, x, labels(model, x), eps=1.5, clip=False)
    assert torch.allclose(norms(x_adv - x, "l2"), torch.full((len(x),), 1.5), rtol=1e-5)


def test_adv_loss_sign_spreads_eps_evenly_over_the_pixels():
    """c sign(g) / ||sign(g)||_2: every pixel with a nonzero gradient moves by the same
    c / sqrt(count)."""
    model, x = linear(), batch()
    delta = (
        lwa_attacks.adv_loss_sign(model, x, labels(model, x), eps=1.5, clip=False) - x
    ).flatten(1)
    moved = delta.abs() > 0
    expected = 1.5 / moved.sum(1, keepdim=True).float().sqrt()
    assert torch.allclose(
        delta.abs()[moved], expected.expand_as(delta)[moved], rtol=1e-5
    )


def test_adv_loss_is_one_l2_pgd_step():
    model, x = toy_mlp(), batch()
    y = labels(model, x)
    # PGD's projection onto the eps-ball rescales by eps / ||delta|| = 1 up to rounding.
    assert torch.allclose(
        lwa_attacks.adv_loss(model, x, y, eps=1.0),
        attacks.pgd(
            model, x, y, eps=1.0, alpha=1.0, steps=1, norm="l2", random_start=False
        ),
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.parametrize("name", ALL)
def test_outputs_stay_in_the_box(name):
    model, x = toy_conv(), batch()
    x_adv = ALL[name](model, x, labels(model, x))
    assert x_adv.min().item() >= 0 and x_adv.max().item() <= 1


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_and_device_are_kept(name):
    model, x = toy_mlp().double(), batch(6, dtype=torch.float64)
    x_adv = ALL[name](model, x, labels(model, x))
    assert (
        x_adv.shape == x.shape
        and x_adv.dtype == torch.float64
        and x_adv.device == x.device
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ALL)
def test_cuda_in_cuda_out(name):
    model, x = toy_mlp().cuda(), batch().cuda()
    assert ALL[name](model, x, labels(model, x)).device == x.device


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", ALL)
def test_model_is_left_as_it_was(name, training):
    """Mode of every submodule, parameter values and .grad (set or None) are all
    unchanged. In train mode the model has no BatchNorm: attacks that drop finished
    examples from the batch may call it on a single example."""
    model, x = toy_mlp(batch_norm=not training), batch()
    y = labels(model, x)
    model.train(training)
    params = list(model.parameters())
    sentinels = {i: torch.full_like(p, 0.5) for i, p in enumerate(params) if i % 2 == 0}
    for i, p in enumerate(params):
        p.grad = sentinels[i].clone() if i in sentinels else None
    values = [p.detach().clone() for p in params]
    modes = [m.training for m in model.modules()]

    ALL[name](model, x, y)

    assert [m.training for m in model.modules()] == modes
    for i, p in enumerate(params):
        assert torch.equal(p.detach(), values[i])
        if i in sentinels:
            assert torch.equal(p.grad, sentinels[i])
        else:
            assert p.grad is None


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_result(name):
    model, x = toy_mlp(), batch()
    y = labels(model, x)
    assert torch.equal(ALL[name](model, x, y), ALL[name](model, x, y))


@pytest.mark.parametrize("name", SEEDED)
def test_another_seed_another_result(name):
    model, x = toy_mlp(), batch()
    f, norm = BOUNDED[name]
    y = labels(model, x)
    assert not torch.equal(f(model, x, y, EPS[norm], 0), f(model, x, y, EPS[norm], 1))


# Bad input: a ValueError that names the argument.


@pytest.mark.parametrize("name", ALL)
def test_x_outside_the_box_raises(name):
    model, x = toy_mlp(), batch()
    y = labels(model, x)
    with pytest.raises(ValueError, match="x must lie in"):
        ALL[name](model, x * 2, y)
    with pytest.raises(ValueError, match="x must lie in"):
        ALL[name](model, x - 0.5, y)


@pytest.mark.parametrize("name", [n for n in ALL if n != "uniform_noise"])
def test_labels_of_the_wrong_shape_raise(name):
    model, x = toy_mlp(), batch()
    y = labels(model, x)
    for bad in (y[:-1], y.unsqueeze(1), F.one_hot(y, 10)):
        with pytest.raises(ValueError, match="y must have shape"):
            ALL[name](model, x, bad)


@pytest.mark.parametrize("name", BOUNDED)
def test_negative_eps_raises(name):
    model, x = toy_mlp(), batch()
    f, _ = BOUNDED[name]
    with pytest.raises(ValueError, match="eps must be >= 0"):
        f(model, x, labels(model, x), -0.1, 0)


@pytest.mark.parametrize("name", MIN_NORM)
def test_negative_steps_raise(name):
    model, x = toy_mlp(), batch()
    with pytest.raises(ValueError, match="steps must be >= 0"):
        MIN_NORM[name](model, x, labels(model, x), -1)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda m, x, y: attacks.pgd(m, x, y, eps=0.1, alpha=0.01, steps=-1), "steps"),
        (lambda m, x, y: attacks.pgd(m, x, y, eps=0.1, alpha=-0.01, steps=1), "alpha"),
        (
            lambda m, x, y: attacks.pgd(
                m, x, y, eps=0.1, alpha=0.01, steps=1, restarts=-1
            ),
            "restarts",
        ),
        (lambda m, x, y: attacks.deepfool(m, x, y, overshoot=-0.02), "overshoot"),
        (lambda m, x, y: attacks.deepfool(m, x, y, step_clip=-0.1), "step_clip"),
        (
            lambda m, x, y: critic_attacks.high_confidence(
                m, x, y, steps=5, step_clip=-0.1, overshoot=0.02
            ),
            "step_clip",
        ),
        (
            lambda m, x, y: critic_attacks.high_confidence(
                m, x, y, steps=5, step_clip=0.1, overshoot=0.02, confidence=1.5
            ),
            "confidence",
        ),
        (
            lambda m, x, y: critic_attacks.cw_l2(m, x, y, binary_steps=-1),
            "binary_steps",
        ),
        (lambda m, x, y: critic_attacks.cw_l2(m, x, y, c=-1.0), "c"),
        (lambda m, x, y: critic_attacks.cw_l2(m, x, y, kappa=-1.0), "kappa"),
        (lambda m, x, y: critic_attacks.cw_l2(m, x, y, lr=-1.0), "lr"),
        (lambda m, x, y: critic_attacks.vat(m, x, y, eps=1.0, xi=-1e-6), "xi"),
    ],
)
def test_other_bad_numbers_raise(call, argument):
    model, x = toy_mlp(), batch()
    with pytest.raises(ValueError, match=f"^{argument} must"):
        call(model, x, labels(model, x))


def test_unknown_norm_raises():
    model, x = toy_mlp(), batch()
    with pytest.raises(ValueError, match="norm must be one of"):
        attacks.pgd(model, x, labels(model, x), eps=0.1, alpha=0.01, steps=1, norm="l1")


# The defining formulas, on a linear model f(x) = Wx + b where they can be
# computed by hand.


def closest_hyperplane(model, x, y):
    """Per example, the class k != y whose hyperplane f_k = f_y is closest, and the
    distance to it."""
    W, b = model[1].weight.detach(), model[1].bias.detach()
    z = x.flatten(1) @ W.T + b
    w = W.unsqueeze(0) - W[y].unsqueeze(1)  # (N, K, D)
    dist = (z - z.gather(1, y.unsqueeze(1))).abs() / w.norm(dim=2)
    dist[torch.arange(len(y)), y] = float("inf")
    return dist.min(1)


def test_deepfool_steps_exactly_onto_the_closest_hyperplane_of_a_linear_model():
    model = linear().double()
    x = batch(dtype=torch.float64)
    y = labels(model, x)
    dist, k = closest_hyperplane(model, x, y)
    x_adv = attacks.deepfool(model, x, y, steps=1, overshoot=0.0, clip=False)
    # One step lands 1e-4 past the boundary, toward class k.
    assert torch.allclose(norms(x_adv - x, "l2"), dist + 1e-4, rtol=1e-6)
    assert torch.equal(labels(model, x_adv), k)


def test_deepfool_caps_each_step_and_stops_once_fooled():
    model, x = toy_mlp(), batch()
    y = labels(model, x)
    one = attacks.deepfool(
        model, x, y, steps=1, overshoot=0.02, step_clip=0.05, clip=False
    )
    assert norms(one - x, "l2").max().item() <= 1.02 * (0.05 + 1e-4) * (1 + 1e-5)
    full = attacks.deepfool(model, x, y, steps=200)
    assert (labels(model, full) != y).all()
    # Once fooled, an example is left alone: more steps change nothing.
    assert torch.equal(full, attacks.deepfool(model, x, y, steps=400))


def test_high_confidence_reaches_the_closest_class_with_the_clean_confidence():
    model = linear()
    x = batch()
    y = labels(model, x)
    _, target = closest_hyperplane(model, x, y)
    clean_confidence = model(x).softmax(1).amax(1).detach()
    x_adv = critic_attacks.high_confidence(
        model, x, y, steps=500, step_clip=0.1, overshoot=0.02, clip=False
    )
    probs = model(x_adv).softmax(1).detach()
    assert torch.equal(probs.argmax(1), target)
    assert (
        probs.gather(1, target.unsqueeze(1)).squeeze(1) >= clean_confidence * (1 - 1e-5)
    ).all()
    one = critic_attacks.high_confidence(
        model, x, y, steps=1, step_clip=0.1, overshoot=0.02, clip=False
    )
    assert norms(one - x, "l2").max().item() <= 1.02 * 0.1 * (1 + 1e-5)


def test_adv_alpha_follows_the_softmax_jacobian():
    """Algorithm 1 by hand, one example at a time with
    torch.autograd.functional.jacobian."""
    model = linear().double()
    x = batch(4, dtype=torch.float64)
    y = labels(model, x)
    x_adv = lwa_attacks.adv_alpha(model, x, y, eps=1.5, clip=False)
    for i in range(len(x)):
        alpha = model(x[i : i + 1]).softmax(1)[0].detach()
        T = torch.autograd.functional.jacobian(
            lambda v: model(v).softmax(1)[0], x[i : i + 1]
        ).flatten(1)
        J = y[i]
        others = [j for j in range(10) if j != J]
        distance = torch.stack(
            [(alpha[J] - alpha[j]).abs() / (T[j] - T[J]).norm() for j in others]
        )
        j = others[distance.argmin()]
        r = T[j] - T[J]
        assert torch.allclose(
            (x_adv[i] - x[i]).flatten(), 1.5 * r / r.norm(), atol=1e-10
        )


@pytest.mark.parametrize("probs", [False, True])
def test_the_jacobians_equal_a_plain_autograd_jacobian_on_a_conv_net(probs):
    """jacobian and closest_boundary (K - 1 passes on the differences) against
    torch.autograd.functional.jacobian, one example at a time, on Caffe's LeNet:
    equal within 1e-5."""
    from papers.learning_with_adversary.models import caffe_lenet

    torch.manual_seed(3)
    model = caffe_lenet().eval()
    x = batch(6)
    y = torch.tensor([0, 3, 9, 5, 1, 7])
    out, jac = attacks.jacobian(model, x, probs=probs)
    k, dist, w, w_norm = attacks.closest_boundary(model, x, y, probs=probs)
    expected = attacks.closest_boundary_from_jacobian(out, jac, y)
    for i in range(len(x)):
        f = (lambda v: model(v).softmax(1)[0]) if probs else (lambda v: model(v)[0])
        plain = torch.autograd.functional.jacobian(f, x[i : i + 1]).flatten(1)
        torch.testing.assert_close(jac[i].flatten(1), plain, rtol=0, atol=1e-5)
        others = [j for j in range(10) if j != y[i]]
        diffs = plain[others] - plain[y[i]]
        gaps = (f(x[i : i + 1]) - f(x[i : i + 1])[y[i]]).detach()[others]
        nearest = (gaps.abs() / (diffs.norm(dim=1) + 1e-8)).argmin()
        assert k[i] == expected[0][i] == others[nearest]
        torch.testing.assert_close(w[i].flatten(), diffs[nearest], rtol=0, atol=1e-5)
        torch.testing.assert_close(
            w_norm[i], diffs[nearest].norm(), rtol=1e-5, atol=1e-5
        )
    for ours, theirs in zip((dist, w, w_norm), expected[1:], strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_cw_l2_finds_points_no_closer_than_the_boundary():
    """On a linear model the closest misclassified point (without the box) is at the
    hyperplane distance: C&W's successes can be near it but never closer."""
    model, x = linear(), batch()
    y = labels(model, x)
    x_adv = critic_attacks.cw_l2(model, x, y, steps=200, binary_steps=5, c=0.1)
    fooled = labels(model, x_adv) != y
    assert fooled.float().mean().item() >= 0.75
    dist, _ = closest_hyperplane(model, x, y)
    assert (norms(x_adv - x, "l2")[fooled] >= dist[fooled] * (1 - 1e-3)).all()


def test_cw_l2_failures_come_back_as_x():
    model, x = toy_mlp(), batch()
    y = labels(model, x)
    # Too weak to succeed anywhere
    x_adv = critic_attacks.cw_l2(model, x, y, c=1e-9, steps=5, binary_steps=1)
    assert torch.equal(x_adv, x)
    assert success_rate(model, x, x_adv, y) == 0.0


# The metrics for minimum-norm attacks.


class FirstPixel(nn.Module):
    """Class 1 when the first pixel is above 0.5, else class 0."""

    def forward(self, x):
        first = x.flatten(1)[:, :1]
        return torch.cat([(0.5 - first) * 20, (first - 0.5) * 20], 1)


def test_rho_counts_misclassified_points_as_zero_and_failures_both_ways():
    model = FirstPixel()
    x = torch.full((4, 1, 2, 2), 0.2)  # ||x||_2 = 0.4
    x[3, 0, 0, 0] = 0.9  # predicted 1
    y = torch.tensor([0, 0, 0, 0])  # so example 3 is already misclassified
    x_adv = x.clone()
    x_adv[0, 0, 0, 0] = 0.6  # fooled, ||r|| = 0.4 -> ratio 1
    x_adv[1, 0, 0, 0] = 0.8  # fooled, ||r|| = 0.6 -> ratio 1.5
    # not fooled: a failure, ||r|| = 0.1 -> ratio 0.25
    x_adv[2, 0, 0, 0] = 0.3
    # Already misclassified: counts 0 whatever the attack returned
    x_adv[3] = 0.0
    assert rho_min_norm(model, x, x_adv, y, failures="exclude") == pytest.approx(
        (1 + 1.5 + 0) / 3
    )
    assert rho_min_norm(model, x, x_adv, y, failures="count") == pytest.approx(
        (1 + 1.5 + 0.25 + 0) / 4
    )
    grey = rho_min_norm(model, x, x_adv, y, failures="count", failed_x_adv=0.5)
    assert grey == pytest.approx((1 + 1.5 + 0.3 * 2 / 0.4 + 0) / 4)
    assert success_rate(model, x, x_adv, y) == pytest.approx(2 / 3)
    summary = min_norm_summary(model, x, x_adv, y)
    assert summary["n_failures"] == 1 and summary["median_l2"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="failures must be"):
        rho_min_norm(model, x, x_adv, y, failures="drop")

"""Our attacks against independent implementations (torchattacks, foolbox) on an MLP and
a LeNet trained once.

Where a peer differs by design the test says so and compares like with like. The
models train once through lib.cache (data/cache/attack_peers/), so only the first run
pays for the training.
"""

import foolbox
import pytest
import torch
import torch.nn.functional as F
import torchattacks

from lib import attacks
from lib.cache import cached
from lib.data import Batches, load_mnist
from lib.metrics import (
    accuracy,
    l2_norms,
    predictions,
    rho_min_norm,
    robust_accuracy,
    success_rate,
)
from lib.models import mlp
from lib.peers import foolbox_cw
from lib.train import train
from papers.adversary_critic import attacks as critic_attacks
from papers.adversary_critic.models import lenet

# Short training: the comparisons need models that are accurate and not robust,
# not state-of-the-art ones.
SPECS = {
    "mlp": {
        "arch": "mlp 784-256-256-10",
        "n_train": 60000,
        "epochs": 2,
        "batch_size": 128,
        "lr": 1e-3,
        "seed": 0,
    },
    "lenet": {
        "arch": "lenet (001)",
        "n_train": 20000,
        "epochs": 1,
        "batch_size": 128,
        "lr": 1e-3,
        "seed": 0,
    },
}
# LeNet's K backward passes per DeepFool step are costly on 2 CPU cores
N_TEST = {"mlp": 200, "lenet": 60}


def build(name):
    return mlp([784, 256, 256, 10]) if name == "mlp" else lenet()


def trained(name, x_train, y_train):
    spec = SPECS[name]

    def make():
        torch.manual_seed(spec["seed"])
        model = build(name)
        batches = Batches(
            x_train[: spec["n_train"]],
            y_train[: spec["n_train"]],
            batch_size=spec["batch_size"],
            seed=spec["seed"],
        )
        train(
            model,
            batches,
            epochs=spec["epochs"],
            optimizer=torch.optim.Adam(model.parameters(), lr=spec["lr"]),
        )
        return model.state_dict()

    model = build(name)
    model.load_state_dict(cached("attack_peers", spec, make))
    return model.eval()


@pytest.fixture(scope="session")
def setups():
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    out = {}
    for name in SPECS:
        model = trained(name, x_train, y_train)
        x, y = x_test[: N_TEST[name]], y_test[: N_TEST[name]]
        assert accuracy(model, x, y) > 0.95, f"the {name} fixture did not train"
        out[name] = (model, x, y)
    return out


def fmodel(model):
    return foolbox.PyTorchModel(model, bounds=(0, 1))


@pytest.mark.parametrize("name", SPECS)
def test_fgsm_equals_torchattacks(setups, name):
    model, x, y = setups[name]
    ours = attacks.fgsm(model, x, y, eps=0.1)
    theirs = torchattacks.FGSM(model, eps=0.1)(x, y)
    assert (ours - theirs).abs().max().item() <= 1e-6


@pytest.mark.parametrize("name", SPECS)
def test_pgd_linf_matches_torchattacks(setups, name):
    model, x, y = setups[name]
    settings = dict(eps=0.1, alpha=0.01, steps=20)
    # Without the random start both are deterministic and must agree point for point.
    ours = attacks.pgd(model, x, y, **settings, random_start=False)
    theirs = torchattacks.PGD(model, **settings, random_start=False)(x, y)
    assert (ours - theirs).abs().max().item() <= 1e-6
    # With it, the random draws differ (torchattacks uses the global RNG), so
    # compare robust accuracy.
    torch.manual_seed(0)
    ours = accuracy(model, attacks.pgd(model, x, y, **settings, seed=0), y)
    theirs = accuracy(
        model, torchattacks.PGD(model, **settings, random_start=True)(x, y), y
    )
    assert abs(ours - theirs) <= 0.01, (ours, theirs)
    assert ours < accuracy(model, x, y) - 0.1, (
        "PGD at eps 0.1 should hurt an undefended model"
    )


def test_pgd_l2_matches_torchattacks(setups):
    model, x, y = setups["mlp"]
    settings = dict(eps=1.5, alpha=0.1, steps=20)
    torch.manual_seed(0)
    ours = robust_accuracy(
        model,
        lambda m, xb, yb: attacks.pgd(m, xb, yb, **settings, norm="l2", seed=0),
        x,
        y,
    )
    theirs = accuracy(
        model, torchattacks.PGDL2(model, **settings, random_start=True)(x, y), y
    )
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


@pytest.mark.parametrize("name", SPECS)
def test_deepfool_rho_matches_foolbox(setups, name):
    """foolbox's L2DeepFoolAttack takes its source class from the clean prediction,
    which is y on every point the model gets right; on the others both return x. It has
    no per-step clip, so we compare without one."""
    model, x, y = setups[name]
    ours = attacks.deepfool(
        model, x, y, steps=50, overshoot=0.02, step_clip=None, clip=True
    )
    theirs, _, _ = foolbox.attacks.L2DeepFoolAttack(
        steps=50, candidates=10, overshoot=0.02
    )(fmodel(model), x, y, epsilons=None)
    rho_ours, rho_theirs = (
        rho_min_norm(model, x, ours, y),
        rho_min_norm(model, x, theirs, y),
    )
    assert abs(rho_ours - rho_theirs) <= 0.05 * rho_theirs, (rho_ours, rho_theirs)
    assert success_rate(model, x, ours, y) >= success_rate(model, x, theirs, y)


def test_cw_l2_matches_foolbox(setups):
    """Like with like: foolbox's all-zero outputs are failures, returned as x as ours
    are (lib.peers.foolbox_cw; a real C&W output, (tanh(w) + 1) / 2, is never exactly
    0 in every pixel)."""
    model, x, y = setups["mlp"]
    x, y = x[:150], y[:150]
    settings = dict(
        binary_steps=9, c=1e-3, lr=1e-2, steps=200, kappa=0.0, abort_early=True
    )
    ours = critic_attacks.cw_l2(model, x, y, **settings)
    attack = foolbox.attacks.L2CarliniWagnerAttack(
        binary_search_steps=9,
        initial_const=1e-3,
        stepsize=1e-2,
        steps=200,
        confidence=0.0,
        abort_early=True,
    )
    theirs = foolbox_cw(fmodel(model), attack)(x, y)

    correct = predictions(model, x) == y
    ok_ours, ok_theirs = (
        correct & (predictions(model, ours) != y),
        correct & (predictions(model, theirs) != y),
    )
    assert ok_ours.float().mean() >= ok_theirs.float().mean()
    assert ok_ours.float().mean() > 0.5, "C&W should fool most points at these settings"
    median_ours, median_theirs = (
        l2_norms(x, ours)[ok_ours].median(),
        l2_norms(x, theirs)[ok_theirs].median(),
    )
    assert abs(median_ours - median_theirs) <= 0.05 * median_theirs, (
        median_ours,
        median_theirs,
    )
    # Failures are visible as x itself, never as a stand-in image.
    assert torch.equal(ours[correct & ~ok_ours], x[correct & ~ok_ours])


def test_vat_matches_its_formula_on_a_linear_model():
    """For f(x) = Wx + b, ∇_r KL(p(x) || p(x + r)) = Wᵀ(softmax(W(x + r) + b) -
    softmax(Wx + b)): the power iteration's direction by hand, in float64, from the
    same seeded d."""
    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).double()
    x = torch.rand(16, 1, 28, 28, dtype=torch.float64)
    eps, xi, seed = 2.0, 1e-6, 3
    ours = critic_attacks.vat(linear, x, eps=eps, xi=xi, seed=seed, clip=False)

    W, b = linear[1].weight.detach(), linear[1].bias.detach()
    d = (
        torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
        .double()
        .flatten(1)
    )
    r = xi * d / d.norm(dim=1, keepdim=True)
    flat = x.flatten(1)
    g = (F.softmax((flat + r) @ W.T + b, 1) - F.softmax(flat @ W.T + b, 1)) @ W
    expected = flat + eps * g / g.norm(dim=1, keepdim=True)
    # float64 rounding of p(x + r) - p(x) at xi = 1e-6
    assert (ours.flatten(1) - expected).abs().max().item() <= 1e-7
    # As xi -> 0 the direction is that of the Hessian times d: Wᵀ (diag p - p pᵀ) W d.
    p = F.softmax(flat @ W.T + b, 1)
    hd = ((p * (d @ W.T)) - p * (p * (d @ W.T)).sum(1, keepdim=True)) @ W
    # Normalise first: F.cosine_similarity clamps norms below 1e-8, and g is
    # of order xi.
    cosine = (F.normalize(g, dim=1) * F.normalize(hd, dim=1)).sum(1)
    assert cosine.min().item() > 1 - 1e-6

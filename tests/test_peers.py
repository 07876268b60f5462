"""The attacks page's peers and clock (lib.peers): every peer an attack at our settings,
foolbox's C&W failures returned as x, and fast attacks timed again."""

from types import SimpleNamespace

import torch

from lib.models import mlp
from lib.peers import MIN_NORM, foolbox_cw, peers, run_and_time

SETTINGS = SimpleNamespace(
    eps_linf=0.1,
    eps_l2=1.5,
    pgd_steps=3,
    pgd_alpha_linf=0.01,
    pgd_alpha_l2=0.1,
    deepfool_steps=5,
    overshoot=0.02,
    cw_steps=5,
    cw_binary_steps=2,
    cw_c=1e-3,
    cw_lr=1e-2,
    cw_fixed_c=1.0,
)


def test_every_peer_attacks_a_batch_inside_the_image_box():
    torch.manual_seed(0)
    model = mlp([784, 16, 10]).eval()
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    theirs = peers(model, SETTINGS, torch.device("cpu"))
    assert set(theirs) == {"FGSM", "PGD L∞", "PGD L2"} | MIN_NORM - {"High-confidence"}
    for libraries in theirs.values():
        for attack in libraries.values():
            x_adv = attack(x, y)
            assert x_adv.shape == x.shape
            assert 0 <= x_adv.min() and x_adv.max() <= 1


def test_a_foolbox_cw_failure_is_x_itself():
    x = torch.rand(3, 1, 28, 28)
    found = torch.rand(3, 1, 28, 28)
    found[1] = 0  # foolbox's stand-in where no constant succeeded

    def attack(fmodel, xb, yb, epsilons):
        return found, None, None

    x_adv = foolbox_cw(None, attack)(x, torch.zeros(3, dtype=torch.long))
    assert torch.equal(x_adv[1], x[1])
    assert torch.equal(x_adv[[0, 2]], found[[0, 2]])


def test_fast_attacks_are_timed_again_interleaved():
    calls = {"a": 0, "b": 0}

    def counted(name):
        def attack(x, y):
            calls[name] += 1
            return x + 1

        return attack

    x, y = torch.zeros(5, 1, 28, 28), torch.zeros(5, dtype=torch.long)
    timed = run_and_time({"a": counted("a"), "b": counted("b")}, x, y)
    assert torch.equal(timed["a"][0], x + 1) and timed["b"][1] > 0
    # a warm-up, the timed call, then 5 rounds of repeated calls each
    assert calls["a"] > 2 + 5 and calls["b"] > 2 + 5

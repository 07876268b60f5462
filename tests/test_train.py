"""The training loop, its learning-rate rules, the adversary-defender game
and the cache."""

import pytest
import torch
from torch import nn

from lib.cache import cached
from lib.data import Batches
from lib.metrics import accuracy
from lib.models import mlp
from lib.train import HalveEvery, HalveOnIncrease, fit, train
from papers.gan_adversarial_training.game import train_game
from papers.gan_adversarial_training.models import Perturber, squash_tanh


def toy_problem(n=512, seed=0):
    """Two separable blobs in [0, 1]^(1x4x4), their centres 0.4 apart."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = (
        0.3
        + 0.4 * y.view(-1, 1, 1, 1)
        + 0.1 * torch.randn(n, 1, 4, 4, generator=generator)
    ).clamp(0, 1)
    return x, y


def test_train_lowers_the_loss_and_is_seeded():
    x, y = toy_problem()
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        model = mlp([16, 8, 2])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        histories.append(
            train(
                model,
                Batches(x, y, batch_size=64, seed=0),
                epochs=5,
                optimizer=optimizer,
            )
        )
    assert histories[0] == histories[1]
    assert histories[0][-1] < histories[0][0] / 2


def test_fit_averages_each_stat_per_epoch_and_appends_after_epoch_values():
    x, y = toy_problem(n=100)
    model = mlp([16, 8, 2])
    model.eval()
    calls = []

    def step(xb, yb):
        calls.append(len(xb))
        return {
            "size": torch.tensor(float(len(xb))),
            "training": torch.tensor(float(model.training)),
        }

    history = fit(
        step,
        Batches(x, y, batch_size=40, shuffle=False),
        epochs=2,
        modules=[model],
        after_epoch=lambda h: {"epochs_seen": len(h["size"])},
    )
    assert calls == [40, 40, 20] * 2
    assert history == {
        "size": [pytest.approx(100 / 3)] * 2,
        "training": [1.0, 1.0],
        "epochs_seen": [1, 2],
    }


def test_fit_sets_modes_every_epoch_and_keeps_member_values_as_lists():
    x, y = toy_problem(n=40)
    learner, frozen = mlp([16, 8, 2]), mlp([16, 8, 2])
    seen = []

    def step(xb, yb):
        seen.append((learner.training, frozen.training))
        return {"per_member": torch.tensor([1.0, 2.0])}

    def flip(history):
        learner.eval()
        frozen.train()

    history = fit(
        step,
        Batches(x, y, batch_size=20),
        epochs=2,
        modules=[learner],
        frozen=[frozen],
        after_epoch=flip,
    )
    assert seen == [(True, False)] * 4
    assert history == {"per_member": [[1.0, 2.0], [1.0, 2.0]]}


def test_perturb_hook_sees_the_model_and_doubles_the_batch():
    x, y = toy_problem(n=100)
    model = mlp([16, 8, 2])
    seen = []

    def perturb(m, xb, yb):
        assert m is model and m.training
        seen.append(len(xb))
        return (xb + 0.01).clamp(0, 1)

    sizes = []
    handle = model.register_forward_hook(
        lambda module, inputs, output: sizes.append(len(inputs[0]))
    )
    train(
        model,
        Batches(x, y, batch_size=50),
        epochs=1,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        perturb=perturb,
    )
    handle.remove()
    assert seen == [50, 50] and sizes == [100, 100]


def test_halve_on_increase_and_halve_every():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    rule = HalveOnIncrease(optimizer)
    for loss in [1.0, 0.5, 0.6, 0.4, float("nan")]:
        rule(loss)
    assert optimizer.param_groups[0]["lr"] == 0.25
    every = HalveEvery(optimizer, epochs=2)
    for _ in range(5):
        every()
    assert optimizer.param_groups[0]["lr"] == 0.0625


def test_adversary_alone_raises_a_frozen_defenders_loss_and_leaves_it_untouched():
    torch.manual_seed(0)
    x, y = toy_problem()
    defender = mlp([16, 8, 2])
    train(
        defender,
        Batches(x, y, batch_size=64),
        epochs=10,
        optimizer=torch.optim.SGD(defender.parameters(), lr=0.5),
    )
    defender.eval().requires_grad_(False)
    before = {k: v.clone() for k, v in defender.state_dict().items()}
    # Enough to cross the 0.4 gap
    adversary = Perturber(mlp([16, 16, 16]), eps=0.5, squash=squash_tanh)
    assert accuracy(defender, x, y) > 0.95
    history = train_game(
        adversary,
        defender,
        Batches(x, y, batch_size=64),
        epochs=20,
        adversary_optimizer=torch.optim.SGD(adversary.parameters(), lr=0.5),
    )
    adversary.eval()
    assert accuracy(defender, adversary(x), y) < 0.75
    assert history["adversary"][-1] > history["adversary"][0]
    assert all(torch.equal(before[k], v) for k, v in defender.state_dict().items())


def test_game_trains_both_players():
    torch.manual_seed(0)
    x, y = toy_problem()
    defender, adversary = (
        mlp([16, 8, 2]),
        Perturber(mlp([16, 16, 16]), eps=0.1, squash=squash_tanh),
    )
    before = [p.clone() for p in defender.parameters()]
    history = train_game(
        adversary,
        defender,
        Batches(x, y, batch_size=64),
        epochs=3,
        adversary_optimizer=torch.optim.SGD(adversary.parameters(), lr=0.1),
        defender_optimizer=torch.optim.SGD(defender.parameters(), lr=0.5),
    )
    assert (
        len(history["defender"]) == 3
        and history["defender"][-1] < history["defender"][0]
    )
    assert any(
        not torch.equal(b, p)
        for b, p in zip(before, defender.parameters(), strict=True)
    )


def test_cache_computes_once_and_writes_atomically(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return {"weights": torch.arange(3.0), "history": [0.5, 0.25]}

    first = cached("toy", {"lr": 0.1, "seed": 0}, make, root=tmp_path)
    second = cached("toy", {"seed": 0, "lr": 0.1}, make, root=tmp_path)
    other = cached("toy", {"lr": 0.2, "seed": 0}, make, root=tmp_path)
    assert len(calls) == 2
    assert torch.equal(first["weights"], second["weights"]) and second["history"] == [
        0.5,
        0.25,
    ]
    assert other["history"] == [0.5, 0.25]
    files = sorted(p.name for p in (tmp_path / "toy").iterdir())
    assert len(files) == 2 and all(name.endswith(".pt") for name in files)


def test_an_interrupted_computation_leaves_no_cache_entry(tmp_path):
    def crash():
        raise KeyboardInterrupt

    try:
        cached("toy", {"seed": 1}, crash, root=tmp_path)
    except KeyboardInterrupt:
        pass
    assert not (tmp_path / "toy").exists() or not any((tmp_path / "toy").iterdir())


def test_the_adversary_may_step_against_the_defender_in_eval_mode():
    x, y = toy_problem()
    modes = []
    defender = mlp([16, 8, 2], batch_norm=True)
    defender[2].register_forward_hook(
        lambda module, args, out: modes.append(module.training)
    )
    adversary = Perturber(mlp([16, 16, 16]), eps=0.1, squash=squash_tanh)
    sgd = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (adversary, defender)]
    train_game(
        adversary,
        defender,
        Batches(x, y, batch_size=128, seed=0),
        epochs=1,
        adversary_optimizer=sgd[0],
        defender_optimizer=sgd[1],
        defender_eval_for_adversary=True,
    )
    # The adversary's step in eval mode, the defender's own in train mode
    assert modes == [False, True] * 4


def test_snapshots_keep_the_chosen_epochs_and_resume():
    from lib.train import Snapshots

    model = nn.Linear(2, 2)
    snapshots = Snapshots(model, epochs=(1, 3))
    for epoch in range(1, 4):
        with torch.no_grad():
            model.weight.fill_(epoch)
        snapshots()
    assert sorted(snapshots.states) == [1, 3]
    assert snapshots.states[1]["weight"].eq(1).all()
    assert snapshots.states[3]["weight"].eq(3).all()
    resumed = Snapshots(model, epochs=(1, 3))
    resumed.load_state_dict(snapshots.state_dict())
    assert resumed.epoch == 3 and sorted(resumed.states) == [1, 3]

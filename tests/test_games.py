"""The A3T game: which players each step moves, the AT special case, modes and
seeding."""

import copy

import torch
from torch import nn

from lib.attacks import fgsm, input_grad
from lib.data import Batches
from lib.models import mlp
from lib.train import train
from papers.a3t.game import (
    STATS,
    a3t_step,
    classifier_step,
    discriminator_step,
    fgsm_examples,
    game_metrics,
    train_a3t,
)

EPS = 0.1


def toy_problem(n=256, seed=0):
    """Two separable blobs in [0, 1]^(1x4x4), their centres 0.4 apart."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = (
        0.3
        + 0.4 * y.view(-1, 1, 1, 1)
        + 0.1 * torch.randn(n, 1, 4, 4, generator=generator)
    ).clamp(0, 1)
    return x, y


def players(seed=0):
    """A classifier nn.Sequential(E, R) on 16 inputs with 8 features, and a
    discriminator with dropout."""
    torch.manual_seed(seed)
    encoder = nn.Sequential(*mlp([16, 12, 8], activation=nn.LeakyReLU), nn.LeakyReLU())
    classifier = nn.Sequential(encoder, mlp([8, 8, 2], activation=nn.LeakyReLU))
    return classifier, mlp([8, 8, 1], dropout=0.5)


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return [
        not torch.equal(b, p) for b, p in zip(before, module.parameters(), strict=True)
    ]


def sgd(module, lr=0.1):
    return torch.optim.SGD(module.parameters(), lr=lr)


def test_discriminator_step_moves_only_the_discriminator():
    classifier, discriminator = players()
    x, y = toy_problem(n=64)
    x_adv = fgsm(classifier, x, y, eps=EPS)
    # With the encoder's graph attached
    z, z_adv = classifier[0](torch.cat([x, x_adv])).chunk(2)
    before_c, before_d = snapshot(classifier), snapshot(discriminator)
    loss, acc = discriminator_step(discriminator, z, z_adv, sgd(discriminator))
    assert all(changed(before_d, discriminator))
    assert not any(changed(before_c, classifier))
    assert all(p.grad is None for p in classifier.parameters())
    assert loss.item() > 0 and 0 <= acc.item() <= 1


def test_encoder_loss_moves_only_the_encoder():
    x, y = toy_problem(n=64)
    after = {}
    for beta in (0.0, 1.0):
        classifier, discriminator = players()
        discriminator.eval()  # no dropout, so the two runs see the same D
        x_adv = fgsm(classifier, x, y, eps=EPS)
        z, z_adv = classifier[0](torch.cat([x, x_adv])).chunk(2)
        before_d = snapshot(discriminator)
        _, loss_enc, _, _ = classifier_step(
            classifier,
            discriminator,
            z,
            z_adv,
            y,
            sgd(classifier),
            alpha=0.5,
            beta=beta,
        )
        assert not any(changed(before_d, discriminator))
        assert all(p.grad is None for p in discriminator.parameters())
        assert (loss_enc.item() > 0) == (beta > 0)
        after[beta] = classifier
    # With plain SGD the difference between the two updates is L_enc's gradient alone.
    encoder_diff = [
        not torch.allclose(a, b)
        for a, b in zip(
            after[0.0][0].parameters(), after[1.0][0].parameters(), strict=True
        )
    ]
    residual_same = [
        torch.allclose(a, b, atol=1e-7)
        for a, b in zip(
            after[0.0][1].parameters(), after[1.0][1].parameters(), strict=True
        )
    ]
    assert any(encoder_diff) and all(residual_same)


def test_alpha_half_beta_zero_is_plain_fgsm_adversarial_training():
    x, y = toy_problem()
    classifier, discriminator = players()
    reference = copy.deepcopy(classifier)
    history = train_a3t(
        classifier,
        discriminator,
        Batches(x, y, batch_size=64, seed=3),
        epochs=2,
        eps=EPS,
        alpha=0.5,
        beta=0.0,
        classifier_optimizer=sgd(classifier, 0.5),
        discriminator_optimizer=sgd(discriminator),
    )
    losses = train(
        reference,
        Batches(x, y, batch_size=64, seed=3),
        epochs=2,
        optimizer=sgd(reference, 0.5),
        perturb=lambda model, xb, yb: fgsm(model, xb, yb, eps=EPS),
    )
    for a, b in zip(classifier.parameters(), reference.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    # train() averages the cross-entropy over the joined clean + adversarial batch: ½
    # CE(x) + ½ CE(x_adv).
    assert torch.allclose(
        torch.tensor(history["loss_cls"]), torch.tensor(losses), atol=1e-5
    )
    assert history["loss_enc"] == [0.0, 0.0]


def test_train_mode_while_training_eval_mode_while_measuring():
    x, y = toy_problem()
    classifier, discriminator = players()
    seen = {"train": set(), "measure": set()}
    phase = "train"
    for module in (classifier, discriminator):
        module.register_forward_hook(lambda m, i, o: seen[phase].add(m.training))

    def evaluate(c, d):
        nonlocal phase
        phase = "measure"
        metrics = game_metrics(c, d, x, y, eps=EPS, batch_size=100)
        phase = "train"
        assert c.training and d.training  # game_metrics restores the modes it found
        return {"val_acc_real": metrics["acc_real"]}

    history = train_a3t(
        classifier,
        discriminator,
        Batches(x, y, batch_size=64),
        epochs=2,
        eps=EPS,
        alpha=0.5,
        beta=1.0,
        classifier_optimizer=sgd(classifier),
        discriminator_optimizer=sgd(discriminator),
        evaluate=evaluate,
    )
    assert seen == {"train": {True}, "measure": {False}}
    assert set(history) == set(STATS) | {"val_acc_real"}
    assert all(len(values) == 2 for values in history.values())


def test_the_same_seed_gives_the_same_game():
    x, y = toy_problem()
    runs = []
    for seed in (0, 0, 1):
        classifier, discriminator = players(seed)
        history = train_a3t(
            classifier,
            discriminator,
            Batches(x, y, batch_size=64, seed=seed),
            epochs=2,
            eps=EPS,
            alpha=0.5,
            beta=1.0,
            classifier_optimizer=torch.optim.Adam(classifier.parameters()),
            discriminator_optimizer=torch.optim.Adam(discriminator.parameters()),
        )
        runs.append((history, snapshot(classifier) + snapshot(discriminator)))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))
    assert runs[0][0] != runs[2][0]


def test_the_game_learns_and_the_metrics_are_sane():
    x, y = toy_problem()
    classifier, discriminator = players()
    optimizers = dict(
        classifier_optimizer=torch.optim.Adam(classifier.parameters(), lr=1e-2),
        discriminator_optimizer=torch.optim.Adam(discriminator.parameters(), lr=1e-2),
    )
    steps = [
        a3t_step(
            classifier,
            discriminator,
            xb,
            yb,
            eps=EPS,
            alpha=0.5,
            beta=1.0,
            **optimizers,
        )
        for _ in range(40)
        for xb, yb in Batches(x, y, batch_size=64)
    ]
    assert set(steps[0]) == set(STATS) and all(v.dim() == 0 for v in steps[0].values())
    assert steps[-1]["loss_cls"] < steps[0]["loss_cls"]
    metrics = game_metrics(classifier, discriminator, x, y, eps=EPS, batch_size=100)
    assert metrics["acc_real"] > 0.95
    assert all(0 <= metrics[k] <= 1 for k in ("acc_real", "acc_adv", "acc_disc"))
    assert 0 < metrics["feature_distance"] < metrics["feature_norm"]


def test_unclipped_fgsm_examples_are_goodfellows_and_may_leave_the_box():
    x, y = toy_problem(n=64)
    classifier, _ = players()
    torch.testing.assert_close(
        fgsm_examples(classifier, x, y, eps=0.25), fgsm(classifier, x, y, eps=0.25)
    )
    unclipped = fgsm_examples(classifier, x, y, eps=0.25, clip=False)
    grad, _ = input_grad(classifier, x, y)
    torch.testing.assert_close(unclipped, x + 0.25 * grad.sign())
    # The toy pixels lie within 0.25 of both edges
    assert unclipped.min() < 0 and unclipped.max() > 1
    torch.testing.assert_close(unclipped.clamp(0, 1), fgsm(classifier, x, y, eps=0.25))
    assert not unclipped.requires_grad


def test_the_unclipped_game_trains_on_the_unclipped_examples():
    x, y = toy_problem()
    runs = {}
    for clip in (True, False):
        classifier, discriminator = players()
        discriminator.eval()  # no dropout: the runs differ by their examples alone
        seen = []
        classifier[0].register_forward_hook(
            lambda m, i, o, seen=seen: seen.append(i[0].detach().clone())
        )
        history = train_a3t(
            classifier,
            discriminator,
            Batches(x, y, batch_size=64, seed=0),
            epochs=1,
            eps=0.25,
            alpha=0.5,
            beta=1.0,
            clip=clip,
            classifier_optimizer=sgd(classifier),
            discriminator_optimizer=sgd(discriminator),
        )
        # The encoder sees each batch joined with its examples: inside [0, 1]
        # only when clipped.
        runs[clip] = history
        assert all(
            (batch.min() >= 0 and batch.max() <= 1) == clip for batch in seen[1::2]
        )
    assert runs[True] != runs[False]
    metrics = {
        clip: game_metrics(classifier, discriminator, x, y, eps=0.25, clip=clip)
        for clip in (True, False)
    }
    assert metrics[True]["feature_distance"] != metrics[False]["feature_distance"]

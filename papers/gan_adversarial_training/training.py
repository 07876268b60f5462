"""The GAN paper's models as jobs for lib.jobs, the seeds of each as one stack: the
three baselines, the adversaries pre-trained against the vanilla model (§4.5), and the
GANs, plain or initialised with a pre-trained adversary. A job that needs another's
models (a pre-training needs the vanilla models) loads them through the cache."""

from torch import nn

from lib import jobs
from lib.attacks import fgsm
from lib.data import load_mnist
from lib.models import mlp
from lib.stack import member_histories, stack, stack_seeds, unstack
from lib.stack_optim import StackedBatches, StackedSGD
from lib.train import HalveEvery, HalveOnIncrease, train
from papers.gan_adversarial_training.attacks import uniform_noise
from papers.gan_adversarial_training.game import train_game
from papers.gan_adversarial_training.models import (
    Perturber,
    squash_minmax,
    squash_scaled,
    squash_tanh,
)

SLUG = "gan_adversarial_training"
SQUASH = {"tanh": squash_tanh, "scaled": squash_scaled, "min-max": squash_minmax}


def make_defender(train):
    """784-128-64-10, every hidden layer Linear + BatchNorm + leaky ReLU; logits."""

    def act():
        return nn.LeakyReLU(train["leaky_slope"])

    return mlp([784, *train["hidden"], 10], batch_norm=True, activation=act)


def make_adversary(train, squash):
    """784-512-512-784, its output squashed to [-1, 1], scaled by λ, added, clipped."""

    def act():
        return nn.LeakyReLU(train["leaky_slope"])

    net = mlp([784, *train["adversary_hidden"], 784], batch_norm=True, activation=act)
    return Perturber(net, eps=train["eps_train"], squash=SQUASH[squash])


def batches(train, seeds, device):
    x, y = load_mnist("train", device=device)
    n = train["n_train"]
    return StackedBatches(x[:n], y[:n], batch_size=train["batch_size"], seeds=seeds)


def sgd(train, model):
    """SGD over a stack of models: one learning rate per member."""
    return StackedSGD(
        model.parameters(),
        lr=train["lr"],
        momentum=train["momentum"],
        weight_decay=train["weight_decay"],
    )


def per_member(players, history):
    """A trained stack as one run per member: each player's weights and history."""
    states = {
        name: [m.state_dict() for m in unstack(player)]
        for name, player in players.items()
    }
    histories = member_histories(history, len(next(iter(states.values()))))
    return [
        {**{name: s[e] for name, s in states.items()}, "history": histories[e]}
        for e in range(len(histories))
    ]


def train_baseline(*, name, seeds, train, device):
    """A job: vanilla, random noise or FGSM adversarial training, SGD with the paper's
    rule (halve the learning rate when the epoch's loss rises)."""
    perturb = {
        "undefended": None,
        "random noise": lambda model, x, y: uniform_noise(x, eps=train["noise"]),
        "adversarial training": lambda model, x, y: fgsm(
            model, x, y, eps=train["eps_train"]
        ),
    }[name]
    model = stack_seeds(lambda: make_defender(train).to(device), seeds)
    optimizer = sgd(train, model)
    losses = train_model(
        model, batches(train, seeds, device), train, optimizer, perturb
    )
    return per_member({"defender": model}, {"defender": losses})


def train_model(model, data, cfg, optimizer, perturb):
    return train(
        model,
        data,
        epochs=cfg["epochs"],
        optimizer=optimizer,
        perturb=perturb,
        after_epoch=HalveOnIncrease(optimizer),
    )


def job_of(spec):
    """The training job of a spec: a baseline's names its method, a pre-trained
    adversary's holds its vanilla models', a GAN's neither."""
    if "name" in spec:
        return jobs.Job(SLUG, train_baseline, spec)
    if "vanilla" in spec:
        return jobs.Job(SLUG, pretrain_adversary, spec)
    return jobs.Job(SLUG, train_gan, spec)


def loaded(spec, player, make, device):
    """The stack of `player` of every member of a trained baseline or GAN job."""
    runs = jobs.result(job_of(spec), device)
    models = []
    for run in runs:
        model = make().to(device)
        model.load_state_dict(run[player])
        models.append(model.eval())
    return stack(models)


def pretrain_adversary(*, squash, vanilla, train, device):
    """A job: the adversary trained alone against the frozen vanilla models of the
    same seeds (`vanilla`: their job's spec) for epochs_pretrain (§4.5)."""
    seeds = vanilla["seeds"]
    undefended = loaded(vanilla, "defender", lambda: make_defender(train), device)
    adversary = stack_seeds(lambda: make_adversary(train, squash).to(device), seeds)
    optimizer = sgd(train, adversary)
    history = train_game(
        adversary,
        undefended.requires_grad_(False),
        batches(train, seeds, device),
        epochs=train["epochs_pretrain"],
        adversary_optimizer=optimizer,
        after_epoch=HalveEvery(optimizer, epochs=train["gan_halve_every"]),
        desc=f"{squash} adversary vs vanilla",
    )
    return per_member({"adversary": adversary}, history)


def train_gan(
    *,
    squash,
    seeds,
    train,
    device,
    pretrained=None,
    defender_eval_for_adversary=False,
    separate_batch_norm=False,
):
    """A job: the game (§3-4.4), both learning rates halved every gan_halve_every
    epochs; `pretrained`: the pre-training job's spec whose adversaries start it (an
    initialised GAN, §4.5). Readings: the defender in eval mode for the adversary's
    step, separate batch-norm passes for the clean and adversarial halves."""
    # Each seed draws its defender, then its adversary, as one model trained alone would
    defender, adversary = stack_seeds(
        lambda: (
            make_defender(train).to(device),
            make_adversary(train, squash).to(device),
        ),
        seeds,
    )
    if pretrained is not None:
        runs = jobs.result(jobs.Job(SLUG, pretrain_adversary, pretrained), device)
        members = []
        for run in runs:
            member = make_adversary(train, squash).to(device)
            member.load_state_dict(run["adversary"])
            members.append(member)
        adversary = stack(members)
    defender_optimizer, adversary_optimizer = (
        sgd(train, defender),
        sgd(train, adversary),
    )
    history = train_game(
        adversary,
        defender,
        batches(train, seeds, device),
        epochs=train["epochs_gan"],
        adversary_optimizer=adversary_optimizer,
        defender_optimizer=defender_optimizer,
        defender_eval_for_adversary=defender_eval_for_adversary,
        separate_batch_norm=separate_batch_norm,
        after_epoch=HalveEvery(
            defender_optimizer, adversary_optimizer, epochs=train["gan_halve_every"]
        ),
        desc=f"GAN {squash}",
    )
    return per_member({"defender": defender, "adversary": adversary}, history)

"""Learning with Adversary's models as jobs for lib/jobs.py: the seeds of one method
trained as one stack on the first n_train of the 50,000 training images (§4), each
member's weights kept at the chosen epochs (the budget trend, Fig. 2). Kept apart from
the evaluation, so that editing an evaluation keeps the models' keys."""

import functools

import torch
from torch import nn

from lib.attacks import input_grad
from lib.data import load_mnist
from lib.stack import stack_seeds, unstack
from lib.stack_optim import StackedAdam, StackedBatches
from lib.train import Snapshots, train
from papers.learning_with_adversary.attacks import adv_loss_sign
from papers.learning_with_adversary.lwa import (
    alpha_direction,
    loss_direction,
    train_lwa,
)
from papers.learning_with_adversary.models import (
    caffe_lenet,
    lwa_mlp,
    representation_split,
)

ABLATION = "LWA (Adv_Loss)"  # LWA with the Adv_Loss direction
METHODS = ("undefended", "Dropout", "Goodfellow", "LWA", "LWA_Rep", ABLATION)
# Goodfellow's method with its ε read as an L∞ step a pixel (the paper gives none)
LINF = "Goodfellow (L∞)"
ARCHS = ("MLP", "LeNet")


def train_stack(
    *,
    arch,
    method,
    seeds,
    epochs,
    n_train,
    device,
    hidden=(1000, 1000),
    dropout=0.5,
    input_dropout=0.0,
    units="relu",
    rep_layers=1,
    c=1.5,
    relative_c=False,
    goodfellow_eps=1.5,
    goodfellow_linf=None,
    lr=1e-3,
    batch_size=100,
    split_seed=0,
    keep=(),
):
    """{"states": each member's weights, "losses": each member's per-epoch loss,
    "trend": {epoch in keep: each member's weights}}: Adam on the cross-entropy;
    Goodfellow's method half clean, half sign-perturbed (at L2 norm goodfellow_eps, or
    goodfellow_linf a pixel for the LINF method); LWA on the pseudo-samples alone
    (train_lwa). Readings: input_dropout (the Dropout row's), units and rep_layers
    (models.lwa_mlp), relative_c (train_lwa); c one number per member for a sweep."""
    if arch not in ARCHS or method not in (*METHODS, LINF):
        raise ValueError(
            f"arch must be one of {ARCHS} and method one of {METHODS}, got "
            f"{arch!r}, {method!r}"
        )
    x, y = training_images(split_seed, n_train, device)
    options = dict(input_dropout=input_dropout, units=units, rep_layers=rep_layers)
    model = stack_seeds(
        lambda: network(arch, method, hidden, dropout, device, **options), seeds
    )
    batches = StackedBatches(x, y, batch_size=batch_size, seeds=seeds)
    trend = Snapshots(model, keep)
    common = dict(
        epochs=epochs,
        optimizer=StackedAdam(model.parameters(), lr=lr),
        desc=f"{arch} {method}",
        after_epoch=trend,
    )
    if method in ("undefended", "Dropout"):
        losses = train(model, batches, **common)
    elif method == "Goodfellow":
        perturb = functools.partial(adv_loss_sign, eps=goodfellow_eps, clip=False)
        losses = train(model, batches, perturb=perturb, **common)
    elif method == LINF:
        perturb = functools.partial(linf_sign, eps=goodfellow_linf)
        losses = train(model, batches, perturb=perturb, **common)
    else:
        direction = loss_direction if method == ABLATION else alpha_direction
        losses = train_lwa(
            *split(method, model, rep_layers),
            batches,
            c=c,
            direction=direction,
            relative_c=relative_c,
            **common,
        )
    states = [member.state_dict() for member in unstack(model)]
    kept = {}
    for epoch, state in trend.states.items():  # the final weights are taken above
        model.load_state_dict(state)
        kept[epoch] = [member.state_dict() for member in unstack(model)]
    return {
        "states": states,
        "losses": [[epoch[e] for epoch in losses] for e in range(len(seeds))],
        "trend": kept,
    }


def linf_sign(model, x, y, *, eps):
    """x + eps·sign ∇ₓCE, unclipped like the L2 reading: Goodfellow's own step."""
    return x + eps * input_grad(model, x, y)[0].sign()


def training_images(split_seed, n_train, device):
    """The first n_train of the 50,000 training images that a fixed permutation of
    MNIST's 60,000 sets apart (§4: the other 10,000 validate)."""
    if not 1 <= n_train <= 50_000:
        raise ValueError(f"n_train must be in [1, 50000], got {n_train}")
    x_all, y_all = load_mnist("train", device=device)
    generator = torch.Generator().manual_seed(split_seed)
    order = torch.randperm(len(x_all), generator=generator).to(device)
    index = order[:50_000][:n_train]
    return x_all[index], y_all[index]


def network(
    arch, method, hidden, dropout, device, input_dropout=0.0, units="relu", rep_layers=1
):
    """The network of a row; the dropout rates apply to the Dropout row alone."""
    if arch == "LeNet":
        return caffe_lenet().to(device)
    rates = (dropout, input_dropout) if method == "Dropout" else (0.0, 0.0)
    return lwa_mlp(
        hidden,
        dropout=rates[0],
        input_dropout=rates[1],
        units=units,
        rep_layers=rep_layers,
    ).to(device)


def split(method, model, rep_layers=1):
    """(representation, classifier): LWA_Rep perturbs the output of the first
    rep_layers hidden layers (Algorithm 3), every other method the input (Algorithm
    2)."""
    if method == "LWA_Rep":
        return representation_split(model, rep_layers)
    return nn.Identity(), model

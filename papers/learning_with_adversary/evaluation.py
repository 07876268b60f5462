"""Learning with Adversary's evaluations as job functions for lib.jobs, one stack of
seeds each: the five columns of Tables 1 and 2 (and their readings) on the validation
and test images and at every kept epoch; Fig. 1's three perturbations along the norm;
and the book's common evaluation (lib.robustness)."""

import time

import numpy as np
import torch

from lib import jobs, robustness
from lib.attacks.minimum_norm import _im2col_convolutions
from lib.data import load_mnist
from lib.metrics import accuracy, attacked
from papers.learning_with_adversary.attacks import adv_alpha, adv_loss, adv_loss_sign
from papers.learning_with_adversary.config import SLUG
from papers.learning_with_adversary.models import representation_split
from papers.learning_with_adversary.training import network, train_stack

ATTACKS = {"Adv_Loss_Sign": adv_loss_sign, "Adv_Loss": adv_loss, "Adv_Alpha": adv_alpha}
OPTIONS = ("input_dropout", "units", "rep_layers")  # the network's readings
H_IMAGES = 10_000  # training images over which a median feature norm is taken


def trained(spec, device="cpu"):
    return jobs.result(jobs.Job(SLUG, train_stack, spec), device)


def members(spec, states, device="cpu"):
    """The stack's members as plain models in eval mode, from their weights."""
    options = {k: spec[k] for k in OPTIONS if k in spec}
    out = []
    for state in states:
        model = network(
            spec["arch"],
            spec["method"],
            tuple(spec["hidden"]),
            spec["dropout"],
            device,
            **options,
        )
        model.load_state_dict(state)
        out.append(model.eval())
    return out


def split_images(split_seed, device="cpu"):
    """(train, validation, test) as (x, y) pairs: the 50,000 / 10,000 split of §4 by a
    fixed permutation, and MNIST's test set."""
    x_all, y_all = load_mnist("train", device=device)
    generator = torch.Generator().manual_seed(split_seed)
    order = torch.randperm(len(x_all), generator=generator).to(device)
    train, val = order[:50_000], order[50_000:]
    return (
        (x_all[train], y_all[train]),
        (x_all[val], y_all[val]),
        load_mnist("test", device=device),
    )


def one_step(attack, c):
    """The paper's attacks at L2 norm c, unclipped as in the paper."""
    return lambda model, x, y: attack(model, x, y, eps=c, clip=False)


def columns(model, x, y, x_fixed, c):
    """The five columns of Tables 1-2 in %: clean, the transferred Fixed set, and the
    three white-box attacks."""
    row = {
        "Validation": 100 * accuracy(model, x, y),
        "Fixed": 100 * accuracy(model, x_fixed, y),
    }
    for name, attack in ATTACKS.items():
        x_adv = attacked(one_step(attack, c), model, x, y)
        row[name] = 100 * accuracy(model, x_adv, y)
        # A saturated float32 softmax gives a zero direction: the image stays put
        row[f"{name} unmoved"] = (
            100 * (x_adv == x).flatten(1).all(1).float().mean().item()
        )
    return row


def normal_of(spec, result, seed, device):
    """The undefended network of `seed` in its stack (`spec`, `result`)."""
    index = spec["seeds"].index(seed)
    return members(spec, [result["states"][index]], device)[0]


def feature_norm(model, x, rep_layers=1):
    """The median L2 norm over x of LWA_Rep's h: the output of the first rep_layers
    hidden layers."""
    representation, _ = representation_split(model.eval(), rep_layers)
    with torch.no_grad():
        return float(representation(x).flatten(1).norm(dim=1).median())


def feature_norm_of(state, cfg, device="cpu"):
    """feature_norm of the undefended MLP with weights `state`, over the first
    training images (the c sweep's unit)."""
    spec = {"arch": "MLP", "method": "undefended", "hidden": cfg.hidden, "dropout": 0}
    (x, _), _, _ = split_images(cfg.split_seed, device)
    return feature_norm(members(spec, [state], device)[0], x[:H_IMAGES])


def columns_job(
    *, stack, fixed, lenet, c_eval, n_eval, n_test, n_train_acc, n_curve, device
):
    """A job: per member, Tables 1-2's columns on the first n_eval validation and
    n_test test images, the Fixed set's readings (made on the same seed's undefended
    network, or on the undefended LeNet), the training accuracy, the median ‖h‖, and
    the columns at each kept epoch before the last on the first n_curve; each row
    with its member's seed (the undefended stack's extra seed is left out)."""
    (x_tr, y_tr), val, test = split_images(stack["split_seed"], device)
    splits = {
        "validation": (val[0][:n_eval], val[1][:n_eval]),
        "test": (test[0][:n_test], test[1][:n_test]),
    }
    result, normals = trained(stack, device), trained(fixed, device)
    lenets = trained(lenet, device)
    out = {"validation": [], "test": [], "trend": {}, "h_norm": []}
    for e, (seed, model) in enumerate(
        zip(stack["seeds"], members(stack, result["states"], device), strict=True)
    ):
        if seed + 1 not in fixed["seeds"]:
            continue  # the undefended stack's extra member: the Fixed sets' source
        sources = {
            "next": normal_of(fixed, normals, seed + 1, device),
            "same": normal_of(fixed, normals, seed, device),
            "lenet": normal_of(lenet, lenets, seed, device),
        }
        train = 100 * accuracy(model, x_tr[:n_train_acc], y_tr[:n_train_acc])
        for name, (x, y) in splits.items():
            made = {
                k: attacked(one_step(adv_loss, c_eval), m, x, y)
                for k, m in sources.items()
            }
            row = {"seed": seed, **columns(model, x, y, made["next"], c_eval)}
            row["Fixed, same seed"] = 100 * accuracy(model, made["same"], y)
            row["Fixed, LeNet"] = 100 * accuracy(model, made["lenet"], y)
            row["Train"] = train
            out[name].append(row)
            if name == "validation":
                fixed_validation = made["next"]
        # the trend's Fixed set: the validation one's first n_curve images
        x, y = splits["validation"][0][:n_curve], splits["validation"][1][:n_curve]
        x_fixed = fixed_validation[:n_curve]
        for epoch, states in result["trend"].items():
            if epoch < stack["epochs"]:
                kept = members(stack, [states[e]], device)[0]
                out["trend"].setdefault(epoch, []).append(
                    {"seed": seed, **columns(kept, x, y, x_fixed, c_eval)}
                )
        if stack["arch"] == "MLP":
            depth = stack.get("rep_layers", 1)
            out["h_norm"].append(feature_norm(model, x_tr[:H_IMAGES], depth))
    return out


def fig1_job(*, stack, c_grid, n_eval, device):
    """A job: Fig. 1, the undefended LeNets' validation accuracy (%) along the L2
    norms of c_grid under each perturbation (unclipped: x + c·d, d the direction at
    c = 1), and the seconds each direction takes (§4.1: Adv_Alpha costs d times
    Adv_Loss)."""
    _, (x, y), _ = split_images(stack["split_seed"], device)
    x, y = x[:n_eval], y[:n_eval]
    result = trained(stack, device)
    out = {"accuracy": [], "seconds": []}
    for model in members(stack, result["states"], device)[:-1]:  # the extra seed out
        curves, seconds = {}, {}
        for name, attack in ATTACKS.items():
            times = []
            for _ in range(3):
                # Every direction on the convolution backend Adv_Alpha's passes use,
                # so that the ratio counts passes, not backends
                with _im2col_convolutions():
                    synchronize(device)
                    tic = time.perf_counter()
                    d = attacked(one_step(attack, 1.0), model, x, y) - x
                    synchronize(device)
                times.append(time.perf_counter() - tic)
            seconds[name] = float(np.median(times))
            curves[name] = [100 * accuracy(model, x + c * d, y) for c in c_grid]
        out["accuracy"].append(curves)
        out["seconds"].append(seconds)
    return out


def synchronize(device):
    """Wait for the GPU's queued work, so that a wall time covers it (no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def beyond_job(*, stack, n_autoattack, beyond, device):
    """A job: the book's common evaluation (lib.robustness, at the effort `beyond`) of
    the stack's first member on the first n_autoattack test images."""
    _, _, (x, y) = split_images(stack["split_seed"], device)
    model = members(stack, trained(stack, device)["states"][:1], device)[0]
    return robustness.evaluate_at(beyond, model, x[:n_autoattack], y[:n_autoattack])


JOBS = {
    "columns": (columns_job, ("c_eval", "n_eval", "n_test", "n_train_acc", "n_curve")),
    "fig1": (fig1_job, ("c_grid", "n_eval")),
    "beyond": (beyond_job, ("n_autoattack", "beyond")),
}
PAPER_ROWS = ("undefended", "Dropout", "Goodfellow", "LWA", "LWA_Rep")


def kinds(arch, row):
    """The evaluations of a row: its columns always; Fig. 1 for the undefended LeNets;
    the common evaluation for the rows of the paper's tables."""
    out = ["columns"]
    if (arch, row) == ("LeNet", "undefended"):
        out.append("fig1")
    if row in PAPER_ROWS:
        out.append("beyond")
    return out


def job(kind, stack, fixed, lenet, eval_cfg):
    fn, fields = JOBS[kind]
    spec = {"stack": stack, **{f: getattr(eval_cfg, f) for f in fields}}
    if kind == "columns":
        spec |= {"fixed": fixed, "lenet": lenet}
    return jobs.Job(SLUG, fn, spec)

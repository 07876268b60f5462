"""The adversary critic's figures redrawn: Fig. 4 (test images, boundary and
high-confidence adversarial examples) and Fig. 2 (targeted high-confidence examples,
every digit toward every other), from the evaluated models."""

import matplotlib.pyplot as plt
import numpy as np
import torch

from lib.attacks import NORM_FLOOR
from lib.metrics import predict_proba, predictions
from papers.adversary_critic.config import METHODS, NETS
from papers.adversary_critic.critic import high_confidence_attack_unrolled


def tile(images, ncols):
    """(N, 1, 28, 28) in [0, 1] to one (rows·28, ncols·28) array, blank cells last."""
    images = images.detach().cpu().clamp(0, 1).squeeze(1).numpy()
    rows = -(-len(images) // ncols)
    grid = np.ones((rows * 28, ncols * 28))
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        grid[r * 28 : (r + 1) * 28, c * 28 : (c + 1) * 28] = image
    return grid


def figure4(net, models, panels):
    """Fig. 4 for one network: a row per method of `models` ({method: model}), a
    column per panel of `panels` ({method: {title: images}}); each title gives the
    model's mean confidence on what it shows, as the paper's caption."""
    fig, axes = plt.subplots(len(models), 3, figsize=(10, 2.3 * len(models)))
    for row, (method, model) in enumerate(models.items()):
        for col, (title, images) in enumerate(panels[method].items()):
            shown = 100 * predict_proba(model, images).amax(1).mean().item()
            axes[row, col].imshow(tile(images, 5), cmap="gray", vmin=0, vmax=1)
            axes[row, col].set_title(
                f"{METHODS[method]} {title}\nconfidence {shown:.0f} %",
                fontsize="small",
            )
            axes[row, col].axis("off")
    fig.suptitle(f"Fig. 4 redrawn: {NETS[net]}")
    fig.tight_layout()
    return fig


def first_of_each_class(model, x, y):
    """The index of the first correctly classified image of each digit in (x, y) (the
    first of the digit where the model gets none right)."""
    correct = predictions(model, x) == y
    index = []
    for k in range(10):
        digit = y == k
        pool = digit & correct if (digit & correct).any() else digit
        index.append(torch.nonzero(pool)[0, 0])
    return torch.stack(index)


def targeted(model, x, targets, *, steps, confidence, step_clip, overshoot):
    """The paper's attack in its evaluation form (each step clipped to L2 norm
    step_clip, then projected to [0, 1]) toward given targets, one step at a time,
    until each target has the given confidence."""
    c = torch.full((len(x),), confidence, device=x.device)
    x_adv = x.clone()
    for _ in range(steps):
        # One step; zero for an example whose target already has confidence C.
        step = (
            high_confidence_attack_unrolled(
                model,
                x_adv,
                confidence=c,
                targets=targets,
                steps=1,
                overshoot=overshoot,
                differentiable=False,
            )
            - x_adv
        )
        norm = step.flatten(1).norm(dim=1).clamp_min(NORM_FLOOR).view(-1, 1, 1, 1)
        x_adv = (x_adv + step * (step_clip / norm).clamp(max=1)).clamp(0, 1)
    return x_adv


def figure2_grid(model, x, y, **attack):
    """(100, 1, 28, 28) images, row = source digit, column = target (the originals on
    the diagonal), and the share of the 90 attacks that reached the confidence."""
    device = x.device
    x = x[first_of_each_class(model, x, y)].repeat_interleave(10, 0)
    targets = torch.arange(10, device=device).repeat(10)
    off = targets != torch.arange(10, device=device).repeat_interleave(10)
    x_adv = x.clone()
    x_adv[off] = targeted(model, x[off], targets[off], **attack)
    p_target = predict_proba(model, x_adv)[torch.arange(100), targets]
    reached = p_target >= attack["confidence"]
    return x_adv, reached[off].float().mean().item()


def figure2(models, x, y, **attack):
    """Fig. 2 for each (net, method) of `models`, a panel each (a column a network, a
    row a method): every digit of (x, y) attacked toward every other class. Returns
    {(net, method): the share of the attacks that reached the confidence}."""
    nets = list(dict.fromkeys(net for net, _ in models))
    methods = list(dict.fromkeys(method for _, method in models))
    fig, axes = plt.subplots(len(methods), len(nets), figsize=(9, 9.6), squeeze=False)
    reached = {}
    for (net, method), model in models.items():
        images, reached[net, method] = figure2_grid(model, x, y, **attack)
        ax = axes[methods.index(method), nets.index(net)]
        ax.imshow(tile(images, 10), cmap="gray", vmin=0, vmax=1)
        ax.set_title(
            f"{NETS[net]} {METHODS[method]}: "
            f"{100 * reached[net, method]:.0f} % reach "
            f"{100 * attack['confidence']:.0f} %",
            fontsize="small",
        )
        ax.axis("off")
    fig.suptitle("Fig. 2 redrawn: source digit (row) attacked toward target (column)")
    fig.tight_layout()
    return reached

"""The epoch loop, its learning-rate rules, and the step functions of the adversary-defender game."""
import math
import sys

import torch
import torch.nn.functional as F
from tqdm import tqdm

# The process's own stderr: in a notebook the bars reach the terminal that runs papermill, not the outputs.
PROGRESS = sys.__stderr__


def fit(step, batches, *, epochs, modules=(), after_epoch=None, progress=False, desc="train"):
    """The book's one epoch loop: `step(*batch) -> {name: 0-dim tensor}` on every batch, for `epochs` passes.

    Puts `modules` in train mode at the start of each epoch. Returns {name: [per-epoch mean over the batches]};
    `after_epoch(history)` runs after each epoch, and the numbers of the dict it may return are appended to
    the history under their own names (a validation accuracy, say).
    """
    history = {}
    for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False, file=PROGRESS):
        for module in modules:
            module.train()
        totals = {}
        for batch in batches:
            for name, value in step(*batch).items():
                # Summed on the device: no host sync per step.
                totals[name] = totals[name] + value.detach() if name in totals else value.detach().clone()
        for name, total in totals.items():
            history.setdefault(name, []).append((total / len(batches)).item())
        if after_epoch is not None:
            for name, value in (after_epoch(history) or {}).items():
                history.setdefault(name, []).append(value)
    return history


def train(model, batches, *, epochs, optimizer, loss_fn=F.cross_entropy, perturb=None,
          after_epoch=None, progress=False, desc="train"):
    """Train for `epochs` passes and return the mean loss of each epoch.

    With `perturb(model, x, y) -> x_adv`, every batch is half clean, half perturbed (Goodfellow et al. 2015).
    `after_epoch(loss)` runs at the end of each epoch (a learning-rate rule, say).
    """
    history = []
    for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False, file=PROGRESS):
        model.train()
        total = torch.zeros((), device=next(model.parameters()).device)
        for x, y in batches:
            if perturb is not None:
                x_adv = perturb(model, x, y).detach()
                x, y = torch.cat([x, x_adv]), torch.cat([y, y])
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()  # summed on the device: no host sync per step
        history.append((total / len(batches)).item())
        if after_epoch is not None:
            after_epoch(history[-1])
    return history


class HalveOnIncrease:
    """Halve every learning rate of the optimizer whenever the epoch loss rises above the previous one."""

    def __init__(self, optimizer):
        self.optimizer, self.previous = optimizer, math.inf

    def __call__(self, loss):
        if loss > self.previous or not math.isfinite(loss):
            for group in self.optimizer.param_groups:
                group["lr"] /= 2
        self.previous = loss


class HalveEvery:
    """Halve every learning rate of the given optimizers every `epochs` epochs."""

    def __init__(self, *optimizers, epochs):
        self.optimizers, self.epochs, self.epoch = optimizers, epochs, 0

    def __call__(self, loss=None):
        self.epoch += 1
        if self.epoch % self.epochs == 0:
            for optimizer in self.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] /= 2


def adversary_step(adversary, defender, x, y, optimizer):
    """One ascent step of the adversary on the defender's loss; returns the detached x_adv and that loss."""
    x_adv = adversary(x)
    loss = F.cross_entropy(defender(x_adv), y)
    optimizer.zero_grad(set_to_none=True)
    (-loss).backward(inputs=list(adversary.parameters()))  # only the adversary's gradients are touched
    optimizer.step()
    return x_adv.detach(), loss.detach()


def defender_step(defender, x, x_adv, y, optimizer):
    """One descent step of the defender on a batch that is half clean, half adversarial."""
    loss = F.cross_entropy(defender(torch.cat([x, x_adv])), torch.cat([y, y]))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def train_game(adversary, defender, batches, *, epochs, adversary_optimizer, defender_optimizer=None,
               after_epoch=None, progress=False, desc="game"):
    """Alternate adversary and defender steps on every batch (Dhillon & Pavse §3).

    Without a defender optimizer the defender is frozen in eval mode and only the adversary learns
    (the pre-training of §4.5). Returns per-epoch mean losses {"adversary": [...], "defender": [...]}.
    """
    history = {"adversary": [], "defender": []}
    device = next(adversary.parameters()).device
    for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False, file=PROGRESS):
        adversary.train()
        defender.train(defender_optimizer is not None)
        adversary_total, defender_total = torch.zeros((), device=device), torch.zeros((), device=device)
        for x, y in batches:
            x_adv, adversary_loss = adversary_step(adversary, defender, x, y, adversary_optimizer)
            adversary_total += adversary_loss
            if defender_optimizer is not None:
                # Both players answer the same perturbations: a simultaneous move, as in a GAN.
                defender_total += defender_step(defender, x, x_adv, y, defender_optimizer)
        history["adversary"].append((adversary_total / len(batches)).item())
        history["defender"].append((defender_total / len(batches)).item())
        if after_epoch is not None:
            after_epoch(history["defender"][-1])
    return history

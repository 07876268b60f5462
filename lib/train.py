"""The epoch loop and its learning-rate rules.

Every trainer here is `fit` with a step function; each runs unchanged on a stack of
models (lib/stack.py), whose losses and statistics then come one per member."""

import math
import sys

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lib import checkpoint
from lib.stack import join, member_loss, members, total

# The process's own stderr: in a notebook the bars reach the terminal that runs
# papermill, not the outputs.
PROGRESS = sys.__stderr__


def fit(
    step,
    batches,
    *,
    epochs,
    modules=(),
    after_epoch=None,
    progress=False,
    desc="train",
    frozen=(),
    state=None,
):
    """The book's one epoch loop: `step(*batch) -> {name: tensor}` on every batch,
    for `epochs` passes.

    Puts `modules` in train mode and `frozen` in eval mode at the start of each epoch.
    Returns {name: [per-epoch mean over the batches]} (a list of member values per epoch
    where the step returns one value per member of a stack); `after_epoch(history)` runs
    after each epoch, and the numbers of the dict it may return are appended to the
    history under their own names (a validation accuracy, say).

    `state`: what else decides the rest of the training, each with state_dict and
    load_state_dict (optimizers, learning-rate rules). Given it, a fit that runs inside
    the cache checkpoints each epoch and resumes a killed run (lib/checkpoint.py).
    """
    saver = checkpoint.stage(modules, batches, state)
    start, history = saver.restore() if saver is not None else (0, {})
    for epoch in tqdm(
        range(start, epochs),
        desc=desc,
        initial=start,
        total=epochs,
        disable=not progress,
        leave=False,
        file=PROGRESS,
    ):
        for module in modules:
            module.train()
        for module in frozen:
            module.eval()
        totals = {}
        for batch in batches:
            for name, value in step(*batch).items():
                # Summed on the device: no host sync per step.
                totals[name] = (
                    totals[name] + value.detach()
                    if name in totals
                    else value.detach().clone()
                )
        for name, total_ in totals.items():
            history.setdefault(name, []).append((total_ / len(batches)).tolist())
        if after_epoch is not None:
            for name, value in (after_epoch(history) or {}).items():
                history.setdefault(name, []).append(value)
        if saver is not None:
            saver.save(epoch + 1, history)
    return history


def resumable(*state, after_epoch=None):
    """fit's state: the optimizers and after_epoch, or None (no checkpoint) when
    after_epoch is a function whose state fit cannot save."""
    if after_epoch is None:
        return state
    return (*state, after_epoch) if checkpoint.has_state(after_epoch) else None


def last_value_hook(after_epoch, name):
    """An after_epoch(history) hook that calls after_epoch(the epoch's
    value of `name`)."""
    if after_epoch is None:
        return None

    def hook(history):
        after_epoch(history[name][-1])

    return hook


def train(
    model,
    batches,
    *,
    epochs,
    optimizer,
    loss_fn=F.cross_entropy,
    perturb=None,
    after_epoch=None,
    progress=False,
    desc="train",
):
    """Train for `epochs` passes and return the mean loss of each epoch.

    With `perturb(model, x, y) -> x_adv`, every batch is half clean, half perturbed
    (Goodfellow et al. 2015). `after_epoch(loss)` runs at the end of each epoch (a
    learning-rate rule, say); in the cache, the training resumes where a killed run
    stopped unless after_epoch is a function without state_dict.
    """
    stacked = members(model)

    def step(x, y):
        if perturb is not None:
            x_adv = perturb(model, x, y).detach()
            x, y = join(x, x_adv, stacked), join(y, y, stacked)
        loss = member_loss(loss_fn, model(x), y, stacked)
        optimizer.zero_grad(set_to_none=True)
        total(loss).backward()
        optimizer.step()
        return {"loss": loss}

    history = fit(
        step,
        batches,
        epochs=epochs,
        modules=(model,),
        after_epoch=last_value_hook(after_epoch, "loss"),
        progress=progress,
        desc=desc,
        state=resumable(optimizer, after_epoch=after_epoch),
    )
    return history.get("loss", [])


class HalveOnIncrease:
    """Halve every learning rate of the optimizer whenever the epoch loss rises above
    the previous one.

    Given one loss per member of a stack (a list), it halves each member's own rate on
    its own loss."""

    def __init__(self, optimizer):
        self.optimizer, self.previous = optimizer, math.inf

    def state_dict(self):
        return {"previous": self.previous}

    def load_state_dict(self, state):
        self.previous = state["previous"]

    def __call__(self, loss):
        if isinstance(loss, list):
            previous = (
                self.previous
                if isinstance(self.previous, list)
                else [self.previous] * len(loss)
            )
            rises = [
                now > before or not math.isfinite(now)
                for now, before in zip(loss, previous, strict=True)
            ]
            for group in self.optimizer.param_groups:
                group["lr"][torch.tensor(rises, device=group["lr"].device)] /= 2
        elif loss > self.previous or not math.isfinite(loss):
            for group in self.optimizer.param_groups:
                group["lr"] /= 2
        self.previous = loss


class HalveEvery:
    """Halve every learning rate of the given optimizers every `epochs` epochs."""

    def __init__(self, *optimizers, epochs):
        self.optimizers, self.epochs, self.epoch = optimizers, epochs, 0

    def state_dict(self):
        return {"epoch": self.epoch}

    def load_state_dict(self, state):
        self.epoch = state["epoch"]

    def __call__(self, loss=None):
        self.epoch += 1
        if self.epoch % self.epochs == 0:
            for optimizer in self.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] /= 2


class Snapshots:
    """The weights of `module` after each of the chosen epochs, kept for a budget
    trend (its metrics along training): call it after every epoch; resumable."""

    def __init__(self, module, epochs):
        self.module, self.epochs, self.epoch, self.states = module, set(epochs), 0, {}

    def state_dict(self):
        return {"epoch": self.epoch, "states": self.states}

    def load_state_dict(self, state):
        self.epoch, self.states = state["epoch"], state["states"]

    def __call__(self, history=None):
        self.epoch += 1
        if self.epoch in self.epochs:
            self.states[self.epoch] = {
                name: value.detach().to("cpu", copy=True)
                for name, value in self.module.state_dict().items()
            }

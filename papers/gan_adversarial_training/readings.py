"""Readings of the GAN paper's evaluation (Dhillon & Pavse §4): accuracy "as an average
over multiple forward passes" with batch-norm in train mode, and λ on a [-1, 1]
input scale."""

import contextlib

import torch
from torch import nn

from lib.stack import StackedBatchNorm

BATCH_NORMS = (nn.modules.batchnorm._BatchNorm, StackedBatchNorm)


@contextlib.contextmanager
def batch_statistics(model):
    """Inside, every batch-norm layer of `model` normalises with its batch's statistics
    (train mode); on exit each module's mode and every buffer (the running statistics)
    are as they were."""
    modes = {module: module.training for module in model.modules()}
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    for module in model.modules():
        if isinstance(module, BATCH_NORMS):
            module.train()
    try:
        yield model
    finally:
        for module, mode in modes.items():
            module.train(mode)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])


def batch_statistics_accuracy(model, x, y, *, batch_size, passes, attack=None, seed=0):
    """Accuracy on x (or on attack(model, x, y), made batch by batch) with batch-norm in
    train mode, averaged over `passes` forward passes, each over its own random batches
    of batch_size (§4's "average over multiple forward passes", read as batch
    statistics at test time). The model's state is unchanged after."""
    if passes < 1 or batch_size < 1:
        raise ValueError(
            f"passes and batch_size must be >= 1, got {passes}, {batch_size}"
        )
    generator = torch.Generator().manual_seed(seed)
    correct = 0
    with batch_statistics(model):
        for _ in range(passes):
            order = torch.randperm(len(x), generator=generator).to(x.device)
            for index in order.split(batch_size):
                xb, yb = x[index], y[index]
                if attack is not None:
                    xb = attack(model, xb, yb).detach()
                with torch.no_grad():
                    correct += (model(xb).argmax(1) == yb).sum().item()
    return correct / (passes * len(x))


def eps_from_signed_scale(lam):
    """The book's ε on pixels in [0, 1] for a λ on pixels in [-1, 1]: x' = 2x - 1
    doubles every distance, so ε = λ / 2 (FGSM clipped to [-1, 1] is then FGSM clipped
    to [0, 1]). A reading of §4's λ: the paper does not give its input scale."""
    if not 0 <= lam <= 2:
        raise ValueError(f"lam must be in [0, 2] (the width of [-1, 1]), got {lam}")
    return lam / 2

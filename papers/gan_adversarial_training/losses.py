"""Readings of the GAN paper's loss (Dhillon & Pavse §4: "the last layer is a
fully-connected layer, with a softmax output. A cross-entropy loss function was used").
Each takes logits and labels, as F.cross_entropy does."""

import torch
import torch.nn.functional as F

from lib.attacks import input_grad
from lib.metrics import EVAL_BATCH

# Keras's epsilon, to which its categorical cross-entropy clips probabilities
CLIP_FLOOR = 1e-7
REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def softmax_cross_entropy(logits, y, reduction="mean"):
    """Cross-entropy applied to the softmax outputs, as PyTorch's CrossEntropyLoss on a
    network ending in a softmax: -log softmax(softmax(logits))_y, bounded by log(10)
    (§4's "softmax output" and "cross-entropy loss", read as stacked)."""
    return F.cross_entropy(logits.softmax(1), y, reduction=reduction)


def clipped_log_loss(logits, y, reduction="mean", *, floor=CLIP_FLOOR):
    """-log p_y with p = softmax(logits) clipped to [floor, 1 - floor], as Keras's
    categorical cross-entropy: a point with p_y > 1 - floor has zero gradient (§4's
    softmax output, then a cross-entropy on probabilities)."""
    p_y = logits.softmax(1).gather(1, y.unsqueeze(1)).squeeze(1)
    return _reduce(-p_y.clamp(floor, 1 - floor).log(), reduction)


LOSSES = {
    "logits": F.cross_entropy,  # the book's reading: softmax inside the loss
    "softmax": softmax_cross_entropy,
    "clipped log": clipped_log_loss,
}


def loss_named(name):
    """The loss of one reading, by its name in LOSSES."""
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {tuple(LOSSES)}, got {name!r}")
    return LOSSES[name]


def zero_gradient_share(model, x, y, *, loss_fn, batch_size=EVAL_BATCH):
    """The share of points whose input gradient of loss_fn is zero in every pixel:
    FGSM (x + λ sign ∇x) leaves them where they are. In the model's current mode."""
    zero = [
        input_grad(model, x[i : i + batch_size], y[i : i + batch_size], loss_fn)[0]
        .flatten(1)
        .eq(0)
        .all(1)
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(zero).float().mean().item()

"""The GAN paper's learned adversary: a network whose squashed output is an L∞-bounded
perturbation (Dhillon & Pavse §3.1)."""

import torch
from torch import nn

SCALE_FLOOR = 1e-12  # a constant output's scale is 0: dividing by this keeps it finite


def squash_tanh(o):
    """Map raw outputs to [-1, 1] pixel by pixel (Dhillon & Pavse §3.1,
    the tanh method)."""
    return torch.tanh(o)


def squash_scaled(o):
    """Centre each sample's outputs on 0, then scale them so that max |o| = 1 (Dhillon &
    Pavse, the scaled method)."""
    o = o - o.mean(dim=1, keepdim=True)
    return o / o.abs().amax(dim=1, keepdim=True).clamp_min(SCALE_FLOOR)


def squash_minmax(o):
    """Rescale each sample's outputs linearly onto [-1, 1], min to -1 and max to +1:
    another reading of the scaled method, under which pixels at both extremes reach
    the full budget."""
    low, high = o.amin(dim=1, keepdim=True), o.amax(dim=1, keepdim=True)
    return 2 * (o - low) / (high - low).clamp_min(SCALE_FLOOR) - 1


class Perturber(nn.Module):
    """A network that maps x to x_adv = clip(x + eps * squash(net(x)), 0, 1): an
    L∞-bounded learned adversary."""

    def __init__(self, net, *, eps, squash):
        super().__init__()
        self.net, self.eps, self.squash = net, eps, squash

    def forward(self, x):
        delta = self.eps * self.squash(self.net(x)).view_as(x)
        return (x + delta).clamp(0, 1)

"""The GAN paper's random-noise baseline: uniform L∞ noise."""

import torch

from lib.attacks.base import check_inputs, random_start_point


def uniform_noise(x, *, eps, seed=None):
    """Random L∞ noise, uniform in [-eps, eps] per pixel, clipped to [0, 1]."""
    check_inputs(x, None, eps=eps)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return random_start_point(x.detach(), eps, "linf", generator)

"""Attacks as pure functions attack(model, x, y, *, eps, ...) -> x_adv, on batches in
[0, 1], one family a module.

They never change the model's mode or its parameters' .grad: gradients come from
torch.autograd.grad. Minimum-norm attacks return x_adv too: norms and success come from
lib.metrics. A paper's own attacks live in its package (papers/<slug>/attacks.py).
"""

from lib.attacks.base import (
    BOUNDARY_PUSH,
    GRAD_NORM_EPS,
    NORM_FLOOR,
    NORMS,
    check_inputs,
    flat_norm,
    input_grad,
    l2_direction,
    per_sample,
    random_start_point,
)
from lib.attacks.gradient import fgsm, pgd
from lib.attacks.minimum_norm import (
    closest_boundary,
    closest_boundary_from_jacobian,
    deepfool,
    jacobian,
)

__all__ = [
    "BOUNDARY_PUSH",
    "GRAD_NORM_EPS",
    "NORM_FLOOR",
    "NORMS",
    "check_inputs",
    "closest_boundary",
    "closest_boundary_from_jacobian",
    "deepfool",
    "fgsm",
    "flat_norm",
    "input_grad",
    "jacobian",
    "l2_direction",
    "per_sample",
    "pgd",
    "random_start_point",
]

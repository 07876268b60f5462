"""What every attack shares: input checks, the loss gradient, norms and the random
start inside a ball."""

import torch
import torch.nn.functional as F

NORMS = ("linf", "l2")
NORM_FLOOR = 1e-12  # norms are clamped to it before a division: 0 stays 0, not NaN
GRAD_NORM_EPS = 1e-8  # added to gradient norms we divide by: finite where one is 0
BOUNDARY_PUSH = 1e-4  # added to each step, as DeepFool's code: boundary points cross


def check_inputs(x, y, **numbers):
    """Raise ValueError naming the argument when x, y or a number is out of range
    (y=None skips the label check)."""
    low, high = torch.aminmax(x)
    if low < 0 or high > 1:
        raise ValueError(
            f"x must lie in [0, 1], got values in [{low.item():.3g}, {high.item():.3g}]"
        )
    if y is not None and y.shape != x.shape[:1]:
        raise ValueError(
            f"y must have shape {tuple(x.shape[:1])} (one label per example), "
            f"got {tuple(y.shape)}"
        )
    for name, value in numbers.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


def input_grad(model, x, y, loss_fn=F.cross_entropy):
    """The gradient of the summed loss with respect to x (so each example's gradient
    is its own)."""
    x = x.detach().requires_grad_(True)
    loss = loss_fn(model(x), y, reduction="none")
    return torch.autograd.grad(loss.sum(), x)[0], loss.detach()


def flat_norm(v, norm):
    flat = v.flatten(1)
    n = flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)
    return n.view(-1, *[1] * (v.dim() - 1))


def random_start_point(x, eps, norm, generator):
    """A uniform random start inside the ball (L∞) or on a random direction within
    radius eps (L2)."""
    if norm == "linf":
        noise = torch.rand(x.shape, generator=generator, device="cpu").to(x) * 2 - 1
    else:
        noise = torch.randn(x.shape, generator=generator, device="cpu").to(x)
        radius = (
            torch.rand(x.shape[0], generator=generator, device="cpu")
            .to(x)
            .view(-1, *[1] * (x.dim() - 1))
        )
        noise = noise / flat_norm(noise, "l2").clamp_min(NORM_FLOOR) * radius
    return (x + eps * noise).clamp(0, 1)


def per_sample(v, x):
    """Reshape an (N,) tensor to broadcast against x of shape (N, ...)."""
    return v.view(-1, *[1] * (x.dim() - 1))


def l2_direction(v):
    """v / ||v||_2 per example (0 where v is 0)."""
    return v / flat_norm(v, "l2").clamp_min(NORM_FLOOR)

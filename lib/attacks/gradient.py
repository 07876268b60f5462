"""Gradient attacks: PGD (L∞ and L2, restarts) and FGSM, its one-step case (Madry et al.
2018; Goodfellow et al. 2015)."""

import torch
import torch.nn.functional as F

from lib.attacks.base import (
    NORM_FLOOR,
    NORMS,
    check_inputs,
    flat_norm,
    input_grad,
    random_start_point,
)


def pgd(
    model,
    x,
    y,
    *,
    eps,
    alpha,
    steps,
    norm="linf",
    random_start=True,
    restarts=1,
    loss_fn=F.cross_entropy,
    seed=None,
):
    """Projected gradient ascent on the loss (Madry et al. 2018); restarts keep each
    example's worst case."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    check_inputs(x, y, eps=eps, alpha=alpha, steps=steps, restarts=restarts)
    x = x.detach()
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    if norm == "linf" and steps == 1 and not random_start and alpha <= eps:
        # One step from x that cannot leave the eps-ball (FGSM): only the box binds
        low, high = 0.0, 1.0
    elif norm == "linf":
        # The eps-ball ∩ [0, 1] is an interval per pixel, so the step and its projection
        # fuse into one in-place clamp.
        low, high = (x - eps).clamp_(min=0), (x + eps).clamp_(max=1)
    best_wrong = None
    for _ in range(max(restarts, 1)):
        x_adv = (
            random_start_point(x, eps, norm, generator)
            if random_start and eps > 0
            else x.clone()
        )
        for _ in range(steps):
            grad, _ = input_grad(model, x_adv, y, loss_fn)
            if norm == "linf":
                x_adv = x_adv.add_(grad.sign_(), alpha=alpha).clamp_(low, high)
            else:
                # In place: x_adv takes the step, becomes the perturbation, is scaled
                # back into the ball and boxed.
                delta = x_adv.addcdiv_(
                    grad, flat_norm(grad, "l2").clamp_min_(NORM_FLOOR), value=alpha
                ).sub_(x)
                scale = (eps / flat_norm(delta, "l2").clamp_min_(NORM_FLOOR)).clamp_(
                    max=1
                )
                x_adv = delta.mul_(scale).add_(x).clamp_(0, 1)
        if restarts <= 1:
            # a single run has nothing to compare against: skip the extra forward pass
            return x_adv
        if best_wrong is None:
            best, best_loss = (
                x.clone(),
                torch.full(y.shape, -float("inf"), dtype=x.dtype, device=x.device),
            )
        with torch.no_grad():
            logits = model(x_adv)
            loss = loss_fn(logits, y, reduction="none")
            wrong = logits.argmax(1) != y
        # A misclassified example beats any loss value; among equals, the
        # higher loss wins.
        better = (
            loss > best_loss
            if best_wrong is None
            else (wrong & ~best_wrong) | ((wrong == best_wrong) & (loss > best_loss))
        )
        best[better], best_loss[better] = x_adv[better], loss[better]
        best_wrong = wrong if best_wrong is None else best_wrong | wrong
    return best


def fgsm(model, x, y, *, eps, loss_fn=F.cross_entropy):
    """Fast gradient sign method, x + eps * sign(∇x loss) clipped to [0, 1] (Goodfellow
    et al. 2015): one PGD step."""
    return pgd(
        model,
        x,
        y,
        eps=eps,
        alpha=eps,
        steps=1,
        norm="linf",
        random_start=False,
        loss_fn=loss_fn,
    )

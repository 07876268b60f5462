"""The adversary critic paper's attacks: its high-confidence attack (Matyasko & Chau
2018), C&W L2 (Carlini & Wagner 2017) and the virtual adversarial perturbation of its
VAT baseline (Miyato et al. 2016)."""

import math

import torch

from lib.attacks import (
    BOUNDARY_PUSH,
    GRAD_NORM_EPS,
    NORM_FLOOR,
    check_inputs,
    closest_boundary_from_jacobian,
    deepfool,
    flat_norm,
    jacobian,
    l2_direction,
    per_sample,
)
from lib.metrics import EVAL_BATCH, attacked, rho_min_norm

VAT_XI = 1e-6  # Miyato et al.'s ξ: the power iteration's finite-difference radius


def high_confidence(
    model, x, y, *, steps, step_clip, overshoot, confidence=None, clip=True
):
    """Matyasko & Chau (2018)'s targeted attack, evaluation form: target t = the
    closest linearised boundary at the clean x (k != y); L2 steps (1e-4 + |log p_t -
    log C| / ||w||) w / ||w||, w = ∇x log p_t, each clipped to step_clip (None: no
    clip), until t is predicted with p_t >= C: the clean prediction's confidence, or a
    float or an (N,) tensor."""
    check_inputs(
        x,
        y,
        steps=steps,
        overshoot=overshoot,
        step_clip=0 if step_clip is None else step_clip,
    )
    x = x.detach()
    out, jac = jacobian(model, x)
    target = closest_boundary_from_jacobian(out, jac, y)[0]
    if confidence is None:
        confidence = out.softmax(1).amax(1)
    confidence = torch.as_tensor(confidence, dtype=x.dtype, device=x.device).expand(
        len(x)
    )
    if confidence.min() <= 0 or confidence.max() > 1:
        raise ValueError(
            f"confidence must lie in (0, 1], got values in "
            f"[{confidence.min().item():.3g}, {confidence.max().item():.3g}]"
        )
    log_c = confidence.log()
    r, x_adv = torch.zeros_like(x), x.clone()
    active = torch.arange(len(x), device=x.device)
    for _ in range(steps):
        xa = x_adv[active].requires_grad_(True)
        log_p = model(xa).log_softmax(1)
        log_pt = log_p.gather(1, target[active].unsqueeze(1)).squeeze(1)
        w = torch.autograd.grad(log_pt.sum(), xa)[0]
        going = (log_p.argmax(1) != target[active]) | (log_pt < log_c[active])
        active, w, log_pt = active[going], w[going], log_pt.detach()[going]
        if len(active) == 0:
            break
        w_norm = (GRAD_NORM_EPS + w.flatten(1).pow(2).sum(1)).sqrt()
        step = (
            per_sample(
                (BOUNDARY_PUSH + (log_pt - log_c[active]).abs() / w_norm) / w_norm, w
            )
            * w
        )
        if step_clip is not None:
            step = step * (
                step_clip / flat_norm(step, "l2").clamp_min(NORM_FLOOR)
            ).clamp(max=1)
        r[active] += step
        x_new = x[active] + (1 + overshoot) * r[active]
        if clip:
            x_new = x_new.clamp(0, 1)
            r[active] = (x_new - x[active]) / (1 + overshoot)
        x_adv[active] = x_new
    return x_adv


def cw_l2(
    model,
    x,
    y,
    *,
    c=1e-3,
    kappa=0.0,
    steps=1000,
    binary_steps=9,
    lr=1e-2,
    abort_early=True,
):
    """Carlini & Wagner (2017) L2: minimise ||x_adv - x||² + c max(z_y - max_{k≠y} z_k,
    -kappa) over x_adv = (tanh(w) + 1) / 2 with Adam, c from a per-example binary search
    (starting at c, x10 until a success). Returns each example's smallest successful
    x_adv over all iterations, and x itself where every c failed."""
    check_inputs(x, y, c=c, kappa=kappa, steps=steps, binary_steps=binary_steps, lr=lr)
    x = x.detach()
    n, device = len(x), x.device
    # Shrink so that pixels at 0 and 1 get finite w
    w0 = torch.atanh((2 * x - 1) * (1 - 1e-6))
    const = torch.full((n,), float(c), dtype=x.dtype, device=device)
    lower, upper = torch.zeros_like(const), torch.full_like(const, float("inf"))
    best, best_l2 = x.clone(), torch.full_like(const, float("inf"))
    check_every = max(math.ceil(steps / 10), 1)
    beta1, beta2 = 0.9, 0.999

    def write_back(rows):
        # The compact state of these rows (of the current binary step) into
        # the whole batch's.
        found[idx[rows]], best[idx[rows]], best_l2[idx[rows]] = (
            found_now[rows],
            best_now[rows],
            best_l2_now[rows],
        )

    for _ in range(binary_steps):
        found = torch.zeros(n, dtype=torch.bool, device=device)
        # The state of the examples still optimising, kept compact: an example whose
        # loss has stalled leaves the batch (and stops costing forward and backward
        # passes) after its running best is written back.
        idx, xs, ys, cs = torch.arange(n, device=device), x, y, const
        w, m, v = w0.clone(), torch.zeros_like(x), torch.zeros_like(x)
        found_now, best_now, best_l2_now = found.clone(), best.clone(), best_l2.clone()
        previous = torch.full_like(const, float("inf"))
        for t in range(1, steps + 1):
            w.requires_grad_(True)
            x_adv = (torch.tanh(w) + 1) / 2
            logits = model(x_adv)
            l2 = (x_adv - xs).flatten(1).pow(2).sum(1)
            real = logits.gather(1, ys.unsqueeze(1)).squeeze(1)
            other = logits.scatter(1, ys.unsqueeze(1), float("-inf")).amax(1)
            loss = l2 + cs * (real - other).clamp_min(-kappa)
            grad = torch.autograd.grad(loss.sum(), w)[0]
            w, x_adv, l2, loss = w.detach(), x_adv.detach(), l2.detach(), loss.detach()
            success = other.detach() > real.detach() + kappa
            found_now |= success
            better = success & (l2 < best_l2_now)
            best_l2_now = torch.where(better, l2, best_l2_now)
            best_now = torch.where(per_sample(better, x), x_adv, best_now)
            # Adam with bias correction (Carlini's code uses TF's), in
            # PyTorch's fused form.
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            correction1, root_correction2 = 1 - beta1**t, math.sqrt(1 - beta2**t)
            w.addcdiv_(
                m,
                v.sqrt().add_(1e-8 * root_correction2),
                value=-lr * root_correction2 / correction1,
            )
            if abort_early and (t - 1) % check_every == 0:
                # Carlini's test (the loss has not fallen by 0.01 % since the last
                # check), per example rather than on the batch's sum.
                going = loss <= 0.9999 * previous
                previous = loss[going]
                if not going.all():
                    write_back(~going)
                    idx, xs, ys, cs, w, m, v, found_now, best_now, best_l2_now = (
                        a[going]
                        for a in (
                            idx,
                            xs,
                            ys,
                            cs,
                            w,
                            m,
                            v,
                            found_now,
                            best_now,
                            best_l2_now,
                        )
                    )
                    if len(idx) == 0:
                        break
        write_back(torch.ones_like(idx, dtype=torch.bool))
        upper = torch.where(found, torch.minimum(upper, const), upper)
        lower = torch.where(found, lower, torch.maximum(lower, const))
        const = torch.where(upper.isinf(), const * 10, (lower + upper) / 2)
    return best


def vat(model, x, y=None, *, eps, xi=VAT_XI, seed=None, clip=True):
    """The virtual adversarial perturbation (Miyato et al. 2016): one power iteration
    from d ~ N(0, I), g = ∇_r KL(p(x) || p(x + r)) at r = xi d / ||d||_2, and x_adv = x
    + eps g / ||g||_2. y is not used (VAT needs no labels) but is shape-checked when
    given, so vat fits the attack(model, x, y) signature."""
    check_inputs(x, y, eps=eps, xi=xi)
    x = x.detach()
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    d = torch.randn(x.shape, generator=generator, device="cpu").to(x)
    with torch.no_grad():
        log_p = model(x).log_softmax(1)
    r = (xi * l2_direction(d)).requires_grad_(True)
    kl = (log_p.exp() * (log_p - model(x + r).log_softmax(1))).sum()
    grad = torch.autograd.grad(kl, r)[0]
    x_adv = x + eps * l2_direction(grad)
    return x_adv.clamp(0, 1) if clip else x_adv


def rho_ratio(
    model,
    x,
    y,
    *,
    steps,
    deepfool_steps,
    step_clip,
    overshoot,
    batch_size=EVAL_BATCH,
):
    """{"ours", "deepfool", "ratio"}: ρ under the paper's attack (high_confidence) and
    under DeepFool (box-clipped), both as Table 1 counts them (failures at their norm),
    and their ratio, which the paper's Table 1 puts at 0.173 / 0.131 = 1.32 (FC)."""
    ours = attacked(
        lambda m, xb, yb: high_confidence(
            m, xb, yb, steps=steps, step_clip=step_clip, overshoot=overshoot
        ),
        model,
        x,
        y,
        batch_size,
    )
    df = attacked(
        lambda m, xb, yb: deepfool(
            m,
            xb,
            yb,
            steps=deepfool_steps,
            overshoot=overshoot,
            step_clip=step_clip,
            clip=True,
        ),
        model,
        x,
        y,
        batch_size,
    )
    rho = {
        name: rho_min_norm(model, x, x_adv, y, failures="count")
        for name, x_adv in (("ours", ours), ("deepfool", df))
    }
    # every point already misclassified: ρ is 0 under both and the ratio undefined
    ratio = rho["ours"] / rho["deepfool"] if rho["deepfool"] > 0 else float("nan")
    return rho | {"ratio": ratio}

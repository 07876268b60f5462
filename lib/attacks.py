"""Attacks as pure functions attack(model, x, y, *, eps, ...) -> x_adv, on batches
in [0, 1].

They never change the model's mode or its parameters' .grad: gradients come from
torch.autograd.grad. Minimum-norm attacks (DeepFool, C&W, high-confidence) return x_adv
too: norms and success come from lib.metrics.
"""

import contextlib
import math

import torch
import torch.nn.functional as F

NORMS = ("linf", "l2")
NORM_FLOOR = 1e-12  # norms are clamped to it before a division: 0 stays 0, not NaN
GRAD_NORM_EPS = 1e-8  # added to gradient norms we divide by: finite where one is 0
BOUNDARY_PUSH = 1e-4  # added to each step, as DeepFool's code: boundary points cross
VAT_XI = 1e-6  # Miyato et al.'s ξ: the power iteration's finite-difference radius


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


def _flat_norm(v, norm):
    flat = v.flatten(1)
    n = flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)
    return n.view(-1, *[1] * (v.dim() - 1))


def _init(x, eps, norm, generator):
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
        noise = noise / _flat_norm(noise, "l2").clamp_min(NORM_FLOOR) * radius
    return (x + eps * noise).clamp(0, 1)


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
            _init(x, eps, norm, generator) if random_start and eps > 0 else x.clone()
        )
        for _ in range(steps):
            grad, _ = input_grad(model, x_adv, y, loss_fn)
            if norm == "linf":
                x_adv = x_adv.add_(grad.sign_(), alpha=alpha).clamp_(low, high)
            else:
                # In place: x_adv takes the step, becomes the perturbation, is scaled
                # back into the ball and boxed.
                delta = x_adv.addcdiv_(
                    grad, _flat_norm(grad, "l2").clamp_min_(NORM_FLOOR), value=alpha
                ).sub_(x)
                scale = (eps / _flat_norm(delta, "l2").clamp_min_(NORM_FLOOR)).clamp_(
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


def uniform_noise(x, *, eps, seed=None):
    """Random L∞ noise, uniform in [-eps, eps] per pixel, clipped to [0, 1]."""
    check_inputs(x, None, eps=eps)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return _init(x.detach(), eps, "linf", generator)


# Minimum-norm and one-step L2 attacks. Per-example scalars are (N,) tensors,
# broadcast with per_sample.


def per_sample(v, x):
    """Reshape an (N,) tensor to broadcast against x of shape (N, ...)."""
    return v.view(-1, *[1] * (x.dim() - 1))


@contextlib.contextmanager
def _im2col_convolutions():
    """PyTorch's own im2col convolutions, not oneDNN's or NNPACK's: on one CPU thread
    they take a conv net's class-by-class input-gradient passes about 1.6x faster
    (Caffe's LeNet, batch 100); a batched backward over the classes (vmap, or K copies
    of the batch) and oneDNN with channels-last inputs measured no faster. Linear
    layers are unaffected."""
    mkldnn = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        with torch.backends.nnpack.flags(enabled=False):
            yield
    finally:
        torch.backends.mkldnn.enabled = mkldnn


def jacobian(model, x, probs=False):
    """The logits (or softmax probabilities) of x, (N, K), and their gradients
    with respect to x, (N, K, *x.shape[1:]): one backward pass per class on a
    shared forward graph."""
    with _im2col_convolutions():
        x = x.detach().requires_grad_(True)
        out = model(x)
        if probs:
            out = out.softmax(1)
        k = out.shape[1]
        grads = [
            torch.autograd.grad(out[:, j].sum(), x, retain_graph=j < k - 1)[0]
            for j in range(k)
        ]
    return out.detach(), torch.stack(grads, 1)


def closest_boundary_from_jacobian(out, jac, y):
    """DeepFool's linearisation: for k != y, distance |f_k - f_y| / ||∇f_k - ∇f_y||_2;
    returns the closest k, its distance (N,), its direction ∇f_k - ∇f_y (N, ...) and
    that direction's norm (N,)."""
    rows = torch.arange(len(y), device=y.device)
    f = out - out[rows, y].unsqueeze(1)
    w = jac - jac[rows, y].unsqueeze(1)
    w_norm = w.flatten(2).norm(dim=2)
    dist = f.abs() / (w_norm + GRAD_NORM_EPS)
    dist[rows, y] = float("inf")
    k = dist.argmin(1)
    return k, dist[rows, k], w[rows, k], w_norm[rows, k]


def _other_classes(y, k):
    """(N, K - 1): each example's classes other than y, in increasing order."""
    j = torch.arange(k - 1, device=y.device).expand(len(y), -1)
    return j + (j >= y.unsqueeze(1))


def closest_boundary(model, x, y, probs=False):
    """closest_boundary_from_jacobian(*jacobian(model, x, probs), y) with one backward
    pass fewer: the K - 1 passes differentiate f_j - f_y for the classes j != y
    directly, as only the differences are used. Returns the closest class k, its
    distance (N,), its direction ∇f_k - ∇f_y (N, ...) and that direction's norm (N,)."""
    rows = torch.arange(len(y), device=y.device)
    with _im2col_convolutions():
        x = x.detach().requires_grad_(True)
        out = model(x)
        if probs:
            out = out.softmax(1)
        others = _other_classes(y, out.shape[1])
        f = out.gather(1, others) - out[rows, y].unsqueeze(1)
        n = f.shape[1]
        w = torch.stack(
            [
                torch.autograd.grad(f[:, i].sum(), x, retain_graph=i < n - 1)[0]
                for i in range(n)
            ],
            1,
        )
    w_norm = w.flatten(2).norm(dim=2)
    dist = f.detach().abs() / (w_norm + GRAD_NORM_EPS)
    # The first of equals, as closest_boundary_from_jacobian: the classes
    # keep their order
    i = dist.argmin(1)
    return others[rows, i], dist[rows, i], w[rows, i], w_norm[rows, i]


def l2_direction(v):
    """v / ||v||_2 per example (0 where v is 0)."""
    return v / _flat_norm(v, "l2").clamp_min(NORM_FLOOR)


def deepfool(model, x, y, *, steps=50, overshoot=0.02, step_clip=None, clip=True):
    """DeepFool L2 (Moosavi-Dezfooli et al. 2016): step to the closest linearised
    boundary among k != y until the prediction leaves y. x_adv = x + (1 + overshoot) r
    with r the sum of the steps; each step's length is capped at step_clip (+1e-4), and
    with clip x_adv is projected to [0, 1] after every step, as in Matyasko & Chau
    (2018)'s evaluation code."""
    check_inputs(
        x,
        y,
        steps=steps,
        overshoot=overshoot,
        step_clip=0 if step_clip is None else step_clip,
    )
    x = x.detach()
    r, x_adv = torch.zeros_like(x), x.clone()
    active = torch.arange(len(x), device=x.device)
    for _ in range(steps):
        # A cheap forward pass first, so that the K backward passes are spent only on
        # examples still classified y.
        with torch.no_grad():
            active = active[model(x_adv[active]).argmax(1) == y[active]]
        if len(active) == 0:
            break
        _, dist, w, w_norm = closest_boundary(model, x_adv[active], y[active])
        if step_clip is not None:
            dist = dist.clamp(max=step_clip)
        r[active] += (
            per_sample((dist + BOUNDARY_PUSH) / (w_norm + GRAD_NORM_EPS), w) * w
        )
        x_new = x[active] + (1 + overshoot) * r[active]
        if clip:
            x_new = x_new.clamp(0, 1)
            # r stays the perturbation actually applied
            r[active] = (x_new - x[active]) / (1 + overshoot)
        x_adv[active] = x_new
    return x_adv


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
                step_clip / _flat_norm(step, "l2").clamp_min(NORM_FLOOR)
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


def adv_loss(model, x, y, *, eps, clip=True, loss_fn=F.cross_entropy):
    """Huang et al. (2015)'s Adv_Loss: x + eps ∇x loss / ||∇x loss||_2, an L2 step of
    length eps (then clipped to [0, 1] with clip)."""
    check_inputs(x, y, eps=eps)
    x = x.detach()
    grad, _ = input_grad(model, x, y, loss_fn)
    x_adv = x + eps * l2_direction(grad)
    return x_adv.clamp(0, 1) if clip else x_adv


def adv_loss_sign(model, x, y, *, eps, clip=True, loss_fn=F.cross_entropy):
    """Huang et al. (2015)'s Adv_Loss_Sign: the FGSM direction sign(∇x loss) rescaled to
    L2 norm eps."""
    check_inputs(x, y, eps=eps)
    x = x.detach()
    grad, _ = input_grad(model, x, y, loss_fn)
    x_adv = x + eps * l2_direction(grad.sign())
    return x_adv.clamp(0, 1) if clip else x_adv


def adv_alpha(model, x, y, *, eps, clip=True):
    """Huang et al. (2015)'s Adv_Alpha (Algorithm 1): one DeepFool step on the softmax
    outputs α toward the class j != y with the smallest |α_y - α_j| / ||∇α_j - ∇α_y||_2,
    along ∇α_j - ∇α_y rescaled to L2 norm eps."""
    check_inputs(x, y, eps=eps)
    x = x.detach()
    # The paper's r_j carries the sign of α_y - α_j; we always push away from y, which
    # is the same for a correctly classified x and keeps a misclassified one from being
    # pushed back to y.
    direction = closest_boundary(model, x, y, probs=True)[2]
    x_adv = x + eps * l2_direction(direction)
    return x_adv.clamp(0, 1) if clip else x_adv


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

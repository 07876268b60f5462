"""Minimum-norm attacks: DeepFool and the linearised closest boundary it steps to
(Moosavi-Dezfooli et al. 2016). Per-example scalars are (N,) tensors, broadcast with
per_sample."""

import contextlib

import torch

from lib.attacks.base import (
    BOUNDARY_PUSH,
    GRAD_NORM_EPS,
    check_inputs,
    per_sample,
)


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

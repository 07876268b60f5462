"""Entropic (Sinkhorn) transport distance between batches of images on a pixel
grid (Cuturi 2013).

The cost of moving unit mass from pixel (a, b) to pixel (c, d) is the squared grid
distance (a-c)² + (b-d)², the 784×784 matrix of Goel, Shah & Suresh's code for 28×28
images. That cost is a sum of a row term and a column term, so the Gibbs kernel K =
exp(-C/ε) is the Kronecker product of one side×side kernel with itself, and K·v is K₁ V
K₁ for the image V: 2·side³ operations instead of side⁴, with the same numbers.
"""

import torch


def grid_cost(side, device="cpu", dtype=torch.float32):
    """The (side², side²) squared-distance cost between the pixels of a
    side×side image, row-major."""
    r = torch.arange(side, device=device, dtype=dtype)
    d1 = (r[:, None] - r[None, :]) ** 2
    return (d1[:, None, :, None] + d1[None, :, None, :]).reshape(
        side * side, side * side
    )


def sinkhorn(x, y, *, epsilon, iters, tol, delta, plan=False, differentiable=False):
    """Per-example entropic transport cost Σ_ij Π_ij C_ij from x to y, images of shape
    (N, [1,] side, side).

    The updates are the authors' (wasserstein.py): u = v = 1/n, then `iters` times u = x
    / (K v + delta), v = y / (Kᵀ u + delta), stopping early once the batch mean of
    Σ(|Δu| + |Δv|) falls below `tol` (0: never); Π = diag(u) K diag(v). x and y are any
    non-negative intensities (the code does not normalise their mass). A delta > 0 caps
    the scalings, so mass that would have to travel far is dropped rather than moved.
    Returns the (N,) distances, and with plan=True also Π of shape (N, n, n). Without
    `differentiable` no graph is kept (the authors' detached term); with it the result
    back-propagates through every iteration.
    """
    if epsilon <= 0 or iters < 1 or tol < 0 or delta < 0:
        raise ValueError(
            f"need epsilon > 0, iters >= 1, tol >= 0, delta >= 0; "
            f"got {epsilon=}, {iters=}, {tol=}, {delta=}"
        )
    side = x.shape[-1]
    if x.shape != y.shape or x.shape[-2] != side:
        raise ValueError(
            "x and y must be square images of one shape, "
            f"got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
        x = x.reshape(-1, side, side)
        y = y.reshape(-1, side, side)
        r = torch.arange(side, device=x.device, dtype=x.dtype)
        d1 = (r[:, None] - r[None, :]) ** 2
        k1 = torch.exp(-d1 / epsilon)
        u = torch.full_like(x, 1.0 / side**2)
        v = torch.full_like(x, 1.0 / side**2)
        for _ in range(iters):
            u_prev, v_prev = u, v
            u = x / (k1 @ v @ k1 + delta)  # K v, K symmetric
            v = y / (k1 @ u @ k1 + delta)  # Kᵀ u
            if (
                tol > 0
                and ((u - u_prev).abs() + (v - v_prev).abs()).sum((1, 2)).mean() < tol
            ):
                break
        kd = k1 * d1
        # Σ_ij u_i K_ij v_j (D_row + D_col)_ij, split along the two factors of K.
        distance = (u * (kd @ v @ k1 + k1 @ v @ kd)).sum((1, 2))
        if not plan:
            return distance
        kernel = torch.kron(k1, k1)
        return distance, u.flatten(1)[:, :, None] * kernel * v.flatten(1)[:, None, :]

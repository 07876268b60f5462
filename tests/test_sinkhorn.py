"""The batched Sinkhorn distance (papers/wagan/sinkhorn.py) against the authors'
dense rule and against POT."""

import numpy as np
import ot
import pytest
import torch

from papers.wagan.sinkhorn import grid_cost, sinkhorn

# The POT runs stop at a fixed iteration count on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Sinkhorn did not converge")
EPS = 0.2  # Goel, Shah & Suresh's entropic regularisation


def images(n, side, seed, positive=False):
    """Sparse, MNIST-like non-negative images: a bright blob on a dark background
    (strictly positive if asked)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, side, side, generator=g) * (
        torch.rand(n, 1, side, side, generator=g) < 0.3
    )
    return x + 0.05 if positive else x


def normalised(x):
    return x / x.sum((1, 2, 3), keepdim=True)


def dense_authors_rule(x, y, *, epsilon, iters, tol):
    """wasserstein.py's loop with the full n×n cost and kernel, per example."""
    side = x.shape[-1]
    cost = grid_cost(side, dtype=x.dtype)
    kernel = torch.exp(-cost / epsilon)
    x, y = x.reshape(len(x), -1), y.reshape(len(y), -1)
    u = torch.full_like(x, 1 / side**2)
    v = torch.full_like(x, 1 / side**2)
    for _ in range(iters):
        pu, pv = u, v
        u = x / (v @ kernel.T + 1e-8)
        v = y / (u @ kernel + 1e-8)
        if ((u - pu).abs() + (v - pv).abs()).sum(1).mean() < tol:
            break
    plan = u[:, :, None] * kernel * v[:, None, :]
    return (plan * cost).sum((1, 2)), plan


def pot_plan(x, y, cost, iters):
    """POT's Sinkhorn-Knopp updates v before u; with a symmetric kernel, ours from x to
    y is POT's from y to x, transposed. stopThr=0 runs exactly `iters` iterations."""
    return ot.sinkhorn(
        y.flatten().numpy(),
        x.flatten().numpy(),
        cost,
        reg=EPS,
        numItermax=iters,
        stopThr=0,
    ).T


def test_grid_cost_is_the_squared_pixel_distance():
    cost = grid_cost(28)
    assert cost.shape == (784, 784)
    # pixel (0, 0) to pixel (3, 4): 9 + 16
    assert cost[0, 3 * 28 + 4] == 25 and cost[5 * 28 + 6, 5 * 28 + 6] == 0
    torch.testing.assert_close(cost, cost.T)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_separable_kernel_equals_the_authors_dense_784x784_rule(dtype):
    # Raw, unnormalised intensities of unequal mass, as the authors feed it: x and
    # a perturbed x.
    x = images(6, 28, 0).to(dtype)
    noise = (
        torch.rand(x.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
        - 0.5
    )
    y = (x + 0.3 * noise).clamp(0, 1)
    ours, plan = sinkhorn(x, y, epsilon=EPS, iters=50, tol=1e-6, delta=1e-8, plan=True)
    dense, dense_plan = dense_authors_rule(x, y, epsilon=EPS, iters=50, tol=1e-6)
    rtol = 1e-9 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(ours, dense, rtol=rtol, atol=0)
    torch.testing.assert_close(plan, dense_plan, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("iters", [50, 5000])
def test_distance_and_plan_match_pot(iters):
    # Without the authors' delta, iteration for iteration (50: the authors' count; 5000:
    # converged). Stated tolerance (float64): 1e-12 absolute on every entry of the plan,
    # 1e-9 relative on the distance.
    x, y = (
        normalised(images(3, 8, 2, positive=True)).double(),
        normalised(images(3, 8, 3, positive=True)).double(),
    )
    ours, plan = sinkhorn(x, y, epsilon=EPS, iters=iters, tol=0, delta=0, plan=True)
    cost = grid_cost(8, dtype=torch.float64).numpy()
    for i in range(len(x)):
        theirs = pot_plan(x[i], y[i], cost, iters)
        np.testing.assert_allclose(plan[i].numpy(), theirs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours[i].item(), (theirs * cost).sum(), rtol=1e-9)


def test_float32_matches_pot_within_1e_4():
    x, y = (
        normalised(images(3, 8, 4, positive=True)),
        normalised(images(3, 8, 5, positive=True)),
    )
    ours = sinkhorn(x, y, epsilon=EPS, iters=50, tol=0, delta=0)
    cost = grid_cost(8, dtype=torch.float64).numpy()
    pot = [
        (pot_plan(x[i].double(), y[i].double(), cost, 50) * cost).sum()
        for i in range(3)
    ]
    np.testing.assert_allclose(ours.numpy(), pot, rtol=1e-4)


def test_what_epsilon_0_2_does_to_the_exact_distance():
    # The exact (unregularised) cost from POT's network simplex against the converged
    # entropic plan's cost: the entropic plan is feasible, so it costs at least the
    # optimum, and at ε = 0.2 under 1 % more. After the authors' 50 iterations the plan
    # is not yet feasible and its cost is well below the optimum.
    side = 6
    x, y = (
        normalised(images(4, side, 6, positive=True)).double(),
        normalised(images(4, side, 7, positive=True)).double(),
    )
    cost = grid_cost(side, dtype=torch.float64).numpy()
    exact = np.array(
        [
            ot.emd2(x[i].flatten().numpy(), y[i].flatten().numpy(), cost)
            for i in range(4)
        ]
    )
    converged = sinkhorn(x, y, epsilon=EPS, iters=5000, tol=0, delta=0).numpy()
    assert np.all(converged >= exact - 1e-7) and np.all(converged <= 1.01 * exact), (
        converged,
        exact,
    )
    fifty = sinkhorn(x, y, epsilon=EPS, iters=50, tol=0, delta=0).numpy()
    assert np.all(fifty < converged) and (fifty / exact).min() < 0.9, (fifty, exact)


def test_the_authors_delta_drops_far_mass():
    # With delta = 1e-8 the scalings are capped: the converged plan misses row mass and
    # costs less than the exact optimum, which no transport plan can.
    side = 8
    x, y = (
        normalised(images(4, side, 6, positive=True)).double(),
        normalised(images(4, side, 7, positive=True)).double(),
    )
    cost = grid_cost(side, dtype=torch.float64).numpy()
    exact = np.array(
        [
            ot.emd2(x[i].flatten().numpy(), y[i].flatten().numpy(), cost)
            for i in range(4)
        ]
    )
    capped, plan = sinkhorn(x, y, epsilon=EPS, iters=5000, tol=0, delta=1e-8, plan=True)
    assert np.any(capped.numpy() < 0.9 * exact)
    assert ((plan.sum(2) - x.flatten(1)).abs().sum(1) > 0.01).any()


def test_columns_never_exceed_y():
    x, y = images(2, 28, 8), images(2, 28, 9)
    _, plan = sinkhorn(x, y, epsilon=EPS, iters=50, tol=0, delta=1e-8, plan=True)
    # v is updated last, so column j of Π carries y_j·s/(s + delta) with s = (Kᵀu)_j:
    # never more than y_j.
    columns = plan.sum(1)
    assert (columns <= y.flatten(1) * (1 + 1e-5)).all() and (
        columns > 0.99 * y.flatten(1)
    ).any()


def test_detached_by_default_differentiable_when_asked():
    x = normalised(images(2, 5, 10, positive=True)).double()
    y = normalised(images(2, 5, 11, positive=True)).double().requires_grad_(True)
    assert not sinkhorn(x, y, epsilon=EPS, iters=20, tol=0, delta=1e-8).requires_grad
    assert torch.autograd.gradcheck(
        lambda y_: sinkhorn(
            x, y_, epsilon=EPS, iters=20, tol=0, delta=1e-8, differentiable=True
        ),
        (y,),
    )


def test_bad_arguments_raise():
    x = images(1, 5, 0)
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn(x, x, epsilon=0, iters=5, tol=0, delta=0)
    with pytest.raises(ValueError, match="square images"):
        sinkhorn(x, x[..., :4], epsilon=EPS, iters=5, tol=0, delta=0)

"""How sure a number of ours is: the spread over seeds and the sampling error of the
test points it was measured on, combined into one standard error, and how many seeds
or points would bring it under a tolerance."""

import math

import numpy as np

Z = 2.0  # "about two standard errors": a difference smaller than Z·se is noise


def binomial_se(percent, n):
    """Standard error (points) of an accuracy in % measured on n test points.

    The rate is smoothed (Laplace: (k + 1) / (n + 2)) so that 0 % or 100 % on a
    small sample still carries the error of its n points rather than none."""
    if not n >= 1:
        raise ValueError(f"n must be a number of test points >= 1, got {n!r}")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must lie in [0, 100], got {percent!r}")
    rate = (percent / 100 * n + 1) / (n + 2)
    return 100 * math.sqrt(rate * (1 - rate) / n)


def point_variance(mean, *, n=None, point_sd=None, percent=True):
    """The variance of one test point's contribution: binomial for a rate in %,
    point_sd² (e.g. the spread of ρ over images) otherwise; None when unknown."""
    if point_sd is not None:
        if not point_sd >= 0:
            raise ValueError(f"point_sd must be >= 0, got {point_sd!r}")
        return float(point_sd) ** 2
    if n is None or not percent:
        return None
    return binomial_se(min(max(mean, 0.0), 100.0), n) ** 2 * n


def measurement(values, *, n=None, point_sd=None, percent=True):
    """Our value of a claim from one number per run, each measured on the same n test
    points: {"mean", "std", "n_runs", "n_points", "se_seeds", "se_points", "se"}.

    The seeds' spread shrinks with the runs, the points' error does not (every run
    is measured on the same points): se² = std² / runs + var_point / n. One run
    measures no spread (se_seeds None, counted as 0)."""
    values = np.asarray(values, dtype=float).ravel()
    if len(values) == 0 or not np.isfinite(values).all():
        raise ValueError(f"values must be one finite number per run, got {values!r}")
    if n is not None and not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n must be a whole number of test points >= 1, got {n!r}")
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    se_seeds = std / math.sqrt(len(values)) if len(values) > 1 else None
    var_point = point_variance(mean, n=n, point_sd=point_sd, percent=percent)
    se_points = None if var_point is None or n is None else math.sqrt(var_point / n)
    return {
        "mean": mean,
        "std": std,
        "n_runs": len(values),
        "n_points": n,
        "se_seeds": se_seeds,
        "se_points": se_points,
        "se": math.hypot(se_seeds or 0.0, se_points or 0.0),
        "var_point": var_point,
    }


def to_decide(measured, tolerance, paper_se=0.0):
    """The seeds and the test points that would bring the combined standard error of
    ours minus the paper's under `tolerance`: {"seeds": runs or None, "points": n or
    None}, None where more of that alone cannot (or, for seeds, one run measured no
    spread)."""
    budget = tolerance**2 - paper_se**2
    seeds_part = (measured["se_seeds"] or 0.0) ** 2
    points_part = (measured["se_points"] or 0.0) ** 2
    seeds = points = None
    if measured["se_seeds"] is not None and budget > points_part:
        runs = measured["std"] ** 2 / (budget - points_part)
        seeds = max(measured["n_runs"], math.ceil(runs))
    if measured["var_point"] is not None and budget > seeds_part:
        points = max(
            measured["n_points"] or 1,
            math.ceil(measured["var_point"] / (budget - seeds_part)),
        )
    return {"seeds": seeds, "points": points}


def difference_se(a, b, n):
    """Standard error (points) of the difference of two accuracies in % measured on n
    test points each (conservative: as if the two were independent)."""
    return math.hypot(binomial_se(a, n), binomial_se(b, n))


def accuracy_order(a, b, n):
    """Which of two accuracies (%) on n test points each is ahead beyond two standard
    errors of their difference: 1 (a), -1 (b) or 0 (not told apart), and those two
    standard errors. As if the two were independent, which overstates a paired
    difference's error: a gap called beyond the noise is beyond it."""
    two_se = Z * difference_se(a, b, n)
    return (a - b > two_se) - (b - a > two_se), two_se

"""One verdict rule for the whole book: a claim against the paper is reproduced, partly
reproduced or not, and a claim that is not says why (its cause).

A claim is reproduced when |ours - reported| <= tolerance, partly when within twice the
tolerance, not reproduced otherwise. Tolerances: clean accuracy 0.5 points, accuracy
under attack 3 points, a norm 10% relative; an ordering claim must hold in >= 80% of
runs (partly: >= 60%).
"""

import numpy as np

TOLERANCE = {"clean": 0.5, "attack": 3.0, "norm": 0.10, "ordering": 0.8}


ROUNDING = 1e-9  # a fraction at a threshold meets it, though 2 * (1 - 0.8) < 0.4


def verdict(kind, reported, ours):
    """The verdict of the book's rule for one claim of the given kind."""
    if kind not in TOLERANCE:
        raise ValueError(f"kind must be one of {sorted(TOLERANCE)}, got {kind!r}")
    if kind == "ordering":
        missed = 1 - ours  # the fraction of runs where the stated order fails
        return (
            "reproduced"
            if missed <= 1 - TOLERANCE[kind] + ROUNDING
            else (
                "partly"
                if missed <= 2 * (1 - TOLERANCE[kind]) + ROUNDING
                else "not reproduced"
            )
        )
    gap = abs(ours - reported) / (abs(reported) if kind == "norm" else 1)
    return (
        "reproduced"
        if gap <= TOLERANCE[kind]
        else "partly"
        if gap <= 2 * TOLERANCE[kind]
        else "not reproduced"
    )


CAUSES = ("budget", "reading", "paper", "open")


def claim(claim_id, description, kind, reported, values, cause=None):
    """A claim row: `values` holds one number per run (for an ordering claim,
    whether it held).

    `cause` says why a claim that is not reproduced is not: "budget", "reading", "paper"
    or "open", each with its evidence in the notebook."""
    if cause is not None and cause not in CAUSES:
        raise ValueError(f"cause must be None or one of {CAUSES}, got {cause!r}")
    values = np.asarray(values, dtype=float)
    ours = float(values.mean())
    judged = verdict(kind, reported, ours)
    return {
        "id": claim_id,
        "description": description,
        "kind": kind,
        "reported": "holds" if kind == "ordering" else reported,
        "ours_mean": ours,
        "ours_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "n_runs": len(values),
        "tolerance": TOLERANCE[kind],
        "verdict": judged,
        "cause": None if judged == "reproduced" else cause,
    }

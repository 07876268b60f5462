"""Gradient-masking checks on one defense's accuracies (Carlini et al. 2019, "On
Evaluating Adversarial Robustness", §5): each named flag is True where the numbers look
like a masked gradient rather than robustness, False where they do not, None where
the accuracies it needs were not given."""

from lib.uncertainty import accuracy_order

FAR = 20.0  # points: an FGSM accuracy this far above PGD's is suspicious, not just weak
FLOOR = 10.0  # points: accuracy at the largest ε of a sweep should fall below this


def masking_flags(
    *,
    clean,
    fgsm=None,
    pgd=None,
    pgd_more=None,
    autoattack=None,
    square=None,
    eps_sweep=None,
    n=None,
):
    """Flags for one defense from its accuracies in % on the same n test points: clean,
    FGSM, PGD, PGD with more steps and restarts, AutoAttack, Square (black-box), and an
    ε sweep {eps: accuracy}. A gap counts beyond 2 standard errors of n points (1
    point without n)."""
    given = [clean, fgsm, pgd, pgd_more, autoattack, square]
    given += list((eps_sweep or {}).values())
    if any(v is not None and not 0 <= v <= 100 for v in given):
        raise ValueError(f"accuracies must lie in [0, 100] (%), got {given}")
    if n is not None and not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n must be a whole number of test points >= 1, got {n!r}")

    def beyond(a, b):
        """Whether accuracy a exceeds b by more than the noise of the two."""
        return accuracy_order(a, b, n)[0] == 1 if n else a - b > 1.0

    white = [v for v in (fgsm, pgd, pgd_more) if v is not None]
    return {
        "iterative_weaker_than_one_step": _check(
            fgsm, pgd, lambda: beyond(pgd, fgsm), "PGD above FGSM"
        ),
        "one_step_far_weaker": _check(
            fgsm, pgd, lambda: fgsm - pgd > FAR, f"FGSM over {FAR:g} points above PGD"
        ),
        "more_steps_help_the_model": _check(
            pgd, pgd_more, lambda: beyond(pgd_more, pgd), "more PGD steps score higher"
        ),
        "autoattack_above_pgd": _check(
            autoattack, pgd, lambda: beyond(autoattack, pgd), "AutoAttack above PGD"
        ),
        "black_box_beats_white_box": _check(
            square,
            white or None,
            lambda: beyond(min(white), square),
            "Square below every white-box attack",
        ),
        "no_fall_with_eps": _sweep(eps_sweep),
    }


def _check(a, b, test, why):
    """A flag from a test of two accuracies, None when either is missing."""
    if a is None or b is None:
        return {"flag": None, "why": "not measured"}
    flagged = bool(test())
    return {"flag": flagged, "why": why if flagged else ""}


def _sweep(eps_sweep):
    """Accuracy should fall to about 0 at the largest ε of a sweep."""
    if not eps_sweep:
        return {"flag": None, "why": "not measured"}
    largest = max(eps_sweep)
    flagged = eps_sweep[largest] > FLOOR
    why = f"{eps_sweep[largest]:.1f} % left at ε = {largest:g}" if flagged else ""
    return {"flag": flagged, "why": why}

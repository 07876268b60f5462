"""Beyond the paper, the same for every defense of the book: accuracy under FGSM, the
book's PGD, PGD with more steps and restarts, PGD at larger radii and AutoAttack, on
the same test points, with the gradient-masking checks of Carlini et al. (2019) drawn
from those numbers (lib/masking.py)."""

import torchattacks

from lib.attacks import pgd
from lib.autoattack import (
    BOOK_VERSION,
    THREAT_MODELS,
    adversarial_examples,
    describe,
)
from lib.masking import masking_flags
from lib.metrics import EVAL_BATCH, attacked, predictions

# Larger radii for the check that accuracy falls to about 0 as ε grows: at L∞ 0.5 any
# image can be turned uniform grey, and L2 6 is about two-thirds of a digit's norm.
SWEEP = {"Linf": (0.2, 0.3, 0.5), "L2": (3.0, 6.0)}
# How hard evaluate works, by name: "book" on every page (its defaults: the book's PGD
# of 20 steps, 100 steps and 3 restarts for the masking check, Square alone at 1,000
# queries, AutoAttack as published), "smoke" a token effort for the tests' minute
EFFORTS = {
    "book": {},
    "smoke": {
        "steps": 2,
        "more_steps": 4,
        "more_restarts": 2,
        "square_queries": 50,
        "version": "smoke",
    },
}


def evaluate_at(effort, model, x, y):
    """evaluate at a named effort (EFFORTS), at the book's two threat models."""
    if effort not in EFFORTS:
        raise ValueError(f"effort must be one of {sorted(EFFORTS)}, got {effort!r}")
    return evaluate(model, x, y, **EFFORTS[effort])


def evaluate(
    model,
    x,
    y,
    *,
    threat_models=THREAT_MODELS,
    steps=20,
    step_factor=2.5,
    more_steps=100,
    more_restarts=3,
    square_queries=1000,
    sweep=SWEEP,
    version=BOOK_VERSION,
    seed=0,
):
    """One model's accuracies (%) on (x, y), a point counting when the model is right
    on it and on its adversarial example: {"n", "clean", "autoattack": what ran,
    "attacks": {norm: {"fgsm", "pgd", "pgd_more", "autoattack", "square",
    "sweep": {eps: %}}},
    "masking": {norm: lib.masking flags}}. PGD steps are step_factor·ε/steps long,
    from a random start; Square (black-box) alone at square_queries queries; norms as
    lib.autoattack's ("Linf", "L2")."""
    correct = predictions(model, x) == y
    record = {
        "n": len(x),
        "clean": percent(correct),
        "autoattack": describe(version, len(x))[0],
        "attacks": {},
        "masking": {},
    }
    settings = dict(
        steps=steps,
        step_factor=step_factor,
        more_steps=more_steps,
        more_restarts=more_restarts,
        square_queries=square_queries,
        version=version,
        seed=seed,
    )
    for norm, eps in threat_models.items():
        row = threat_row(
            model, x, y, correct, norm, eps, sweep.get(norm, ()), **settings
        )
        record["attacks"][norm] = row
        record["masking"][norm] = masking_flags(
            clean=record["clean"],
            fgsm=row["fgsm"],
            pgd=row["pgd"],
            pgd_more=row["pgd_more"],
            autoattack=row["autoattack"],
            square=row["square"],
            eps_sweep=row["sweep"] or None,
            n=len(x),
        )
    return record


def threat_row(
    model,
    x,
    y,
    correct,
    norm,
    eps,
    radii,
    *,
    steps,
    step_factor,
    more_steps,
    more_restarts,
    square_queries,
    version,
    seed,
):
    """evaluate's accuracies at one threat model."""

    def under(attack):
        x_adv = attacked(lambda m, xb, yb: attack(xb, yb), model, x, y, EVAL_BATCH)
        return percent(correct & (predictions(model, x_adv) == y))

    def pgd_at(radius, n_steps=steps, restarts=1, start=True, seed_=seed):
        return lambda xb, yb: pgd(
            model,
            xb,
            yb,
            eps=radius,
            alpha=step_factor * radius / n_steps if start else radius,
            steps=n_steps,
            norm=norm.lower(),
            random_start=start,
            restarts=restarts,
            seed=seed_,
        )

    return {
        "fgsm": under(pgd_at(eps, n_steps=1, start=False)),
        "pgd": under(pgd_at(eps)),
        "pgd_more": under(pgd_at(eps, more_steps, more_restarts, seed_=seed + 1)),
        "autoattack": under(
            lambda xb, yb: adversarial_examples(
                model, xb, yb, norm, eps, seed=seed, version=version
            )
        ),
        # Black-box: it must not beat the white-box attacks
        "square": under(
            torchattacks.Square(
                model, norm=norm, eps=eps, n_queries=square_queries, seed=seed
            )
        ),
        "sweep": {radius: under(pgd_at(radius)) for radius in radii},
    }


def percent(mask):
    return 100 * mask.float().mean().item()


def flagged(record):
    """The masking checks any threat model flags: {check: {"flag", "why"}}, each why
    prefixed by its norm (the leaderboard's masking column)."""
    out = {}
    for norm, flags in record["masking"].items():
        for name, check in flags.items():
            mine = out.setdefault(name, {"flag": check["flag"], "why": ""})
            if check["flag"] is None:
                continue
            mine["flag"] = bool(mine["flag"]) or check["flag"]
            if check["flag"]:
                mine["why"] = "; ".join(
                    filter(None, [mine["why"], f"{norm}: {check['why']}"])
                )
    return out


def common_record(records, *, seed=0):
    """The leaderboard's metrics["autoattack"] from {defense: evaluate(...) record},
    all on the same points."""
    first = next(iter(records.values()))
    n = first["n"]
    if any(r["n"] != n for r in records.values()):
        raise ValueError("every defense must be evaluated on the same points")
    spec, words = describe(first["autoattack"]["name"], n)
    return {
        "n": n,
        "seed": seed,
        "attack": words,
        "version": spec,
        "threat_models": {norm: THREAT_MODELS[norm] for norm in first["attacks"]},
        "defenses": {
            name: {
                "clean": r["clean"],
                **{norm: row["autoattack"] for norm, row in r["attacks"].items()},
                "masking": flagged(r),
            }
            for name, r in records.items()
        },
    }


def accuracy_table(records):
    """One row per defense and threat model of {defense: evaluate(...) record}: clean,
    each attack, and the sweep's PGD as "PGD ε=<radius>" (the pages' beyond table)."""
    import pandas as pd

    rows = {}
    for name, record in records.items():
        for norm, row in record["attacks"].items():
            sweep = {f"PGD ε={eps:g}": acc for eps, acc in row["sweep"].items()}
            attacks = {k: v for k, v in row.items() if k != "sweep"}
            rows[name, norm] = {"clean": record["clean"], **attacks, **sweep}
    return pd.DataFrame(rows).T.astype(float)


def masking_table(common):
    """The masking checks that flag each defense of a common_record, by name."""
    import pandas as pd

    flags = {
        name: ", ".join(k for k, v in row["masking"].items() if v["flag"]) or "none"
        for name, row in common["defenses"].items()
    }
    return pd.Series(flags, name="masking checks that flag").to_frame()


def common_table(common):
    """A common_record's accuracies (%): clean and AutoAttack at each threat model."""
    import pandas as pd

    return pd.DataFrame(
        {
            name: {k: v for k, v in row.items() if k != "masking"}
            for name, row in common["defenses"].items()
        }
    ).T.astype(float)

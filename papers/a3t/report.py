"""From the evaluations to the page's numbers: Table 1 as a frame, the budget trend from
each member's history, and every claim scored once, under the paper's training FGSM
(lib.verdicts), its cause from evidence: another reading run on the same seeds, the
trend along training, or `open` with what was tried."""

import numpy as np
import pandas as pd

from lib.pages import norm_name
from lib.uncertainty import accuracy_order, binomial_se, difference_se
from lib.verdicts import explain, score, score_ordering, weakest
from papers.a3t.experiment import SETUP

COLUMN = {"clean": "real", "attack": "FGSM"}
TEST_READINGS = {  # Table 1's FGSM read otherwise at test, on the same models
    "test FGSM unclipped": "FGSM unclipped",
    "test FGSM made once on simple training (transfer)": "FGSM transferred",
}


def frame(evaluated):
    """Table 1's rows of every stack: (method, reading, seed) and the columns."""
    return pd.DataFrame(
        [
            {"method": method, "reading": reading, **row}
            for (kind, method, reading), rows in evaluated.items()
            if kind == "table1"
            for row in rows
        ]
    )


def values(rows, method, reading, column, seeds):
    chosen = rows[(rows.method == method) & (rows.reading == reading)]
    return chosen.set_index("seed").loc[list(seeds), column].to_numpy(dtype=float)


def swapped(rows, reading):
    """The setup's rows with every method trained under `reading` in its place, where
    that reading trained it (so an ordering can be scored under it)."""
    other = rows[rows.reading == reading]
    kept = rows[(rows.reading == SETUP) & ~rows.method.isin(other.method)]
    return pd.concat([kept, other.assign(reading=SETUP)], ignore_index=True)


def margins(claim_id, rows, seeds, n, history=None):
    """One (margin, se) a seed for an ordering claim."""
    out = []
    for seed in seeds:
        acc = {
            m: values(rows, m, SETUP, "FGSM", [seed])[0] for m in ("AT", "A2T", "A3T")
        }
        if claim_id == "a2t_competitive_with_at":
            pairs = [
                (acc["A2T"] - acc["AT"] + 5.0, difference_se(acc["A2T"], acc["AT"], n))
            ]
        elif claim_id == "a3t_beats_at":
            pairs = [(acc["A3T"] - acc["AT"], difference_se(acc["A3T"], acc["AT"], n))]
        else:
            pairs = dynamics(history[seed])
        out.append(weakest(pairs))
    return out


def dynamics(history):
    """Fig. 2 of A3T: D's validation accuracy ends within 10 points of chance (50 %)
    while the adversarial accuracy rises from the first epoch to the last: the two
    comparisons, in points, with their standard errors."""
    n = history["n_val"]
    disc = 100 * history["val_acc_disc"][-1]
    adv = [100 * history["val_acc_adv"][i] for i in (0, -1)]
    return [
        (10.0 - abs(disc - 50.0), binomial_se(disc, n)),
        (adv[1] - adv[0], difference_se(adv[1], adv[0], n)),
    ]


def trend(spec, histories, seeds):
    """[(epoch, mean over seeds)] of a numeric claim's metric on the first test images
    after every epoch (the members' histories)."""
    if spec["kind"] == "ordering":
        return []
    name = "test_real" if spec["kind"] == "clean" else "test_fgsm"
    per_seed = np.array([histories[spec["model"], s][name] for s in seeds])
    return [(e + 1, 100 * float(v)) for e, v in enumerate(per_seed.mean(0))]


def scored(spec, rows, seeds, n, *, readings, histories):
    """One claim under the setup's reading, with its cause where it misses."""
    if spec["kind"] == "ordering":
        fig2 = {s: histories["A3T", s] for s in seeds}

        def rule(other=None, **cause):
            m = other or to_values(margins(spec["id"], rows, seeds, n, fig2))
            return score_ordering(
                spec, m["margins"], m["se"], n=n, seeds=seeds, **cause
            )

        candidates = [
            (r, to_values(margins(spec["id"], swapped(rows, r), seeds, n, fig2)))
            for r in readings
            if spec["id"] != "fig2_dynamics"
        ]
    else:
        column = COLUMN[spec["kind"]]
        ours = values(rows, spec["model"], SETUP, column, seeds)

        def rule(other=None, **cause):
            return score(
                spec, ours if other is None else other, n=n, seeds=seeds, **cause
            )

        trained = rows[rows.method == spec["model"]].reading.unique()
        candidates = [
            (r, values(rows, spec["model"], r, column, seeds))
            for r in readings
            if r in trained
        ]
        if spec["kind"] == "attack":
            candidates += [
                (name, values(rows, spec["model"], SETUP, c, seeds))
                for name, c in TEST_READINGS.items()
            ]
    return explain(spec, rule, candidates, trend=trend(spec, histories, seeds))


def to_values(pairs):
    return {"margins": [m for m, _ in pairs], "se": [s for _, s in pairs]}


def autoattack_verdict(autoattack, a3t="A3T", at="AT", norm="Linf"):
    """A sentence on the paper's "A3T is more robust than AT" under AutoAttack
    (`autoattack`: the page's common record, `a3t` and `at` the two defenses' names
    in it): both robust accuracies on its n test points, and whether their difference
    exceeds two standard errors (lib.uncertainty.accuracy_order)."""
    n, eps = autoattack["n"], autoattack["threat_models"][norm]
    a3t, at = (autoattack["defenses"][name][norm] for name in (a3t, at))
    order, two_se = accuracy_order(a3t, at, n)
    said = (
        f"Under AutoAttack at {norm_name(norm)} ε = {eps:g}, A3T keeps {a3t:.1f} % and "
        f"AT {at:.1f} % (first seed, {n} test images; two standard errors of the "
        f"difference: {two_se:.1f} points)"
    )
    if order > 0:
        return f"{said}: A3T is more robust than AT, as the paper claims."
    if order < 0:
        return (
            f"{said}: the paper's claim **does not hold**: A3T is less robust than "
            "AT under the stronger attack, whatever FGSM says."
        )
    return (
        f"{said}: A3T is **not measurably more robust** than AT under the stronger "
        "attack, whatever FGSM says; the paper's claim is not borne out, and more "
        "test points would be needed to tell the two apart."
    )


def radius_text(rows, histories, seeds, eps_train, eps_test, methods=("AT", "A3T")):
    """A sentence on the radius a defense learned: its FGSM accuracy at its training ε
    on the validation images at the last epoch (Fig. 2's curve), beside Table 1's at
    ε_test, and the caption's reading (trained at ε_test) at ε_test; mean over seeds."""
    parts, better = [], []
    for method in methods:
        trained = 100 * np.mean(
            [histories[method, s]["val_acc_adv"][-1] for s in seeds]
        )
        tested = values(rows, method, SETUP, "FGSM", seeds).mean()
        caption = values(rows, method, "caption", "FGSM", seeds).mean()
        better.append(trained > tested)
        parts.append(
            f"{method} keeps {trained:.1f} % of the validation images at "
            f"ε = {eps_train:g} (Fig. 2, last epoch) and {tested:.1f} % of the test "
            f"images at ε = {eps_test:g}, {caption:.1f} % when trained at {eps_test:g} "
            "(the caption's reading)"
        )
    resists = "resists" if all(better) else "does not resist"
    return (
        f"Trained at ε = {eps_train:g}, each defense here {resists} FGSM at its "
        f"training radius better than at Table 1's: {'; '.join(parts)}."
    )

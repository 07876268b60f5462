"""From the evaluations to the page's numbers: Tables 1 and 2 as frames, the budget
trend, and every claim scored by the book's rule (lib.verdicts) with its cause from
evidence: a reading run on the same seeds, the trend along training, or the paper's
own numbers."""

import numpy as np
import pandas as pd

from lib.pages import norm_name
from lib.uncertainty import accuracy_order, difference_se
from lib.verdicts import explain, score, score_ordering, weakest
from papers.learning_with_adversary.config import (
    ADVERSARIAL,
    COLUMNS,
    MLP_METHODS,
    PAPER_NAMES,
)
from papers.learning_with_adversary.experiment import LONGER, longer_row


def frame(evaluated, split):
    """The rows of every evaluated stack on `split` ("validation", "test")."""
    return pd.DataFrame(
        [
            {"arch": arch, "row": row, **values}
            for (kind, arch, row), result in evaluated.items()
            if kind == "columns"
            for values in result[split]
        ]
    )


def trend_frames(evaluated, final, epochs, kept):
    """{epoch: rows}: the `kept` epochs before the last (on the trend's images), and
    the final validation rows at `epochs`."""
    frames = {}
    for (kind, arch, row), result in evaluated.items():
        if kind != "columns":
            continue
        for epoch, rows in result["trend"].items():
            if epoch not in kept:
                continue  # Fig. 2's epochs, kept by one stack alone
            frames.setdefault(epoch, []).extend(
                {"arch": arch, "row": row, **values} for values in rows
            )
    frames = {epoch: pd.DataFrame(rows) for epoch, rows in sorted(frames.items())}
    return {**frames, epochs: final}


def trend_record(frames):
    """The budget trend as results-file data: {epoch: rows, each keyed "arch/row"}."""
    return {
        epoch: f.drop(columns=["arch", "row"])
        .assign(key=f.arch + "/" + f.row)
        .to_dict("records")
        for epoch, f in frames.items()
    }


def values(rows, arch, row, column, seeds):
    """One value per seed of `seeds`, in their order."""
    chosen = rows[(rows.arch == arch) & (rows.row == row)].set_index("seed")
    return chosen.loc[list(seeds), column].to_numpy(dtype=float)


def quoted(rows, long_epochs, seeds):
    """The readings' numbers the page's prose quotes, by glue name: each Normal network
    on the Fixed set made on its own seed, and under Adv_Loss the rows trained for
    long_epochs (validation accuracy (%), means over the seeds)."""
    out = {}
    normal_longer = longer_row("undefended", long_epochs)
    for arch in ("MLP", "LeNet"):
        normal = rows[(rows.arch == arch) & (rows.row == "undefended")]
        out[f"{arch.lower()}_normal_fixed_same"] = normal["Fixed, same seed"].mean()
        out[f"{arch.lower()}_normal_loss_longer"] = values(
            rows, arch, normal_longer, "Adv_Loss", seeds
        ).mean()
    lwa = values(rows, "LeNet", longer_row("LWA", long_epochs), "Adv_Loss", seeds)
    out["lenet_lwa_loss_longer"] = lwa.mean()
    return {key: float(value) for key, value in out.items()}


class Orderings:
    """The paper's qualitative claims as per-seed margins with their standard errors
    (accuracies in % on n points each); `rows` may name another reading of a method
    (`use`), so that a reading is scored by the same comparisons."""

    def __init__(self, rows, n, fig1=None, use=None):
        self.rows, self.n, self.fig1, self.use = rows, n, fig1, use or {}

    def acc(self, arch, method, column, seed):
        row = self.use.get(method, method)
        return values(self.rows, arch, row, column, [seed])[0]

    def above(self, a, b, offset=0.0):
        """(a − b − offset, se) for two accuracies on the same n points."""
        return a - b - offset, difference_se(a, b, self.n)

    def mean_adversarial(self, arch, method, seed):
        return float(np.mean([self.acc(arch, method, c, seed) for c in ADVERSARIAL]))

    def margin(self, claim_id, seed):
        return weakest(getattr(self, claim_id)(seed))

    def fig1_alpha_beats_loss(self, seed):
        curves, grid = self.fig1[seed], range(1, len(self.fig1[seed]["Adv_Loss"]))
        return [self.above(curves["Adv_Loss"][i], curves["Adv_Alpha"][i]) for i in grid]

    def fig1_loss_much_beats_sign(self, seed):
        curves = self.fig1[seed]
        strongest = np.maximum(curves["Adv_Loss"][1:], curves["Adv_Alpha"][1:])
        sign = np.mean(curves["Adv_Loss_Sign"][1:])
        return [self.above(sign, float(np.mean(strongest)), offset=10.0)]

    def dropout_improves(self, seed):
        clean = [
            self.acc("MLP", m, "Validation", seed) for m in ("Dropout", "undefended")
        ]
        robust = [
            self.mean_adversarial("MLP", m, seed) for m in ("Dropout", "undefended")
        ]
        return [self.above(*clean), self.above(*robust)]

    def goodfellow_much_more_robust(self, seed):
        return [
            self.above(
                self.acc("MLP", "Goodfellow", c, seed),
                self.acc("MLP", m, c, seed),
                20.0,
            )
            for c in ADVERSARIAL
            for m in ("undefended", "Dropout")
        ]

    def lwa_best_mlp(self, seed):
        return [
            self.above(self.acc("MLP", "LWA", c, seed), self.acc("MLP", m, c, seed))
            for c in ADVERSARIAL
            for m in MLP_METHODS
            if m != "LWA"
        ]

    def lwa_best_clean(self, seed):
        lwa = self.acc("MLP", "LWA", "Validation", seed)
        return [
            self.above(lwa, self.acc("MLP", m, "Validation", seed))
            for m in MLP_METHODS
            if m != "LWA"
        ]

    def lwa_rep_comparable(self, seed):
        means = [
            np.mean([self.acc("MLP", m, c, seed) for c in COLUMNS])
            for m in ("LWA_Rep", "Goodfellow")
        ]
        gap = abs(means[0] - means[1])
        return [(5.0 - gap, difference_se(*means, self.n) / np.sqrt(len(COLUMNS)))]

    def no_tradeoff(self, seed):
        return [
            self.above(
                self.acc(arch, "LWA", "Validation", seed),
                self.acc(arch, "undefended", "Validation", seed),
            )
            for arch in ("MLP", "LeNet")
        ]


def numeric(spec, rows, seeds, n):
    """score's arguments for a numeric claim: (values, n)."""
    return values(rows, spec["model"], spec["method"], spec["column"], seeds), n


def trend_of(spec, frames, seeds, fig1=None, n=None):
    """The claim's mean over seeds at each kept epoch, then at each longer run of its
    row (row_trend): [(epochs, value)]; an ordering's mean margin at each kept epoch."""
    if spec["kind"] == "ordering":
        if spec["id"].startswith("fig1"):
            return []  # Fig. 1 is one network's, not a trend
        margins = {}
        for epoch, rows in frames.items():
            orderings = Orderings(rows, n)
            margins[epoch] = [orderings.margin(spec["id"], s)[0] for s in seeds]
        return [(float(e), float(np.mean(m))) for e, m in margins.items()]
    if any(spec["column"] not in rows for rows in frames.values()):
        return []  # a column the trend does not measure (the training accuracy)
    return row_trend(frames, spec["model"], spec["method"], spec["column"], seeds)


def row_trend(frames, arch, method, column, seeds):
    """A row's mean over seeds at each kept epoch, then at each run of it trained
    longer (its "<paper's name> (N epochs)" rows, on the same seeds): where more
    training goes past the kept epochs. [(epochs, value)]."""
    kept = [
        (float(epoch), float(values(rows, arch, method, column, seeds).mean()))
        for epoch, rows in frames.items()
    ]
    final = frames[max(frames)]
    name = PAPER_NAMES.get(method, method)
    longer = []
    for row in final[final.arch == arch].row.unique():
        match = LONGER.fullmatch(row)
        if match and match["name"] == name and int(match["epochs"]) > max(frames):
            value = values(final, arch, row, column, seeds).mean()
            longer.append((float(match["epochs"]), float(value)))
    return kept + sorted(longer)


# Claims the paper's own numbers contradict, with the numbers
PAPER_EVIDENCE = {
    "dropout_improves": "Table 1: Dropout and Normal both 98.0 % clean, and Dropout "
    "below Normal under Adv_Loss_Sign (15.5 % against 19.3 %)",
}
FIXED_READINGS = {
    "Fixed set made on the same seed's Normal": "Fixed, same seed",
    "Fixed set made on the Normal LeNet": "Fixed, LeNet",
}


def candidates(spec, readings, final, seeds, n, fig1):
    """The readings run for a claim, each as (name, what score takes for it)."""
    out = []
    if spec["kind"] == "ordering":
        for method, names in readings.items():
            for name in names:
                orderings = Orderings(final, n, fig1, {method: name})
                if method in orderings_uses(spec["id"]):
                    margins = [orderings.margin(spec["id"], s) for s in seeds]
                    out.append(
                        (
                            name,
                            {
                                "margins": [m for m, _ in margins],
                                "se": [s for _, s in margins],
                            },
                        )
                    )
        return out
    arch, method, column = spec["model"], spec["method"], spec["column"]
    if column == "Fixed":
        for name, other in FIXED_READINGS.items():
            if not own_adv_loss(arch, method, other):
                out.append((name, values(final, arch, method, other, seeds)))
    for name in readings.get(method, []):
        if ((final.arch == arch) & (final.row == name)).any():  # trained on this arch
            out.append((name, values(final, arch, name, column, seeds)))
    return out


def own_adv_loss(arch, method, reading):
    """Whether a Fixed reading shows a Normal network its own Adv_Loss set: a reading
    the paper's tables rule out (its Normal MLP keeps 31.4 % of the Fixed set and 9.1 %
    under Adv_Loss; its LeNet 63.42 % and 39.98 %), so it closes no miss."""
    if method != "undefended":
        return False
    return reading == "Fixed, same seed" or (arch, reading) == ("LeNet", "Fixed, LeNet")


def orderings_uses(claim_id):
    """The methods an ordering compares, whose readings may stand in for them."""
    return {
        "dropout_improves": ("Dropout",),
        "goodfellow_much_more_robust": ("Goodfellow",),
        "lwa_best_mlp": ("LWA",),
        "lwa_best_clean": ("LWA",),
        "lwa_rep_comparable": ("LWA_Rep",),
    }.get(claim_id, ())


def scored(spec, frames, seeds, n, *, readings, fig1=None):
    """One claim by lib.verdicts from the final rows (the last of `frames`), and for a
    miss its cause: a reading of `readings` ({method: [rows]}) that lands within
    tolerance on the same seeds, the budget trend toward the paper, the paper's own
    numbers (PAPER_EVIDENCE), or `open` with what was tried."""
    final = frames[max(frames)]
    if spec["kind"] == "ordering":
        orderings = Orderings(final, n, fig1)
        margins = [orderings.margin(spec["id"], s) for s in seeds]

        def rule(other=None, **cause):
            m = other or {
                "margins": [m for m, _ in margins],
                "se": [s for _, s in margins],
            }
            return score_ordering(
                spec, m["margins"], m["se"], n=n, seeds=seeds, **cause
            )

    else:
        points = n if spec["column"] != "Train" else None
        ours, _ = numeric(spec, final, seeds, n)

        def rule(other=None, **cause):
            return score(
                spec,
                ours if other is None else other,
                n=points or n,
                seeds=seeds,
                **cause,
            )

    readings = candidates(spec, readings, final, seeds, n, fig1)
    trend = trend_of(spec, frames, seeds, fig1, n)
    source = PAPER_EVIDENCE.get(spec["id"])
    return explain(spec, rule, readings, trend=trend, source=source)


def cost_claim(spec, seconds, seeds, readings=()):
    """§4.1's "d times" the computation of Adv_Loss: the ratio of the seconds each
    direction took on the undefended LeNets, one a seed; `readings`: (name, ratios)
    counted another way (papers.learning_with_adversary.cost), the paper's own count
    among them."""
    ratios = [s["Adv_Alpha"] / s["Adv_Loss"] for s in seconds]

    def rule(other=None, **cause):
        return score(spec, ratios if other is None else other, seeds=seeds, **cause)

    return explain(spec, rule, readings)


def seeds_of(rows, arch, row):
    return sorted(rows[(rows.arch == arch) & (rows.row == row)].seed.unique())


def rep_sweep(cs, rows, h_after, h_norm):
    """LWA_Rep's sweep of c, a row a c: c, c over the Normal MLP's median ‖h‖
    (h_norm), the median ‖h‖ after training (h_after, one a c) and the validation
    columns of the sweep's rows (`rows`)."""
    swept = rows[rows.row == "LWA_Rep sweep"].reset_index(drop=True)
    return pd.DataFrame(
        {
            "c": cs,
            "c / ‖h‖ of Normal": [c / h_norm for c in cs],
            "‖h‖ after training": h_after,
            **{column: swept[column].to_numpy() for column in COLUMNS},
        },
        index=[f"LWA_Rep (c = {c:g})" for c in cs],
    )


def training_table(done, specs, names):
    """Each stack's members and training time (minutes of one core), a row a stack
    named as the paper names it; `done`: {(arch, row): (result, info)} of lib.jobs."""
    return pd.DataFrame(
        {
            f"{arch} {names(row)}": {
                "members": len(specs[arch, row]["seeds"]),
                "training (min, one core)": info["train_s"] / 60,
            }
            for (arch, row), (_, info) in done.items()
        }
    ).T.round(1)


def paper_table(rows, paper, arch, methods, columns=COLUMNS, names=None):
    """Tables 1-2 as the page shows them: per column the paper's value (where `paper`,
    {(arch, method, column): value}, has one) and ours as mean ± std over the seeds;
    `names` maps a method to the paper's name. paper=None leaves the paper out."""
    from lib.pages import mean_std

    data = {}
    for column in columns:
        if paper is not None:
            data[column, "paper"] = [
                f"{paper[arch, m, column]:.1f}" if (arch, m, column) in paper else ""
                for m in methods
            ]
        data[column, "ours"] = [
            mean_std(values(rows, arch, m, column, seeds_of(rows, arch, m)), 1)
            for m in methods
        ]
    return pd.DataFrame(data, index=[(names or {}).get(m, m) for m in methods])


def autoattack_text(autoattack, lwa, others):
    """Table 1's "LWA the most robust" under AutoAttack (`autoattack`: the page's
    common record; `lwa` and `others` names in it): per threat model, LWA beside the
    most robust of `others`, and whether the gap exceeds two standard errors of the
    difference (lib.uncertainty.accuracy_order)."""
    n, defenses = autoattack["n"], autoattack["defenses"]
    sentences = []
    for norm, eps in autoattack["threat_models"].items():
        rival = max(others, key=lambda name: defenses[name][norm])
        ours, theirs = defenses[lwa][norm], defenses[rival][norm]
        order, two_se = accuracy_order(ours, theirs, n)
        if order > 0:
            outcome = "LWA stays the most robust, as Table 1 says"
        elif order < 0:
            outcome = f"**{rival} is more robust than LWA** under the stronger attack"
        else:
            outcome = "the two are **not told apart** on these points"
        sentences.append(
            f"At {norm_name(norm)} ε = {eps:g}, {lwa} keeps {ours:.1f} % under "
            f"AutoAttack and the most robust other method, {rival}, {theirs:.1f} % "
            f"(two standard errors of the difference: {two_se:.1f} points): {outcome}."
        )
    return f"On the first seed and {n} test images: " + " ".join(sentences)

"""From the evaluations to the page's numbers: every model's accuracy along λ, and every
claim scored by the book's rule (lib.verdicts) with its cause: a reading run on the
same seeds that lands within tolerance, or `open` with what was tried (the book trains
the paper's full length, so no miss is put down to the budget). Beside them, every
claim scored under the reading that closes FGSM on vanilla, batch-norm in train mode
at test, to show what else that reading changes."""

import numpy as np

from lib.uncertainty import difference_se
from lib.verdicts import explain, score, score_ordering, weakest

AT = "adversarial training"
GANS = ["GAN tanh", "GAN scaled", "initialised GAN tanh", "initialised GAN scaled"]
NONZERO = [round(0.1 * i, 1) for i in range(1, 11)]
TRAIN_MODE = "batch-norm in train mode at test, every model"
MINMAX = {"pre-trained scaled adversary": "pre-trained min-max adversary"}
# What the train-mode evaluation does not measure (and the claims that need it)
NOT_IN_TRAIN_MODE = {
    "gan_adversaries_vs_others": "the cross matrix",
    "at_best_calibrated": "calibration",
    "gans_better_calibrated": "calibration",
}


class Results:
    """The evaluations of one execution, per model and seed: FGSM accuracy by λ,
    ECE, own adversary; the pre-trained adversaries; FGSM's readings; the cross
    matrix. `use` names another model in a model's place (a reading); `mode` is
    "fgsm" (eval mode) or "train mode" (the train-mode evaluation, a reading)."""

    def __init__(self, evaluated, n, use=None, mode="fgsm"):
        self.evaluated, self.n, self.use, self.mode = evaluated, n, use or {}, mode

    def row(self, model, seed):
        return self.evaluated[self.mode, self.use.get(model, model)][seed]

    def fgsm(self, model, seed, lam):
        return self.row(model, seed)["fgsm"][lam]

    def pretrained(self, squash, seed):
        """The vanilla model's accuracy under its adversary pre-trained alone."""
        name = f"pre-trained {squash} adversary"
        name = self.use.get(name, name)
        if self.mode == "train mode":
            return self.row("undefended", seed)[name]
        return self.evaluated["adversary", name][seed]["eval"]

    def area(self, model, seed):
        """Mean FGSM accuracy over λ = 0.1 ... 1.0: the area under Fig. 2's curve."""
        return float(np.mean([self.fgsm(model, seed, lam) for lam in NONZERO]))

    def ece(self, model, seed):
        return self.evaluated["fgsm", self.use.get(model, model)][seed]["ece"]

    def value(self, spec, seed):
        """Our number of a numeric claim in one seed."""
        model = spec.get("model")
        if spec["id"] == "gan_adversaries_vs_others":
            return off_diagonal_mean(self.evaluated["cross", "all"][seed]["eval"])
        if spec.get("attack", "").startswith("pre-trained"):
            return self.pretrained(spec["attack"].split()[1], seed)
        clean = self.fgsm(model, seed, 0.0)
        if spec.get("drop"):
            return clean - self.row(model, seed)["own"]
        return (
            self.fgsm(model, seed, spec.get("lambda", 0.0))
            if spec.get("attack")
            else clean
        )

    def above(self, a, b, offset=0.0):
        return a - b - offset, difference_se(
            np.clip(a, 0, 100), np.clip(b, 0, 100), self.n
        )

    def margin(self, claim_id, seed):
        return weakest(getattr(self, claim_id.replace(".", "_"))(seed))

    def pretrained_beat_fgsm(self, s):
        fgsm = self.fgsm("undefended", s, 0.1)
        return [self.above(fgsm, self.pretrained(q, s)) for q in ("tanh", "scaled")]

    def at_best_almost_throughout(self, s):
        others = [m for m in self.models() if m != AT]
        gaps = sorted(
            (
                self.above(
                    self.fgsm(AT, s, lam), max(self.fgsm(m, s, lam) for m in others)
                )
                for lam in NONZERO
            ),
            key=lambda c: c[0],
        )
        return [gaps[len(gaps) - int(np.ceil(0.8 * len(gaps)))]]  # the 80 % point

    def gans_beat_vanilla_and_random(self, s):
        floor = max(self.area("undefended", s), self.area("random noise", s))
        return [self.above(self.area(g, s), floor) for g in GANS]

    def initialised_beat_non_initialised(self, s):
        return [
            self.above(self.area(f"initialised GAN {q}", s), self.area(f"GAN {q}", s))
            for q in ("tanh", "scaled")
        ]

    def initialised_scaled_beats_at_at_0_1(self, s):
        return [
            self.above(
                self.fgsm("initialised GAN scaled", s, 0.1), self.fgsm(AT, s, 0.1)
            )
        ]

    def gans_near_at_at_high_lambda(self, s):
        high = [lam for lam in NONZERO if lam >= 0.7]
        out = []
        for g in GANS:
            gap = np.mean(
                [abs(self.fgsm(g, s, lam) - self.fgsm(AT, s, lam)) for lam in high]
            )
            out.append((3.0 - gap, difference_se(50.0, 50.0, self.n * len(high))))
        return out

    def at_best_calibrated(self, s):
        points = self.n * len(NONZERO)
        return [
            (
                self.ece(m, s) - self.ece(AT, s),
                difference_se(self.ece(m, s), self.ece(AT, s), points),
            )
            for m in self.models()
            if m != AT
        ]

    def gans_better_calibrated(self, s):
        floor = min(self.ece("undefended", s), self.ece("random noise", s))
        points = self.n * len(NONZERO)
        return [
            (floor - self.ece(g, s), difference_se(floor, self.ece(g, s), points))
            for g in GANS
        ]

    def models(self):
        return ["undefended", "random noise", AT, *GANS]


def off_diagonal_mean(matrix):
    """The mean accuracy (%) of every defender under every GAN adversary but its own."""
    return float(
        np.mean([v for a, row in matrix.items() for d, v in row.items() if d != a])
    )


# Readings that put other models in some models' places: {claim: {reading: use}}
MINMAX_GAN = {"initialised GAN scaled": "initialised GAN min-max"}
GAN_TANH_READINGS = {
    "defender in eval mode for the adversary's step": {
        "GAN tanh": "GAN tanh, defender in eval mode for the adversary"
    },
    "separate batch-norm passes": {"GAN tanh": "GAN tanh, separate batch-norm passes"},
}
SUBSTITUTES = {
    "pretrained_scaled_vs_vanilla": {"the min-max reading of scaled": MINMAX},
    "pretrained_beat_fgsm": {"the min-max reading of scaled": MINMAX},
    "initialised_scaled_beats_at_at_0.1": {"the min-max reading of scaled": MINMAX_GAN},
    "clean_initialised_gan_scaled": {"the min-max reading of scaled": MINMAX_GAN},
    "clean_gan_tanh": GAN_TANH_READINGS,
    "own_adversary_drop_gan_tanh": GAN_TANH_READINGS,
}


def readings_of(spec, reading_rows, evaluated, n):
    """The readings a claim's miss may be put down to, {name: Results} (other models
    in some models' places, or the train-mode evaluation) or {name: values per seed}."""
    claim = spec["id"]
    if claim == "fgsm_vs_vanilla":  # FGSM read otherwise on the vanilla models
        return {
            name: [row[name] for row in reading_rows]
            for name in reading_rows[0]
            if not name.startswith("zero")
        }
    out = batch_statistics_readings(spec, evaluated)
    for name, use in SUBSTITUTES.get(claim, {}).items():
        out[name] = Results(evaluated, n, use)
    if claim not in NOT_IN_TRAIN_MODE:
        out[TRAIN_MODE] = Results(evaluated, n, mode="train mode")
    if "the min-max reading of scaled" in out and claim.startswith("pretrained"):
        reading = f"{TRAIN_MODE}, and the min-max reading of scaled"
        out[reading] = Results(evaluated, n, MINMAX, "train mode")
    return out


def batch_statistics_readings(spec, evaluated):
    """{reading: values per seed}: the adversaries with the batch statistics they
    trained with, where a claim rests on an adversary."""
    claim = spec["id"]
    reading = "the adversary with the batch statistics it trained with"
    if claim.startswith("pretrained_") and claim.endswith("_vs_vanilla"):
        squash = claim.split("_")[1]
        rows = evaluated["adversary", f"pre-trained {squash} adversary"]
        return {reading: [row["batch statistics"] for row in rows]}
    if claim == "gan_adversaries_vs_others":
        rows = evaluated["cross", "all"]
        return {
            "the adversaries with the batch statistics they trained with": [
                off_diagonal_mean(row["batch statistics"]) for row in rows
            ]
        }
    if spec.get("drop"):  # the own adversary as it trained, on batch statistics
        rows = evaluated["fgsm", spec["model"]]
        return {reading: [r["fgsm"][0.0] - r["own, batch statistics"] for r in rows]}
    return {}


def bound_rule(spec, seeds, n):
    """(rule, measure): rule(results, **cause) scores the claim on `results` (a
    Results, or values measure(Results) gave), by score or score_ordering."""
    ordering = spec["kind"] == "ordering"

    def measure(res):
        if not isinstance(res, Results):  # values measured already
            return res
        if ordering:
            pairs = [res.margin(spec["id"], s) for s in seeds]
            return {"margins": [m for m, _ in pairs], "se": [e for _, e in pairs]}
        return [res.value(spec, s) for s in seeds]

    def rule(results, **cause):
        m = measure(results)
        if ordering:
            return score_ordering(
                spec, m["margins"], m["se"], n=n, seeds=seeds, **cause
            )
        return score(spec, m, n=n, seeds=seeds, **cause)

    return rule, measure


def scored(spec, evaluated, seeds, n, reading_rows):
    """One claim by lib.verdicts, with its cause where it misses."""
    rule, measure = bound_rule(spec, seeds, n)
    ours = Results(evaluated, n)
    readings = (  # measured only if the claim misses
        (name, measure(use))
        for name, use in readings_of(spec, reading_rows, evaluated, n).items()
    )
    return explain(
        spec,
        lambda other=None, **cause: rule(ours if other is None else other, **cause),
        readings,
    )


def under_train_mode(spec, evaluated, seeds, n):
    """The claim scored on the train-mode evaluation (no cause), or None where that
    evaluation does not measure it (NOT_IN_TRAIN_MODE)."""
    if spec["id"] in NOT_IN_TRAIN_MODE:
        return None
    rule, _ = bound_rule(spec, seeds, n)
    return rule(Results(evaluated, n, mode="train mode"))


def train_mode_table(claims, others):
    """Every claim as the book scores it (eval mode) and under the train-mode reading
    (`others`, under_train_mode's record of each claim or None): ours and the verdict
    of each."""
    import pandas as pd

    from lib.pages import shown_reported, shown_value

    rows = []
    for c, other in zip(claims, others, strict=True):
        rows.append(
            {
                "claim": c["description"],
                "paper": shown_reported(c),
                "ours, eval mode": shown_value(c),
                "verdict": c["verdict"],
                "ours, train mode": (
                    shown_value(other)
                    if other
                    else f"not measured ({NOT_IN_TRAIN_MODE[c['id']]})"
                ),
                "verdict, train mode": other["verdict"] if other else "",
            }
        )
    return pd.DataFrame(rows)


def train_mode_text(claims, others):
    """What the train-mode reading changes (`others` as for train_mode_table): the
    claims it measures that it reproduces against eval mode, which it closes and which
    it loses, and which mode the paper's numbers favour (the one that reproduces more
    of them)."""
    pairs = [(c, o) for c, o in zip(claims, others, strict=True) if o]
    held = sum(other["verdict"] == "reproduced" for _, other in pairs)
    before = sum(c["verdict"] == "reproduced" for c, _ in pairs)
    closed = [
        name(c)
        for c, other in pairs
        if c["verdict"] != "reproduced" and other["verdict"] == "reproduced"
    ]
    lost = [
        f"{name(c)}, {other['verdict']}"
        for c, other in pairs
        if c["verdict"] == "reproduced" and other["verdict"] != "reproduced"
    ]
    return (
        f"With batch-norm in train mode at test for every model, {held} of the "
        f"{len(pairs)} claims this evaluation measures are reproduced, against "
        f"{before} in eval mode: it closes {len(closed)} "
        f"({'; '.join(closed) or 'none'}) and loses {len(lost)} "
        f"({'; '.join(lost) or 'none'}). "
        + (
            "So the paper's numbers favour it over eval mode as its evaluation."
            if held > before
            else "So the paper's numbers favour eval mode, the book's, as its "
            "evaluation: this reading accounts for what it closes, not for the paper "
            "as a whole."
            if held < before
            else "So the paper's numbers favour neither mode as its evaluation."
        )
    )


def name(c):
    """A claim's description without its unit, for a list in a sentence."""
    return c["description"].removesuffix(" (%)")

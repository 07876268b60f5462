"""From the evaluations to the page's numbers: every model's accuracy along λ, and every
claim scored by the book's rule (lib.verdicts) with its cause: a reading run on the
same seeds that lands within tolerance, or `open` with what was tried (the book trains
the paper's full length, so no miss is put down to the budget)."""

import numpy as np

from lib.uncertainty import difference_se
from lib.verdicts import explain, score, score_ordering, weakest

AT = "adversarial training"
GANS = ["GAN tanh", "GAN scaled", "initialised GAN tanh", "initialised GAN scaled"]
NONZERO = [round(0.1 * i, 1) for i in range(1, 11)]


class Results:
    """The evaluations of one execution, per model and seed: FGSM accuracy by λ,
    ECE, own adversary; the pre-trained adversaries; FGSM's readings; the cross
    matrix. `use` names another model in a model's place (a reading)."""

    def __init__(self, evaluated, n, use=None):
        self.evaluated, self.n, self.use = evaluated, n, use or {}

    def fgsm(self, model, seed, lam):
        return self.evaluated["fgsm", self.use.get(model, model)][seed]["fgsm"][lam]

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
            squash = spec["attack"].split()[1]
            name = self.use.get(
                f"pre-trained {squash} adversary", f"pre-trained {squash} adversary"
            )
            return self.evaluated["adversary", name][seed]["eval"]
        clean = self.fgsm(model, seed, 0.0)
        if spec.get("drop"):
            return (
                clean - self.evaluated["fgsm", self.use.get(model, model)][seed]["own"]
            )
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
        return [
            self.above(
                fgsm,
                self.evaluated["adversary", f"pre-trained {q} adversary"][s]["eval"],
            )
            for q in ("tanh", "scaled")
        ]

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


def readings_of(spec, reading_rows, evaluated):
    """The readings a claim's miss may be put down to, each {name: Results.use} (other
    models in some models' places) or {name: values per seed}."""
    claim = spec["id"]
    if claim == "fgsm_vs_vanilla":  # FGSM read otherwise on the vanilla models
        return {
            name: [row[name] for row in reading_rows]
            for name in reading_rows[0]
            if not name.startswith("zero")
        }
    if claim.startswith("pretrained_") and claim.endswith("_vs_vanilla"):
        squash = claim.split("_")[1]
        rows = evaluated["adversary", f"pre-trained {squash} adversary"]
        out = {
            "the adversary with the batch statistics it trained with": [
                row["batch statistics"] for row in rows
            ]
        }
        if squash == "scaled":
            out["the min-max reading of scaled"] = {
                "pre-trained scaled adversary": "pre-trained min-max adversary"
            }
        return out
    if claim == "initialised_scaled_beats_at_at_0.1":
        return {
            "the min-max reading of scaled": {
                "initialised GAN scaled": "initialised GAN min-max"
            }
        }
    out = {}
    if claim == "gan_adversaries_vs_others":
        out["the adversaries with the batch statistics they trained with"] = [
            off_diagonal_mean(row["batch statistics"])
            for row in evaluated["cross", "all"]
        ]
    if spec.get("drop"):  # the own adversary as it trained, on batch statistics
        out["the adversary with the batch statistics it trained with"] = [
            row["fgsm"][0.0] - row["own, batch statistics"]
            for row in evaluated["fgsm", spec["model"]]
        ]
    if claim in ("clean_gan_tanh", "own_adversary_drop_gan_tanh"):
        out["defender in eval mode for the adversary's step"] = {
            "GAN tanh": "GAN tanh, defender in eval mode for the adversary"
        }
        out["separate batch-norm passes"] = {
            "GAN tanh": "GAN tanh, separate batch-norm passes"
        }
    return out


def scored(spec, evaluated, seeds, n, reading_rows):
    """One claim by lib.verdicts, with its cause where it misses."""
    results = Results(evaluated, n)
    ordering = spec["kind"] == "ordering"

    def measure(res):
        if ordering:
            pairs = [res.margin(spec["id"], s) for s in seeds]
            return {"margins": [m for m, _ in pairs], "se": [e for _, e in pairs]}
        return [res.value(spec, s) for s in seeds]

    def rule(other=None, **cause):
        m = measure(results) if other is None else other
        if ordering:
            return score_ordering(
                spec, m["margins"], m["se"], n=n, seeds=seeds, **cause
            )
        return score(spec, m, n=n, seeds=seeds, **cause)

    readings = (  # measured only if the claim misses
        (name, use if isinstance(use, list) else measure(Results(evaluated, n, use)))
        for name, use in readings_of(spec, reading_rows, evaluated).items()
    )
    return explain(spec, rule, readings)

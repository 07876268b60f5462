"""One verdict rule for the whole book: a claim against the paper is reproduced, partly
reproduced, not reproduced or undecided, and a claim that is not reproduced says why
(its cause) with the evidence for it.

A numeric claim is reproduced when |ours - reported| <= its tolerance, partly within
twice it, not reproduced beyond; undecided (cause "noise") when our standard error
exceeds the tolerance and ours ± 2 se straddles those bands. An ordering is scored per
seed from its margin: held when the margin exceeds 2 se, failed below -2 se.
"""

import math

import numpy as np

from lib.uncertainty import Z, binomial_se, measurement, to_decide

# Default tolerances by kind: clean accuracy (or error) and a drop between two
# accuracies in points, accuracy under attack in points (scaled near 0 % and 100 %),
# a norm or ρ relative, an ordering the share of seeds where it must hold.
KINDS = {"clean": 0.5, "attack": 3.0, "drop": 0.5, "norm": 0.10, "ordering": 0.8}
PERCENT = ("clean", "attack", "drop")
# Near 0 % or 100 % three points are a tenfold change of the error or success rate:
# within EDGE points of either end the tolerance shrinks with the rate.
EDGE = 5.0
FLOOR = 0.1  # the papers print to 0.01-0.1 points: no tolerance below it
VERDICTS = ("reproduced", "partly", "not reproduced", "undecided")
CAUSES = ("budget", "reading", "paper", "noise", "open")
EVIDENCE = {
    "budget": ("trend",),
    "paper": ("source",),
    "reading": ("reading", "values"),
}


def tolerance_of(spec):
    """A claim's tolerance in the units of its value (points, or the norm's units), from
    its reported spec: its own "tolerance" or its kind's, scaled near 0 % and 100 %."""
    kind, reported = spec["kind"], spec.get("reported")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    tolerance = spec.get("tolerance", KINDS[kind])
    if kind == "norm":
        return tolerance * abs(reported)
    if kind == "attack":
        rate = min(reported, 100 - reported)  # the success rate, or the accuracy
        if rate < EDGE:
            return max(FLOOR, tolerance * rate / EDGE)
    return tolerance


def band(gap, tolerance):
    """The verdict of a gap |ours - reported| against a tolerance (same units)."""
    if gap <= tolerance:
        return "reproduced"
    return "partly" if gap <= 2 * tolerance else "not reproduced"


def score(
    spec, values, *, n=None, point_sd=None, seeds=None, cause=None, evidence=None
):
    """Score a numeric claim: `spec` from data/reported (id, description, kind,
    reported, optional tolerance, n, derived), `values` one number per run measured
    on the first n test points (point_sd: the per-point spread where not a rate)."""
    if spec["kind"] == "ordering":
        raise ValueError("an ordering claim is scored by score_ordering, not score")
    if spec["kind"] in PERCENT and n is None:
        raise ValueError(f"n (our test points) is needed for {spec['id']!r}")
    if spec["kind"] == "norm" and n is not None and point_sd is None:
        raise ValueError(f"point_sd is needed with n for the norm {spec['id']!r}")
    ours = measurement(values, n=n, point_sd=point_sd, percent=spec["kind"] in PERCENT)
    reported, tolerance = spec["reported"], tolerance_of(spec)
    paper_se = _paper_se(spec)
    se = math.hypot(ours["se"], paper_se)
    gap = abs(ours["mean"] - reported)
    judged = band(gap, tolerance)
    if se > tolerance and band(max(0.0, gap - Z * se), tolerance) != band(
        gap + Z * se, tolerance
    ):
        judged = "undecided"
    record = _record(spec, ours, tolerance, judged, seeds)
    decide = to_decide(ours, tolerance, paper_se)

    def rescore(other):
        return score(spec, other, n=n, point_sd=point_sd)

    return _with_cause(record, cause, evidence, rescore, se, decide)


def score_ordering(spec, margins, se, *, n=None, seeds=None, cause=None, evidence=None):
    """Score an ordering claim from one margin per seed (positive: the stated order
    holds, in points or the compared values' units) and the standard error of each
    margin from its test points (a number, or one per seed).

    A seed counts as held when its margin exceeds 2 se, as failed below -2 se; the
    claim is reproduced when held on >= its share of seeds (0.8), partly on >= 0.6,
    undecided when the seeds left in between could change that."""
    if spec["kind"] != "ordering":
        raise ValueError(
            f"score_ordering takes an ordering claim, got {spec['kind']!r}"
        )
    margins = np.asarray(margins, dtype=float).ravel()
    se = np.broadcast_to(np.asarray(se, dtype=float), margins.shape)
    if len(margins) == 0 or not np.isfinite(margins).all() or (se < 0).any():
        raise ValueError("margins must be finite, one a seed, and se >= 0")
    share = spec.get("tolerance", KINDS["ordering"])
    held, unsure = margins > Z * se, np.abs(margins) <= Z * se
    judged = _share_band(held.mean(), share)
    if judged != _share_band((held | unsure).mean(), share):
        judged = "undecided"
    ours = measurement(held.astype(float))
    ours["se"] = math.sqrt(held.mean() * (1 - held.mean()) / len(held))
    record = _record(spec, ours, share, judged, seeds)
    record["margin"] = {"mean": float(margins.mean()), "se": [float(s) for s in se]}
    record["n_points"] = n
    decide = {
        "seeds": None,
        "points": _points_to_settle(margins[unsure], se[unsure], n),
    }

    def rescore(other):
        other = dict(other)
        return score_ordering(spec, other["margins"], other["se"], n=n)

    return _with_cause(record, cause, evidence, rescore, None, decide)


def unmeasured(spec, why, *, seeds=None):
    """A claim this run could not measure (no successful attack among the images, say):
    undecided, cause "noise", with the reason as its evidence."""
    ours = {"mean": float("nan"), "std": 0.0, "se": None, "n_runs": 0}
    record = _record(spec, ours, tolerance_of(spec), "undecided", seeds)
    record["cause"] = "noise"
    record["evidence"] = {"why": why, "decide": {"seeds": None, "points": None}}
    return record


def _share_band(share, tolerance):
    if share >= tolerance - 1e-9:  # a share at the threshold meets it
        return "reproduced"
    return "partly" if share >= 1 - 2 * (1 - tolerance) - 1e-9 else "not reproduced"


def _points_to_settle(margins, se, n):
    """Test points that would take each unsure margin beyond 2 se (the error falls as
    1/sqrt(n)); None without n or with a margin of exactly 0."""
    if n is None or len(margins) == 0 or (margins == 0).any():
        return None
    return math.ceil(n * float(np.max((Z * se / np.abs(margins)) ** 2)))


def _paper_se(spec):
    """The sampling error of the paper's own number, where it says on how many test
    points it was measured."""
    if spec["kind"] in PERCENT and spec.get("n"):
        return binomial_se(min(max(spec["reported"], 0.0), 100.0), spec["n"])
    return 0.0


def _record(spec, ours, tolerance, judged, seeds):
    ordering = spec["kind"] == "ordering"
    return {
        "id": spec["id"],
        "description": spec["description"],
        "kind": spec["kind"],
        "reported": "holds" if ordering else spec["reported"],
        "ours_mean": ours["mean"],
        "ours_std": ours["std"],
        "ours_se": ours["se"],
        "n_runs": ours["n_runs"],
        "n_points": ours.get("n_points"),
        "seeds": None if seeds is None else list(seeds),
        "tolerance": tolerance,
        "verdict": judged,
        "cause": None,
        "evidence": None,
        "derived": bool(spec.get("derived", False)),
    }


def _with_cause(record, cause, evidence, rescore, se, decide):
    """Attach the cause: the caller's, checked against its evidence; "noise" with what
    would decide it when undecided; "open" when none is given."""
    given = check_cause(cause, evidence, record, rescore)
    if record["verdict"] == "reproduced":
        return record
    if record["verdict"] == "undecided":
        record["cause"] = "noise"
        record["evidence"] = {
            "se": se,
            "tolerance": record["tolerance"],
            "decide": decide,
        }
    elif given is None:
        record["cause"] = "open"
        evidence = evidence or {}
        record["evidence"] = {"tried": evidence.get("tried")}
        if evidence.get("trend"):  # the trend that did not move toward the paper's
            record["evidence"]["trend"] = evidence["trend"]
    else:
        record["cause"], record["evidence"] = given
    return record


def check_cause(cause, evidence, record, rescore):
    """(cause, evidence) when the evidence bears the cause out; raises ValueError naming
    what is missing or what fails. None when no cause is given."""
    if cause is None:
        return None
    if cause not in CAUSES or cause == "noise":
        allowed = [c for c in CAUSES if c != "noise"]
        raise ValueError(
            f"cause must be None or one of {allowed} ('noise' is the "
            f"rule's own), got {cause!r}"
        )
    evidence = dict(evidence or {})
    missing = [key for key in EVIDENCE.get(cause, ()) if key not in evidence]
    if missing:
        raise ValueError(
            f"cause {cause!r} of {record['id']!r} needs evidence {missing}"
        )
    if cause == "paper" and not (
        isinstance(evidence["source"], str) and evidence["source"].strip()
    ):
        raise ValueError(
            f"cause 'paper' of {record['id']!r} needs a cited source string"
        )
    if cause == "budget":
        _check_trend(evidence["trend"], record)
    if cause == "reading":
        _check_reading(evidence, record, rescore)
    return cause, evidence


def _check_trend(trend, record):
    """A budget trend: (training amount, value) pairs, amounts increasing, whose later
    half moves toward the paper's value by more than 2 se (moves_toward)."""
    pairs = [tuple(map(float, pair)) for pair in trend]
    amounts = [a for a, _ in pairs]
    if len(pairs) < 2 or amounts != sorted(set(amounts)):
        raise ValueError(
            f"the budget trend of {record['id']!r} needs >= 2 (amount, "
            "value) pairs with increasing amounts"
        )
    if not moves_toward(record, pairs):
        moved, _ = trend_moved(record, pairs)
        raise ValueError(
            f"the budget trend of {record['id']!r} does not move toward the "
            f"paper's value by more than 2 se over its later half ({moved:.3g})"
        )


def later_half(trend):
    """A trend's points from half its last training amount on (at least its last
    two): the part that says where more training would go, where the first epochs
    say only that an untrained network is far from everything."""
    half = trend[-1][0] / 2
    window = [pair for pair in trend if pair[0] >= half]
    return window if len(window) >= 2 else list(trend[-2:])


def trend_moved(record, trend):
    """How far the later half of a trend moved toward the paper's value, and the
    standard error of that move from the points' scatter about their line (None with
    two points). Toward the paper: from ours toward the reported number; for an
    ordering, its weakest margin growing."""
    amounts, values = np.asarray(later_half(trend), dtype=float).T
    direction = 1.0
    if record["kind"] != "ordering":
        direction = float(np.sign(record["reported"] - record["ours_mean"]))
    span = amounts[-1] - amounts[0]
    if len(amounts) == 2:
        return float(direction * (values[-1] - values[0])), None
    slope, intercept = np.polyfit(amounts, values, 1)
    scatter = np.sqrt(
        np.sum((values - slope * amounts - intercept) ** 2) / (len(amounts) - 2)
    )
    slope_se = scatter / np.sqrt(np.sum((amounts - amounts.mean()) ** 2))
    return float(direction * slope * span), float(slope_se * span)


def moves_toward(record, trend):
    """Whether a trend is evidence for `budget`: the line through its later half moves
    toward the paper's value by more than 2 se, the larger of the move's own (the
    points' scatter) and the claim's (ours, or an ordering's margin's)."""
    if len(trend) < 2:
        return False
    moved, moved_se = trend_moved(record, trend)
    return moved > Z * max(moved_se or 0.0, _trend_se(record) or 0.0)


def explain(spec, rule, readings=(), *, trend=(), source=None, tried=()):
    """A claim scored with its cause from the evidence, in the book's one order.

    `rule(values=None, **cause)` scores ours (values=None) or another run's values under
    the claim's rule (score or score_ordering, bound to the page's n and seeds).
    A miss is put down to the first of `readings` ((name, values) pairs, run on the
    same seeds) that lands within tolerance (`reading`); else to the budget where
    `trend` ((amount, value) pairs along training) moves toward the paper's value
    over its later half (`budget`, moves_toward); else to a cited `source` showing
    the paper's number wrong (`paper`); else it stays `open`. Every reading tried
    is kept in the evidence as {"reading", "ours", "verdict"} (`tried`: entries the
    page checked before), with the trend, so that a page can show what each gave."""
    record = rule()
    if record["verdict"] in ("reproduced", "undecided"):
        return record
    tried = [dict(entry) for entry in tried]
    for name, values in readings:
        other = rule(values)
        if other["verdict"] == "reproduced":
            evidence = {
                "reading": name,
                "values": _plain(values),
                "seeds": record["seeds"],
                "tried": tried,
            }
            return rule(cause="reading", evidence=evidence)
        tried.append(
            {"reading": name, "ours": other["ours_mean"], "verdict": other["verdict"]}
        )
    trend = [(float(a), float(v)) for a, v in trend]
    if moves_toward(record, trend):
        return rule(cause="budget", evidence={"trend": trend, "tried": tried})
    if source:
        return rule(cause="paper", evidence={"source": source, "tried": tried})
    return rule(evidence={"tried": tried, "trend": trend if len(trend) > 1 else None})


def _plain(values):
    """A reading's values as results-file data: a float per seed (an ordering's
    margins and their standard errors as such lists)."""
    if isinstance(values, dict):
        return {key: np.asarray(v, dtype=float).tolist() for key, v in values.items()}
    return np.asarray(values, dtype=float).tolist()


def _trend_se(record):
    """The standard error a trend must move beyond: ours, or an ordering's margin's."""
    if record["kind"] == "ordering":
        return float(np.mean(record["margin"]["se"]))
    return record["ours_se"]


def _check_reading(evidence, record, rescore):
    """A reading: a named alternative, run on the same seeds, that lands within the
    tolerance under the same rule."""
    if not (isinstance(evidence["reading"], str) and evidence["reading"].strip()):
        raise ValueError(f"the reading of {record['id']!r} needs a name")
    if (
        record["seeds"] is not None
        and list(evidence.get("seeds", [])) != record["seeds"]
    ):
        raise ValueError(
            f"the reading of {record['id']!r} must run on the same seeds "
            f"{record['seeds']}, got {evidence.get('seeds')}"
        )
    values = evidence["values"]
    count = len(values["margins"]) if isinstance(values, dict) else len(values)
    if count != record["n_runs"]:
        raise ValueError(
            f"the reading of {record['id']!r} needs one value per seed "
            f"({record['n_runs']}), got {count}"
        )
    other = rescore(values)
    if other["verdict"] != "reproduced":
        raise ValueError(
            f"the reading {evidence['reading']!r} of {record['id']!r} does "
            f"not land within tolerance ({other['verdict']})"
        )
    evidence["reading_mean"] = other["ours_mean"]


def check_reported(doc):
    """Check a data/reported/<slug>.json document against the schema the rule reads:
    unique ids, known kinds, a number reported (None for an ordering), a positive
    tolerance (an ordering's a share in (0, 1]), n a whole number, derived a bool."""
    ids = [c.get("id") for c in doc.get("claims", [])]
    if not ids or len(set(ids)) != len(ids):
        raise ValueError(
            f"claims must have unique ids, got duplicates in {doc.get('slug')}"
        )
    for c in doc["claims"]:
        _check_spec(c)


def _check_spec(c):
    where = f"claim {c.get('id')!r}"
    if c.get("kind") not in KINDS:
        raise ValueError(
            f"{where}: kind must be one of {sorted(KINDS)}, got {c.get('kind')!r}"
        )
    for key in ("description", "source"):
        if not isinstance(c.get(key), str):
            raise ValueError(f"{where}: {key} must be a string")
    ordering = c["kind"] == "ordering"
    if ordering != (c.get("reported") is None) or isinstance(c.get("reported"), bool):
        raise ValueError(f"{where}: reported must be a number (None for an ordering)")
    tolerance = c.get("tolerance", KINDS[c["kind"]])
    if not (isinstance(tolerance, int | float) and tolerance > 0) or (
        ordering and tolerance > 1
    ):
        raise ValueError(
            f"{where}: tolerance must be > 0 (an ordering's <= 1), got {tolerance!r}"
        )
    n = c.get("n")
    if n is not None and not (
        isinstance(n, int) and not isinstance(n, bool) and n >= 1
    ):
        raise ValueError(
            f"{where}: n must be a whole number of test points >= 1, got {n!r}"
        )
    if not isinstance(c.get("derived", False), bool):
        raise ValueError(f"{where}: derived must be true or false")


# The rule the executed pages used until their rewrite onto score / score_ordering:
# a verdict from the mean alone, no uncertainty, causes taken on the page's word.
# They scored a drop in accuracy as an accuracy under attack (3 points).
TOLERANCE = {"clean": 0.5, "attack": 3.0, "drop": 3.0, "norm": 0.10, "ordering": 0.8}
LEGACY_CAUSES = ("budget", "reading", "paper", "open")


def verdict(kind, reported, ours):
    """The verdict of the executed pages' rule for one claim of the given kind."""
    if kind not in TOLERANCE:
        raise ValueError(f"kind must be one of {sorted(TOLERANCE)}, got {kind!r}")
    if kind == "ordering":
        return _share_band(ours, TOLERANCE[kind])
    gap = abs(ours - reported) / (abs(reported) if kind == "norm" else 1)
    return band(gap, TOLERANCE[kind])


def claim(claim_id, description, kind, reported, values, cause=None):
    """A claim row by the executed pages' rule: `values` holds one number per run (for
    an ordering claim, whether it held); `cause` one of LEGACY_CAUSES, its evidence
    in the notebook."""
    if cause is not None and cause not in LEGACY_CAUSES:
        raise ValueError(f"cause must be None or one of {LEGACY_CAUSES}, got {cause!r}")
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


def weakest(comparisons):
    """The comparison an ordering stands or falls on: of (margin, se) pairs, each
    "a above b" by margin with its standard error, the one with the smallest margin in
    standard errors."""
    comparisons = list(comparisons)
    if not comparisons:
        raise ValueError("weakest needs at least one (margin, se) comparison")
    return min(comparisons, key=lambda c: c[0] / max(c[1], 1e-12))

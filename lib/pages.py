"""What a page shows of its claims: the paper's names, mean ± std, the claims table, and
the numbers its prose quotes through myst_nb's glue."""

import numpy as np
import torch

from lib.results import git_sha
from lib.verdicts import CAUSES, LEGACY_CAUSES, VERDICTS, later_half


class PaperNames(dict):
    """A paper's own names for the code's keys, where the two differ: the code calls
    the undefended network "undefended" on every page, each paper by its own name.

    Called with a key, it gives the paper's name, the key itself when the paper
    keeps it; pandas' `rename(index=...)` takes it as a mapping.
    """

    def __call__(self, key):
        return self.get(key, key)


# Decimals a table shows: accuracies in points to 0.01; a norm such as the adversary
# critic's ρ ≈ 0.13 to 0.001.
DIGITS = {"clean": 2, "attack": 2, "drop": 2, "norm": 3}


def mean_std_text(mean, std, n_runs, digits=2):
    """ "mean ± std" to `digits` decimals, or the mean alone for a single run."""
    if n_runs > 1:
        return f"{mean:.{digits}f} ± {std:.{digits}f}"
    return f"{mean:.{digits}f}"


def mean_std(values, digits=2):
    """Runs' values as a table shows them: "mean ± std" (sample std), or the one
    value."""
    values = np.asarray(values, dtype=float)
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return mean_std_text(values.mean(), std, len(values), digits)


def shown_value(c):
    """Our value of a claim as the tables show it: mean ± std over runs, or the
    share of runs an ordering held; with its standard error where it was scored with
    one (lib.verdicts.score)."""
    if c["kind"] == "ordering":
        return f"{c['ours_mean']:.0%} of runs"
    digits = DIGITS.get(c["kind"], 2)
    text = mean_std_text(c["ours_mean"], c["ours_std"], c["n_runs"], digits)
    if c.get("ours_se") is None:
        return text
    return f"{text} (se {c['ours_se']:.{digits}f})"


# The most test points any page can draw on: MNIST's 10,000 test images (or, for
# Learning with Adversary, its 10,000 validation images)
MNIST_EVALUATION = 10_000


def to_decide_text(evidence):
    """What would decide an undecided claim: its seeds or test points, and where no
    MNIST evaluation set has that many points, that the difference is too small to
    settle on MNIST."""
    decide = evidence.get("decide") or {}
    needed = [f"{v:,} {k}" for k, v in decide.items() if v is not None]
    if not needed:
        return ""
    text = f"decided by {' or '.join(needed)}"
    if decide.get("seeds") is None and (decide.get("points") or 0) > MNIST_EVALUATION:
        text += f": more than MNIST's {MNIST_EVALUATION:,}, too small a gap to settle"
    return text


def shown_cause(c):
    """A claim's cause with its evidence in a few words: the later half of its trend,
    the cited source, the reading's name, what would decide it, or what was tried."""
    cause, evidence = c.get("cause"), c.get("evidence") or {}
    if cause is None or not evidence:
        return cause or ""
    if cause == "budget":  # the later half the rule read, on the trend's own points
        (a0, v0), (a1, v1) = later_half_ends(c)
        return f"budget (trend {v0} at {a0:g} → {v1} at {a1:g})"
    if cause == "paper":
        return f"paper ({evidence['source']})"
    if cause == "reading":
        return f"reading ({evidence['reading']})"
    if cause == "noise":
        needed = to_decide_text(evidence)
        return f"noise ({needed})" if needed else "noise"
    steps = [
        reading + (f": {value}" if value else "") + (f" ({verdict})" if verdict else "")
        for reading, value, verdict in readings_tried(c)
    ]
    return f"open (tried: {'; '.join(steps)})" if steps else "open"


def readings_tried(c):
    """What a claim tried, as (reading, our value under it, its verdict) rows: each
    reading run, the reading that closed it (if one did), then its budget trend."""
    evidence = c.get("evidence") or {}
    shown = value_text(c)
    tried = evidence.get("tried") or []
    if isinstance(tried, str):  # a page's own sentence
        steps = [(tried, "", "")]
    else:
        steps = [(t["reading"], shown(t["ours"]), t["verdict"]) for t in tried]
    if c.get("cause") == "reading":
        steps.append(
            (evidence["reading"], shown(evidence["reading_mean"]), "reproduced")
        )
    if evidence.get("trend"):  # the part the rule reads: where more training goes
        (a0, v0), (a1, v1) = later_half_ends(c)
        moved = f"{v0} to {v1}"
        if c.get("kind") == "ordering":  # a trend of the weakest margin
            moved = f"margin {moved}"
        steps.append((f"the budget trend's later half ({a0:g} to {a1:g})", moved, ""))
    return steps


def later_half_ends(c):
    """The first and last points of the later half of a claim's budget trend (what
    the rule read), each as (amount, value written as the claim's own; an ordering's
    weakest margin to 3 decimals)."""
    shown = "{:.3f}".format if c.get("kind") == "ordering" else value_text(c)
    (a0, v0), *_, (a1, v1) = later_half(c["evidence"]["trend"])
    return (a0, shown(v0)), (a1, shown(v1))


def readings_text(claims):
    """A sentence for the claims a reading closed: for each, ours under the reading
    (on the same seeds), the paper's number and ours as the page runs it; "" where
    no reading closed one."""
    parts = []
    for c in claims:
        if c.get("cause") != "reading":
            continue
        evidence, shown = c["evidence"], value_text(c)
        seeds = ", ".join(map(str, evidence.get("seeds") or []))
        seeds = f" (seeds {seeds})" if seeds else ""
        parts.append(
            f"*{c['description']}* is {shown(evidence['reading_mean'])} under "
            f"*{evidence['reading']}*{seeds}, against the paper's "
            f"{shown_reported(c)} and {shown(c['ours_mean'])} as this page runs it"
        )
    return f"Closed by a reading: {'; '.join(parts)}." if parts else ""


def share_text(share):
    return f"{share:.0%} of runs"


def value_text(c):
    """How a claim's values are written: an ordering's as the share of runs it held,
    a number to its kind's decimals (DIGITS)."""
    if c.get("kind") == "ordering":
        return share_text
    return f"{{:.{DIGITS.get(c.get('kind'), 2)}f}}".format


def norm_name(norm):
    """A threat model's norm as the pages write it: "Linf" as L∞."""
    return "L∞" if norm == "Linf" else norm


def misses_table(claims):
    """Why the misses: every claim missed (undecided ones are not: the claims table
    says what would decide them), one row for each reading it tried
    (the value under it and the verdict it would get), one for its budget trend, and
    its cause. A reading that closes a claim is its last reading row."""
    import pandas as pd

    rows = [
        {
            "claim": c["description"],
            "paper": shown_reported(c),
            "ours": shown_value(c),
            "reading tried": reading,
            "ours under it": value,
            "its verdict": verdict,
            "cause": c["cause"],
        }
        for c in claims
        if c["verdict"] not in ("reproduced", "undecided")
        for reading, value, verdict in readings_tried(c) or [("no reading run", "", "")]
    ]
    columns = ["claim", "paper", "ours", "reading tried", "ours under it"]
    return pd.DataFrame(rows, columns=[*columns, "its verdict", "cause"])


def shown_reported(c):
    """The paper's value of a claim as the tables show it."""
    reported = c["reported"]
    if isinstance(reported, float):
        return f"{reported:.{DIGITS[c['kind']]}f}"
    return str(reported)


def claims_table(claims, **columns):
    """The claims as the table each paper page shows: claim, the paper's value,
    ours, runs, verdict, cause. `columns`: more columns (one value per claim), put
    after the claim."""
    import pandas as pd

    for name, values in columns.items():
        if len(values) != len(claims):
            raise ValueError(
                f"column {name!r} has {len(values)} values for {len(claims)} claims"
            )
    return pd.DataFrame(
        {
            "claim": [c["description"] for c in claims],
            **{name: list(values) for name, values in columns.items()},
            "paper": [shown_reported(c) for c in claims],
            "ours": [shown_value(c) for c in claims],
            "runs": [c["n_runs"] for c in claims],
            "verdict": [c["verdict"] for c in claims],
            "cause": [shown_cause(c) for c in claims],
        }
    )


def verdict_counts(claims, every_verdict=False):
    """The numbers a page's prose quotes: how many claims, how many of each verdict
    and of each cause (with every_verdict, "undecided" even at 0)."""
    counts = {"n_claims": len(claims)}
    for v in VERDICTS:
        n = sum(c["verdict"] == v for c in claims)
        if every_verdict or v != "undecided" or n:
            counts[f"n_{v.replace(' ', '_')}"] = n
    # The executed pages glue the four causes of their rule; a newer one only when used.
    for cause in CAUSES:
        n = sum(c["cause"] == cause for c in claims)
        if cause in LEGACY_CAUSES or n:
            counts[f"n_cause_{cause}"] = n
    return counts


def glue_claims(claims, every_verdict=False):
    """Glue each claim's value under its id (an ordering as the % of runs it held)
    and the verdict counts, for the page's prose."""
    from myst_nb import glue

    for c in claims:
        glue(
            c["id"],
            float(100 * c["ours_mean"] if c["kind"] == "ordering" else c["ours_mean"]),
            display=False,
        )
    for key, count in verdict_counts(claims, every_verdict).items():
        glue(key, int(count), display=False)


def machine(device):
    """What a run executed on, in words: the GPU's name, or the CPU threads used."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"a {torch.cuda.get_device_name(device)} GPU"
    return f"a CPU ({torch.get_num_threads()} threads, no GPU)"


def glue_run(slug, profile, device, train_s):
    """Glue what a page's "at a glance" box quotes: the profile, the machine and the
    code's commit (as Markdown, for the {glue:md} role: a str glued as text shows its
    quotes) and the training time in minutes."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue("run_profile", Markdown(f"`{profile}`"), display=False)
    glue("run_machine", Markdown(machine(device)), display=False)
    glue("code_commit", Markdown(f"`{git_sha(slug)}`"), display=False)
    glue("train_min", float(train_s) / 60, display=False)


def config_table(config, paper=None):
    """A frozen config dataclass as the page shows it: one row a field with its value,
    the paper profile's where `paper` is given and differs, and the source comment
    of its line in the class (paper section, reference code, or "our choice")."""
    import dataclasses
    import inspect
    import re

    import pandas as pd

    comments = {}
    for line in inspect.getsource(type(config)).splitlines():
        match = re.match(r"\s+(\w+):[^#]*#\s*(.*)", line)
        if match:
            comments[match[1]] = match[2]
    rows = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        row = {"field": field.name, "value": value}
        if paper is not None:
            theirs = getattr(paper, field.name)
            row["paper's protocol"] = "" if theirs == value else theirs
        rows.append(row | {"source": comments.get(field.name, "")})
    return pd.DataFrame(rows)

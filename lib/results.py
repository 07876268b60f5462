"""Claims against the paper, one verdict rule for the whole book, and the results file
of a run.

A claim is reproduced when |ours - reported| <= tolerance, partly when within twice the
tolerance, not reproduced otherwise. Tolerances: clean accuracy 0.5 points, accuracy
under attack 3 points, a norm 10% relative; an ordering claim must hold in >= 80% of
runs (partly: >= 60%).
"""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import torch

from lib import DATA

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


def load_reported(slug, root=DATA / "reported"):
    """The paper's numbers for a slug, as typed once from the paper:
    {claim id: {...}}."""
    return {
        c["id"]: c
        for c in json.loads((Path(root) / f"{slug}.json").read_text())["claims"]
    }


def _git(*args):
    run = subprocess.run(
        ["git", *args], capture_output=True, text=True, cwd=DATA.parent
    )
    return run.stdout if run.returncode == 0 else None


def code_cells(text):
    """The source of a notebook's code cells (papermill's injected parameters excluded),
    from its JSON text."""
    return [
        cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for cell in json.loads(text)["cells"]
        if cell["cell_type"] == "code"
        and "injected-parameters" not in cell["metadata"].get("tags", [])
    ]


def git_sha(slug=None):
    """The commit of the code that produced a result, "+modified" when the library or
    the paper's numbers differ from it, or the notebook's code cells do (its outputs may
    differ: papermill writes them as it runs)."""
    sha = _git("rev-parse", "--short", "HEAD")
    if sha is None:
        return "unknown"
    modified = _git("status", "--porcelain", "--", "lib", "data/reported") != ""
    notebook = DATA.parent / "book" / f"{slug}.ipynb"
    if slug is not None and notebook.exists():
        committed = _git("show", f"HEAD:book/{slug}.ipynb")
        modified |= committed is None or code_cells(committed) != code_cells(
            notebook.read_text()
        )
    return sha.strip() + ("+modified" if modified else "")


def write_results(
    slug,
    profile,
    config,
    claims,
    metrics,
    *,
    device,
    seeds,
    started,
    train_s=None,
    root=DATA / "results",
):
    """Write data/results/<slug>-<profile>.json atomically and return its path.
    `train_s` is the real training time of the models shown (summed from the cache), not
    this execution's few seconds when they were cached."""
    path = Path(root) / f"{slug}-{profile}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "slug": slug,
        "profile": profile,
        "config": config,
        "claims": claims,
        "metrics": metrics,
        "env": {
            "torch": torch.__version__,
            "device": str(device),
            "git_sha": git_sha(slug),
            "wall_s": round(time.time() - started, 1),
            "train_s": None if train_s is None else round(float(train_s), 1),
            "seeds": list(seeds),
        },
    }
    # A temp file of this run alone, on disk before the rename: two runs at once never
    # tear the file.
    partial = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    with open(partial, "w") as handle:
        handle.write(json.dumps(record, indent=1, default=float) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return path


def load_results(profile="book", root=DATA / "results"):
    """Every results file of a profile, sorted by slug."""
    return [
        json.loads(p.read_text()) for p in sorted(Path(root).glob(f"*-{profile}.json"))
    ]


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
DIGITS = {"clean": 2, "attack": 2, "norm": 3}


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
    share of runs an ordering held."""
    if c["kind"] == "ordering":
        return f"{c['ours_mean']:.0%} of runs"
    return mean_std_text(c["ours_mean"], c["ours_std"], c["n_runs"], DIGITS[c["kind"]])


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
            "cause": [c["cause"] or "" for c in claims],
        }
    )


def verdict_counts(claims):
    """The numbers a page's prose quotes: how many claims, how many of each verdict
    and of each cause."""
    counts = {"n_claims": len(claims)}
    for v in ("reproduced", "partly", "not reproduced"):
        counts[f"n_{v.replace(' ', '_')}"] = sum(c["verdict"] == v for c in claims)
    for cause in CAUSES:
        counts[f"n_cause_{cause}"] = sum(c["cause"] == cause for c in claims)
    return counts


def glue_claims(claims):
    """Glue each claim's value under its id (an ordering as the % of runs it held)
    and the verdict counts, for the page's prose."""
    from myst_nb import glue

    for c in claims:
        glue(
            c["id"],
            float(100 * c["ours_mean"] if c["kind"] == "ordering" else c["ours_mean"]),
            display=False,
        )
    for key, count in verdict_counts(claims).items():
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

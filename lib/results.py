"""The results file of a run, data/results/<slug>-<profile>.json, the paper's numbers it
is scored against (data/reported/<slug>.json), and the commit of the code behind it."""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import torch

from lib import DATA
from lib.verdicts import check_reported
from papers import SLUGS


def load_reported(slug, root=DATA / "reported"):
    """The paper's numbers for a slug, as typed once from the paper and checked
    against the verdict rule's schema: {claim id: {...}}."""
    doc = json.loads((Path(root) / f"{slug}.json").read_text())
    check_reported(doc)
    return {c["id"]: c for c in doc["claims"]}


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
    """The commit of the code that produced a result, "+modified" when the library, the
    papers' packages or the paper's numbers differ from it, or the notebook's code
    cells do (its outputs may differ: papermill writes them as it runs)."""
    sha = _git("rev-parse", "--short", "HEAD")
    if sha is None:
        return "unknown"
    modified = (
        _git("status", "--porcelain", "--", "lib", "papers", "data/reported") != ""
    )
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
    """Every paper's results file at a profile, in the book's order; papers with none
    are left out."""
    paths = [Path(root) / f"{slug}-{profile}.json" for slug in SLUGS]
    return [json.loads(p.read_text()) for p in paths if p.exists()]

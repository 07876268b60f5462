"""The same defenses under two versions of AutoAttack, side by side, on the same points
with the same seed, so that a difference is the attack's alone: what the book's pages
ran until their rewrite (torchattacks' 10-iteration "standard") against AutoAttack as
published (lib.autoattack.VERSIONS)."""

import statistics

from lib.autoattack import THREAT_MODELS, VERSIONS, describe
from lib.pages import norm_name


def versions_record(rows, *, n, seed):
    """metrics["autoattack_versions"] of a results file from {version: {defense:
    {"clean", "Linf", "L2"}}} (as common records' "defenses", extra keys ignored):
    {"n", "seed", "versions": {version: describe's spec}, "threat_models",
    "defenses": {defense: {"clean": %, norm: {version: %}}}}.

    The first version is the reference the second is compared with."""
    if len(rows) != 2:
        raise ValueError(f"rows must hold two versions, got {list(rows)}")
    unknown = sorted(set(rows) - set(VERSIONS))
    if unknown:
        raise ValueError(f"versions must be among {sorted(VERSIONS)}, got {unknown}")
    first, second = rows.values()
    if set(first) != set(second):
        raise ValueError(
            f"both versions must attack the same defenses, got {list(first)} and "
            f"{list(second)}"
        )
    return {
        "n": n,
        "seed": seed,
        "versions": {v: describe(v, n)[0] for v in rows},
        "threat_models": dict(THREAT_MODELS),
        "defenses": {
            name: {
                "clean": first[name]["clean"],
                **{
                    norm: {v: r[name][norm] for v, r in rows.items()}
                    for norm in THREAT_MODELS
                },
            }
            for name in first
        },
    }


def beside(common, version, rows):
    """versions_record of a page's common record (lib.robustness.common_record) and
    another version's {defense: row} of the same defenses, on its points and seed."""
    return versions_record(
        {common["version"]["name"]: common["defenses"], version: rows},
        n=common["n"],
        seed=common["seed"],
    )


def differences(record):
    """{norm: {defense: points}}: the second version's accuracy minus the first's (how
    much a weaker attack overstates robustness)."""
    reference, other = _pair(record)
    return {
        norm: {
            name: row[norm][other] - row[norm][reference]
            for name, row in record["defenses"].items()
        }
        for norm in record["threat_models"]
    }


def versions_table(record):
    """One row a defense: clean, then each threat model's accuracy (%) under each
    version and their difference."""
    import pandas as pd

    reference, other = _pair(record)
    gaps = differences(record)
    rows = {}
    for name, row in record["defenses"].items():
        rows[name] = {"clean": row["clean"]}
        for norm, eps in record["threat_models"].items():
            for version in (reference, other):
                rows[name][f"{norm} {eps:g} {version}"] = row[norm][version]
            rows[name][f"{norm} {eps:g} difference"] = gaps[norm][name]
    return pd.DataFrame(rows).T.astype(float)


def summary(record):
    """A sentence a threat model: the median, smallest and largest difference and how
    many defenses the weaker version overstates, in points and in images."""
    reference, other = _pair(record)
    n = record["n"]
    parts = []
    for norm, gaps in differences(record).items():
        values = list(gaps.values())
        # in images: percentages of n points differ by float error where equal
        above = sum(round(g * n / 100) > 0 for g in values)
        eps = record["threat_models"][norm]
        parts.append(
            f"at {norm_name(norm)} ε = {eps:g}, {other} is above {reference} on "
            f"{above} of {len(values)} defenses, by "
            f"{statistics.median(values):+.1f} points in the median "
            f"({min(values):+.1f} to {max(values):+.1f}; one image is "
            f"{100 / n:.1f} points)"
        )
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _pair(record):
    versions = list(record["versions"])
    if len(versions) != 2:
        raise ValueError(f"a record must compare two versions, got {versions}")
    return versions

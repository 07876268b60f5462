"""The leaderboard's tables from the results files: one row per defense of every paper
under the common evaluation (lib.robustness.common_record, stored as
metrics["autoattack"]), and its ranking at one threat model."""

import pandas as pd

from lib.autoattack import LEGACY_VERSION, THREAT_MODELS

COLUMNS = [
    "paper",
    "defense",
    "attack",
    "masking",
    "clean",
    *THREAT_MODELS,
    *(f"eps_{norm}" for norm in THREAT_MODELS),
    "n",
    "seed",
    "profile",
]


def masking_text(row):
    """The masking checks that flagged a defense, "none" or "not checked"."""
    if "masking" not in row:
        return "not checked"
    flagged = [name for name, check in row["masking"].items() if check["flag"]]
    return ", ".join(flagged) or "none"


def defense_rows(record):
    """One row per defense of a paper's metrics["autoattack"]: accuracies (%). A
    record written before versions were named ran the library's only one then, the
    10-iteration torchattacks version."""
    aa = record["metrics"]["autoattack"]
    attack = aa.get("version", {}).get("name", LEGACY_VERSION)
    return [
        {
            "paper": record["slug"],
            "defense": name,
            "attack": attack,
            "masking": masking_text(row),
            "clean": row["clean"],
            **{norm: row.get(norm) for norm in THREAT_MODELS},
            **{f"eps_{norm}": aa["threat_models"].get(norm) for norm in THREAT_MODELS},
            "n": aa["n"],
            "seed": aa["seed"],
            "profile": record["profile"],
        }
        for name, row in aa["defenses"].items()
    ]


def defenses(records):
    """Every defense of the records evaluated under the common evaluation, a row each
    (COLUMNS)."""
    rows = [
        row for r in records if "autoattack" in r["metrics"] for row in defense_rows(r)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def ranking(rows, norm, eps):
    """The defenses evaluated at (norm, eps), best robust accuracy first (the cleaner
    first among equals); ties share a rank."""
    table = rows[(rows[f"eps_{norm}"] == eps) & rows[norm].notna()]
    table = table.sort_values([norm, "clean"], ascending=False)
    table = table.rename(columns={norm: "robust"})
    rank = table.robust.rank(ascending=False, method="min")
    table.insert(0, "rank", rank.astype(int))
    shown = ["rank", "defense", "paper", "robust", "clean", "n", "attack", "masking"]
    return table[[*shown, "profile"]]

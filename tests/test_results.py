"""The book's verdict rule and the results file."""

import json

import pandas as pd
import pytest

from lib import DATA
from lib.pages import PaperNames
from lib.results import write_results
from lib.verdicts import CAUSES, claim, verdict


@pytest.mark.parametrize(
    "kind, reported, ours, expected",
    [
        ("clean", 98.26, 98.70, "reproduced"),
        ("clean", 98.26, 97.30, "partly"),
        ("clean", 98.26, 97.20, "not reproduced"),
        ("attack", 20.41, 23.40, "reproduced"),
        ("attack", 20.41, 26.00, "partly"),
        ("attack", 20.41, 40.00, "not reproduced"),
        ("norm", 0.20, 0.219, "reproduced"),
        ("norm", 0.20, 0.235, "partly"),
        ("norm", 0.20, 0.30, "not reproduced"),
        ("ordering", None, 0.8, "reproduced"),
        ("ordering", None, 2 / 3, "partly"),
        ("ordering", None, 0.5, "not reproduced"),
    ],
)
def test_verdict_rule(kind, reported, ours, expected):
    assert verdict(kind, reported, ours) == expected


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        verdict("accuracy", 1.0, 1.0)


def test_claim_and_results_file(tmp_path):
    rows = [
        claim("clean", "clean accuracy", "clean", 98.0, [98.1, 98.3]),
        claim("order", "AT is best", "ordering", None, [True, True, False]),
    ]
    assert rows[0]["ours_mean"] == pytest.approx(98.2) and rows[0]["n_runs"] == 2
    assert (
        rows[0]["ours_std"] == pytest.approx(0.1414, abs=1e-4)
        and rows[0]["verdict"] == "reproduced"
    )
    assert rows[1]["reported"] == "holds" and rows[1]["verdict"] == "partly"
    path = write_results(
        "toy",
        "smoke",
        {"epochs": 1},
        rows,
        {"x": 1.0},
        device="cpu",
        seeds=[0, 1],
        started=0.0,
        root=tmp_path,
    )
    record = json.loads(path.read_text())
    assert set(record) == {"slug", "profile", "config", "claims", "metrics", "env"}
    assert record["env"]["seeds"] == [0, 1] and record["claims"][1]["id"] == "order"
    assert [p.name for p in tmp_path.iterdir()] == ["toy-smoke.json"]


def test_a_claim_keeps_its_cause_only_when_not_reproduced():
    assert claim("a", "x", "clean", 98.0, [97.9, 98.1])["cause"] is None
    assert claim("b", "x", "clean", 98.0, [90.0], cause="budget")["cause"] == "budget"
    assert claim("c", "x", "clean", 98.0, [98.0], cause="budget")["cause"] is None
    with pytest.raises(ValueError, match="cause must be"):
        claim("d", "x", "clean", 98.0, [90.0], cause="bad luck")


def test_git_sha_names_the_commit_and_flags_changed_code(tmp_path, monkeypatch):
    import lib.results as results

    sha = results.git_sha()
    assert sha != "unknown" and sha.split("+")[0].isalnum()
    notebook = {
        "cells": [
            {"cell_type": "code", "source": "x = 1", "metadata": {"tags": []}},
            {
                "cell_type": "code",
                "source": "profile = 'smoke'",
                "metadata": {"tags": ["injected-parameters"]},
            },
            {"cell_type": "markdown", "source": "text", "metadata": {}},
        ]
    }
    assert results.code_cells(json.dumps(notebook)) == ["x = 1"]
    # A notebook that is not in the commit counts as modified code.
    book = tmp_path / "book"
    book.mkdir()
    (book / "new_paper.ipynb").write_text(json.dumps(notebook))
    monkeypatch.setattr(results, "DATA", tmp_path / "data")
    monkeypatch.setattr(
        results,
        "_git",
        lambda *args: {"rev-parse": "abc1234\n", "status": ""}.get(args[0]),
    )
    assert results.git_sha("new_paper") == "abc1234+modified"
    assert results.git_sha() == "abc1234"


@pytest.mark.parametrize(
    "path", sorted((DATA / "results").glob("*.json")), ids=lambda p: p.stem
)
def test_every_claim_not_reproduced_has_a_cause(path):
    record = json.loads(path.read_text())
    missing = [
        c["id"]
        for c in record["claims"]
        if c["verdict"] != "reproduced" and c.get("cause") not in CAUSES
    ]
    assert not missing, f"{path.name}: claims not reproduced without a cause: {missing}"


def test_claims_table_and_verdict_counts_show_every_claim():
    from lib.pages import claims_table, verdict_counts

    claims = [
        claim("a", "clean accuracy", "clean", 99.0, [99.1, 98.9]),
        claim("b", "under FGSM", "attack", 80.0, [60.0], cause="budget"),
        claim("c", "A beats B", "ordering", None, [True, True, False], cause="open"),
    ]
    table = claims_table(claims, reading=["x", "y", "z"])
    assert list(table.columns) == [
        "claim",
        "reading",
        "paper",
        "ours",
        "runs",
        "verdict",
        "cause",
    ]
    assert table.ours.tolist() == ["99.00 ± 0.14", "60.00", "67% of runs"]
    assert table.paper.tolist() == ["99.00", "80.00", "holds"]
    assert table.cause.tolist() == ["", "budget", "open"]
    assert verdict_counts(claims) == {
        "n_claims": 3,
        "n_reproduced": 1,
        "n_partly": 1,
        "n_not_reproduced": 1,
        "n_cause_budget": 1,
        "n_cause_reading": 0,
        "n_cause_paper": 0,
        "n_cause_open": 1,
    }
    with pytest.raises(ValueError, match="column 'reading' has 2 values for 3 claims"):
        claims_table(claims, reading=["x", "y"])


def test_a_norm_is_shown_to_three_decimals_and_mean_std_to_the_digits_asked():
    from lib.pages import claims_table, mean_std

    rho = claim("r", "ρ under DeepFool", "norm", 0.131, [0.1234, 0.1456])
    table = claims_table([rho])
    assert table.paper.tolist() == ["0.131"]
    assert table.ours.tolist() == ["0.135 ± 0.016"]
    assert mean_std([1.0, 2.0, 3.0], digits=1) == "2.0 ± 1.0"
    assert mean_std([0.5]) == "0.50"


def test_machine_names_the_cpu_threads_or_the_gpu():
    import torch

    from lib.pages import machine

    assert machine("cpu") == f"a CPU ({torch.get_num_threads()} threads, no GPU)"
    if torch.cuda.is_available():
        assert machine("cuda").endswith(" GPU")


def test_paper_names_rename_a_key_and_keep_the_others():
    paper_name = PaperNames(undefended="Normal")
    assert paper_name("undefended") == "Normal"
    assert paper_name("LWA") == "LWA"
    frame = pd.DataFrame({"acc": [1.0, 2.0]}, index=["undefended", "LWA"])
    assert list(frame.rename(index=paper_name).index) == ["Normal", "LWA"]
    levels = pd.MultiIndex.from_tuples([("MLP", "undefended"), ("LeNet", "LWA")])
    renamed = pd.DataFrame({"acc": [1.0, 2.0]}, index=levels).rename(
        index=paper_name, level=1
    )
    assert list(renamed.index) == [("MLP", "Normal"), ("LeNet", "LWA")]


def test_a_scored_claim_shows_its_standard_error_and_its_evidence():
    from lib.pages import shown_cause, shown_value

    c = {"kind": "attack", "ours_mean": 40.0, "ours_std": 1.0, "n_runs": 3}
    assert shown_value(c) == "40.00 ± 1.00"
    assert shown_value({**c, "ours_se": 0.8}) == "40.00 ± 1.00 (se 0.80)"
    assert shown_cause({"cause": "open", "evidence": None}) == "open"
    assert shown_cause({"cause": None}) == ""
    shown = {
        "budget": (
            {"trend": [[1, 20.0], [5, 30.0], [10, 60.0]]},
            "budget (trend 30.00 at 5 → 60.00 at 10)",
        ),
        "paper": ({"source": "authors' notebook, cell 11"}, "paper (authors'"),
        "reading": ({"reading": "BN in train mode", "values": [1]}, "reading (BN in"),
        "noise": (
            {"decide": {"seeds": None, "points": 2400}},
            "decided by 2,400 points",
        ),
        "open": ({"tried": "input dropout"}, "open (tried: input dropout)"),
    }
    for cause, (evidence, words) in shown.items():
        assert words in shown_cause({"cause": cause, "evidence": evidence})


def test_an_open_claim_shows_each_reading_tried_and_its_trend():
    from lib.pages import shown_cause

    evidence = {
        "tried": [{"reading": "ε read as L∞", "ours": 41.25, "verdict": "partly"}],
        "trend": [(1, 70.0), (4, 60.0), (13, 50.0)],
    }
    shown = shown_cause({"cause": "open", "kind": "attack", "evidence": evidence})
    assert shown == (
        "open (tried: ε read as L∞: 41.25 (partly); "
        "the budget trend's later half (4 to 13): 60.00 to 50.00)"
    )


def test_the_misses_table_has_a_row_for_each_reading_and_skips_hits():
    from lib.verdicts import explain, score

    spec = {"id": "c", "description": "a claim", "kind": "attack", "reported": 50.0}

    def rule(other=None, **cause):
        return score(spec, [40.0] if other is None else other, n=10_000, **cause)

    from lib.pages import misses_table

    hit = explain(spec, lambda other=None, **c: rule([50.0], **c))
    closed = explain(spec, rule, [("far", [43.0]), ("near", [50.2])])
    open_ = explain(spec, rule, [("far", [43.0])], trend=[(1, 45.0), (4, 40.0)])
    table = misses_table([hit, closed, open_])
    assert list(table["reading tried"]) == [
        "far",
        "near",
        "far",
        "the budget trend's later half (1 to 4)",
    ]
    assert list(table["its verdict"]) == [
        "not reproduced",
        "reproduced",
        "not reproduced",
        "",
    ]
    assert list(table["cause"]) == ["reading", "reading", "open", "open"]
    assert table.loc[3, "ours under it"] == "45.00 to 40.00"


def test_the_readings_text_says_what_closed_each_miss_and_nothing_else():
    from lib.pages import readings_text
    from lib.verdicts import explain, score

    spec = {"id": "c", "description": "a claim", "kind": "attack", "reported": 50.0}

    def rule(other=None, **cause):
        return score(spec, [40.0] if other is None else other, n=10_000, **cause)

    closed = explain(spec, rule, [("far", [43.0]), ("near", [50.2])])
    open_ = explain(spec, rule, [("far", [43.0])])
    assert readings_text([open_]) == ""
    assert readings_text([closed, open_]) == (
        "Closed by a reading: *a claim* is 50.20 under *near*, against the paper's "
        "50.00 and 40.00 as this page runs it."
    )
    seeded = {**closed, "evidence": {**closed["evidence"], "seeds": [0, 1, 2]}}
    assert "under *near* (seeds 0, 1, 2), against" in readings_text([seeded])

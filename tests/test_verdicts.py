"""The book's verdict rule on synthetic claims: uncertainty from seeds and test
points, tolerances scaled near 0 % and 100 %, undecided claims and what would decide
them, orderings by their noise, causes only with their evidence, the reported schema."""

import json
import math

import numpy as np
import pytest

from lib import DATA
from lib.uncertainty import binomial_se, measurement, to_decide
from lib.verdicts import (
    check_reported,
    explain,
    later_half,
    moves_toward,
    score,
    score_ordering,
    tolerance_of,
    trend_moved,
)


def spec(kind="attack", reported=50.0, **extra):
    return {"id": "c", "description": "a claim", "source": "Table 1", "kind": kind,
            "reported": reported, **extra}  # fmt: skip


def ordering(**extra):
    return spec("ordering", None, **extra)


def test_binomial_error_shrinks_with_points_and_never_vanishes():
    assert binomial_se(50, 100) == pytest.approx(100 * math.sqrt(0.25 / 100), rel=1e-3)
    assert binomial_se(50, 10_000) < binomial_se(50, 100) / 9
    assert 0 < binomial_se(0, 100) < binomial_se(5, 100)  # 0/100 is not certain
    with pytest.raises(ValueError, match="n must be"):
        binomial_se(50, 0)


def test_the_points_error_is_shared_by_the_seeds_and_the_spread_is_not():
    one = measurement([90.0, 92.0, 94.0], n=1000)
    assert one["se_seeds"] == pytest.approx(2.0 / math.sqrt(3))
    assert one["se_points"] == pytest.approx(binomial_se(92.0, 1000))
    assert one["se"] ** 2 == pytest.approx(one["se_seeds"] ** 2 + one["se_points"] ** 2)
    single = measurement([92.0], n=1000)  # one run measures no spread
    assert single["se_seeds"] is None and single["se"] == single["se_points"]
    with pytest.raises(ValueError, match="n must be a whole number"):
        measurement([1.0], n=2.5)


@pytest.mark.parametrize(
    "kind, reported, expected",
    [
        ("attack", 50.0, 3.0),
        ("attack", 0.58, 3.0 * 0.58 / 5),  # a success rate near 0: 60 % of it
        ("attack", 99.7, 3.0 * 0.3 / 5),  # an error rate near 0
        ("attack", 0.0, 0.1),  # never below the papers' printed precision
        ("clean", 98.26, 0.5),
        ("drop", 1.23, 0.5),
        ("norm", 0.2, 0.02),
    ],
)
def test_tolerance_scales_near_either_end_for_attacks_only(kind, reported, expected):
    assert tolerance_of(spec(kind, reported)) == pytest.approx(expected)


def test_a_tenfold_success_rate_is_not_partly_reproduced():
    record = score(spec("attack", 0.58, n=10_000), [5.64], n=5_000)
    assert record["verdict"] == "not reproduced" and record["cause"] == "open"


@pytest.mark.parametrize(
    "values, n, expected",
    [
        ([98.1, 98.3], 10_000, "reproduced"),
        ([97.4, 97.4], 10_000, "partly"),
        ([96.0, 96.2], 10_000, "not reproduced"),
        ([97.2], 100, "undecided"),  # se 1.6 > 0.5 and 98 - 97.2 < 2 se
        ([80.0], 100, "not reproduced"),  # far beyond any noise
    ],
)
def test_numeric_verdicts_by_the_tolerance_and_the_noise(values, n, expected):
    assert score(spec("clean", 98.0), values, n=n)["verdict"] == expected


def test_an_undecided_claim_says_which_points_would_decide_it():
    record = score(spec("clean", 98.0), [97.2], n=100)
    assert record["cause"] == "noise" and record["evidence"]["se"] > 0.5
    points = record["evidence"]["decide"]["points"]
    assert points > 100 and record["evidence"]["decide"]["seeds"] is None
    assert score(spec("clean", 98.0), [97.2], n=points)["verdict"] != "undecided"


def test_an_undecided_claim_says_which_seeds_would_decide_it():
    values = [40.0, 60.0, 45.0, 55.0]  # the seeds' spread dominates
    record = score(spec("attack", 50.0), values, n=10_000)
    assert record["verdict"] == "undecided"
    seeds = record["evidence"]["decide"]["seeds"]
    ours = measurement(values, n=10_000)
    se = math.sqrt(ours["std"] ** 2 / seeds + ours["se_points"] ** 2)
    assert seeds > 4 and se <= 3.0
    assert to_decide(ours, 100.0)["seeds"] == 4  # already decided: no more needed


def test_the_papers_own_sampling_error_counts_where_its_n_is_known():
    near = [97.3] * 3
    assert score(spec("clean", 98.0), near, n=10_000)["verdict"] == "partly"
    assert score(spec("clean", 98.0, n=50), near, n=10_000)["verdict"] == "undecided"


def test_a_scored_claim_keeps_the_fields_the_scorecard_reads():
    record = score(
        spec("norm", 0.131, derived=True), [0.12, 0.13], n=100, point_sd=0.05
    )
    assert {"id", "description", "reported", "ours_mean", "ours_std", "n_runs",
            "tolerance", "verdict", "cause", "ours_se", "evidence", "derived"} <= set(
        record
    )  # fmt: skip
    assert record["derived"] is True and record["ours_se"] > 0.05 / 10
    json.dumps(record)  # the results file takes it as it is


def test_bad_calls_name_what_is_missing():
    with pytest.raises(ValueError, match="n \\(our test points\\)"):
        score(spec(), [50.0])
    with pytest.raises(ValueError, match="point_sd"):
        score(spec("norm", 0.2), [0.2], n=100)
    with pytest.raises(ValueError, match="score_ordering"):
        score(ordering(), [1.0], n=100)
    with pytest.raises(ValueError, match="kind must be one of"):
        score(spec("accuracy"), [1.0], n=100)


@pytest.mark.parametrize(
    "margins, expected",
    [
        ([5.0, 5.0, 5.0], "reproduced"),
        ([5.0, 5.0, -5.0], "partly"),  # 2 of 3 seeds, >= 0.6
        ([-5.0, -5.0, 5.0], "not reproduced"),
        ([0.5, 0.5, 0.5], "undecided"),  # every margin within 2 se
        ([5.0, 5.0, 0.5], "undecided"),  # the third seed decides between the bands
    ],
)
def test_orderings_are_decided_only_beyond_two_standard_errors(margins, expected):
    assert score_ordering(ordering(), margins, 1.0, n=500)["verdict"] == expected


def test_an_undecided_ordering_names_the_points_that_would_settle_it():
    record = score_ordering(ordering(), [0.5, 0.5, 0.5], 1.0, n=500)
    assert record["cause"] == "noise"
    points = record["evidence"]["decide"]["points"]
    se = 1.0 * math.sqrt(500 / points)  # the margin's error at that many points
    assert points == 8_000 and 0.5 >= 2 * se - 1e-9


def test_an_unexplained_miss_is_open_and_a_reproduced_claim_has_no_cause():
    miss = score(spec(), [40.0], n=10_000, evidence={"tried": "two learning rates"})
    assert miss["cause"] == "open" and miss["evidence"]["tried"] == "two learning rates"
    hit = score(spec(), [50.5], n=10_000, cause="paper", evidence={"source": "x"})
    assert hit["cause"] is None and hit["evidence"] is None


def test_budget_needs_a_trend_toward_the_paper():
    with pytest.raises(ValueError, match=r"needs evidence \['trend'\]"):
        score(spec(), [40.0], n=10_000, cause="budget")
    away = [(1, 45.0), (2, 42.0), (4, 40.0)]
    with pytest.raises(ValueError, match="does not move toward"):
        score(spec(), [40.0], n=10_000, cause="budget", evidence={"trend": away})
    with pytest.raises(ValueError, match="increasing amounts"):
        score(spec(), [40.0], n=10_000, cause="budget", evidence={"trend": [(1, 30)]})
    toward = [(1, 30.0), (2, 36.0), (4, 40.0)]
    record = score(spec(), [40.0], n=10_000, cause="budget", evidence={"trend": toward})
    assert record["cause"] == "budget" and record["evidence"]["trend"] == toward


def test_a_budget_trend_within_the_noise_is_not_evidence():
    small = [(1, 39.0), (4, 40.0)]  # one point closer, with se about 0.7 on 500 points
    with pytest.raises(ValueError, match="does not move toward"):
        score(spec(), [40.0], n=500, cause="budget", evidence={"trend": small})


def test_budget_reads_the_later_half_of_a_trend_not_its_first_epochs():
    # an untrained network is far from everything: a trend that rose early and has
    # stopped (ours 30 %, the paper 90 %) says nothing about more training
    plateau = [(1, 14.0), (10, 25.0), (25, 30.5), (30, 29.5), (40, 30.4), (50, 30.0)]
    with pytest.raises(ValueError, match="later half"):
        score(spec(reported=90.0), [30.0], n=10_000, cause="budget",
              evidence={"trend": plateau})  # fmt: skip
    rising = [(1, 14.0), (10, 25.0), (25, 30.0), (30, 31.0), (40, 33.0), (50, 35.0)]
    record = score(spec(reported=90.0), [35.0], n=10_000, cause="budget",
                   evidence={"trend": rising})  # fmt: skip
    assert record["cause"] == "budget"


def test_a_later_half_that_scatters_more_than_it_moves_is_not_evidence():
    noisy = [(25, 28.0), (30, 24.0), (35, 29.0), (40, 23.0), (45, 28.0), (50, 25.0)]
    record = {"id": "x", "kind": "attack", "reported": 20.0, "ours_mean": 25.0,
              "ours_se": 0.1}  # fmt: skip
    moved, moved_se = trend_moved(record, noisy)
    assert moved > 0 and moved < 2 * moved_se  # toward the paper, inside its scatter
    assert not moves_toward(record, noisy)
    assert moves_toward(record, [(25, 28.0), (50, 25.0)])  # two points: ours' se


def test_the_later_half_starts_at_half_the_run_and_keeps_two_points():
    assert later_half([(1, 0), (2, 0), (5, 0), (10, 0)]) == [(5, 0), (10, 0)]
    assert later_half([(1, 0), (3, 0), (10, 0)]) == [(3, 0), (10, 0)]
    assert later_half([(1, 0), (2, 0)]) == [(1, 0), (2, 0)]


def test_paper_needs_a_cited_source():
    with pytest.raises(ValueError, match=r"needs evidence \['source'\]"):
        score(spec(), [40.0], n=10_000, cause="paper")
    with pytest.raises(ValueError, match="cited source"):
        score(spec(), [40.0], n=10_000, cause="paper", evidence={"source": " "})
    cited = {"source": "the authors' notebook gives 46.35 %"}
    assert score(spec(), [40.0], n=10_000, cause="paper", evidence=cited)["cause"] == (
        "paper"
    )


def test_reading_needs_a_named_alternative_within_tolerance_on_the_same_seeds():
    base = {"n": 10_000, "seeds": [0, 1]}
    good = {"reading": "ε = 0.25", "values": [49.0, 51.0], "seeds": [0, 1]}
    record = score(spec(), [40.0, 41.0], **base, cause="reading", evidence=good)
    assert record["cause"] == "reading" and record["evidence"]["reading_mean"] == 50.0
    with pytest.raises(ValueError, match="does not land within tolerance"):
        far = {**good, "values": [44.0, 45.0]}
        score(spec(), [40.0, 41.0], **base, cause="reading", evidence=far)
    with pytest.raises(ValueError, match="same seeds"):
        other = {**good, "seeds": [2, 3]}
        score(spec(), [40.0, 41.0], **base, cause="reading", evidence=other)
    with pytest.raises(ValueError, match=r"needs evidence \['values'\]"):
        score(spec(), [40.0, 41.0], **base, cause="reading", evidence={"reading": "x"})


def test_an_ordering_reading_and_budget_are_scored_by_the_ordering_rule():
    good = {"reading": "clipped", "values": {"margins": [4.0, 4.0], "se": 1.0}}
    record = score_ordering(
        ordering(), [-4.0, -4.0], 1.0, n=500, cause="reading", evidence=good
    )
    assert record["verdict"] == "not reproduced" and record["cause"] == "reading"
    trend = {"trend": [(1, -8.0), (2, -4.0)]}  # the margin grows toward holding
    record = score_ordering(
        ordering(), [-4.0, -4.0], 1.0, cause="budget", evidence=trend
    )
    assert record["cause"] == "budget"


def bound(values=(40.0,), n=10_000):
    """rule(other=None, **cause) as a page binds it: ours, or a reading's values."""

    def rule(other=None, **cause):
        return score(spec(), list(values) if other is None else other, n=n, **cause)

    return rule


def test_explain_puts_a_miss_down_to_the_first_reading_within_tolerance():
    readings = [("far", [43.0]), ("near", [50.2]), ("also near", [49.9])]
    record = explain(spec(), bound(), readings, trend=[(1, 30.0), (4, 40.0)])
    assert record["cause"] == "reading" and record["evidence"]["reading"] == "near"
    assert record["evidence"]["tried"] == [
        {"reading": "far", "ours": 43.0, "verdict": "not reproduced"}
    ]


def test_a_reading_that_closes_a_claim_is_kept_as_results_file_data():
    values = np.array([50.2])  # a page's per-seed cells, as numpy gives them
    record = explain(spec(), bound(), [("near", values)])
    assert record["cause"] == "reading" and record["evidence"]["values"] == [50.2]
    json.dumps(record)  # no numpy left: the results file is plain JSON


def test_explain_takes_the_budget_only_from_a_trend_toward_the_paper():
    toward = explain(spec(), bound(), [("far", [43.0])], trend=[(1, 30.0), (4, 40.0)])
    assert toward["cause"] == "budget" and len(toward["evidence"]["tried"]) == 1
    away = explain(spec(), bound(), trend=[(1, 45.0), (4, 40.0)], source="Table 2")
    assert away["cause"] == "paper" and away["evidence"]["source"] == "Table 2"
    neither = explain(spec(), bound(), [("far", [43.0])], trend=[(1, 45.0), (4, 40.0)])
    assert neither["cause"] == "open"
    assert neither["evidence"]["trend"] == [(1.0, 45.0), (4.0, 40.0)]
    assert neither["evidence"]["tried"][0]["reading"] == "far"


def test_explain_leaves_a_hit_and_an_undecided_claim_alone():
    assert explain(spec(), bound([50.2]), [("x", [40.0])])["cause"] is None
    undecided = explain(spec(), bound([47.0], n=100), [("x", [50.0])])
    assert undecided["verdict"] == "undecided" and undecided["cause"] == "noise"


def test_noise_is_the_rules_cause_and_unknown_causes_are_refused():
    for cause in ("noise", "bad luck"):
        with pytest.raises(ValueError, match="cause must be None or one of"):
            score(spec(), [40.0], n=10_000, cause=cause)


@pytest.mark.parametrize("path", sorted((DATA / "reported").glob("*.json")))
def test_every_reported_file_meets_the_schema(path):
    doc = json.loads(path.read_text())
    check_reported(doc)
    # n: the paper's test points, null where the paper does not say
    assert all("n" in c for c in doc["claims"]), "every claim states its n"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "accuracy"}, "kind must be one of"),
        ({"tolerance": 0}, "tolerance must be > 0"),
        ({"kind": "ordering", "reported": None, "tolerance": 1.5}, "tolerance must be"),
        ({"reported": None}, "reported must be a number"),
        ({"n": 0}, "n must be a whole number"),
        ({"derived": "yes"}, "derived must be"),
        ({"source": None}, "source must be a string"),
    ],
)
def test_the_schema_refuses_bad_claims(change, message):
    with pytest.raises(ValueError, match=message):
        check_reported({"slug": "toy", "claims": [{**spec(), **change}]})
    with pytest.raises(ValueError, match="unique ids"):
        check_reported({"slug": "toy", "claims": [spec(), spec()]})


def test_an_unmeasured_claim_is_undecided_and_says_why():
    from lib.verdicts import unmeasured

    spec = {"id": "c", "description": "d", "kind": "attack", "reported": 34.0}
    record = unmeasured(spec, "no successful attack among 4 images")
    assert record["verdict"] == "undecided" and record["cause"] == "noise"
    assert record["evidence"]["why"].startswith("no successful attack")


def test_an_accuracy_is_ahead_only_beyond_two_standard_errors_of_the_difference():
    from lib.uncertainty import accuracy_order

    order, two_se = accuracy_order(30.0, 33.2, 500)
    assert order == 0 and two_se == pytest.approx(5.9, abs=0.05)
    assert accuracy_order(40.0, 30.0, 500)[0] == 1
    assert accuracy_order(30.0, 40.0, 500)[0] == -1
    assert accuracy_order(40.0, 30.0, 20)[0] == 0  # the same gap on 20 points

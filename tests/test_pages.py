"""What a page shows of its configs and its budget trend (lib.pages, lib.plots)."""

import dataclasses

import matplotlib

from lib.pages import config_table
from lib.plots import budget_trends

matplotlib.use("Agg")


@dataclasses.dataclass(frozen=True)
class Config:
    epochs: int = 100  # §5: every model
    lr: float = 1e-3  # our choice


def test_a_config_shows_its_values_the_papers_where_they_differ_and_sources():
    table = config_table(Config(epochs=10), Config())
    assert list(table.field) == ["epochs", "lr"]
    assert list(table.value) == [10, 1e-3]
    assert list(table["paper's protocol"]) == [100, ""]
    assert list(table.source) == ["§5: every model", "our choice"]


def test_the_budget_trend_draws_a_panel_per_metric_with_the_papers_value():
    fig = budget_trends(
        {"error": {"A": ([1, 2, 5], [3.0, 2.0, 1.5], 1.2)}, "rho": {}}, ncols=3
    )
    axes = fig.axes
    assert [ax.get_title() for ax in axes[:2]] == ["error", "rho"]
    assert len(axes[0].lines) == 2  # ours, and the paper's dashed value
    assert not axes[2].axison


def test_the_scorecard_draws_every_verdict_and_skips_what_was_not_measured():
    from lib.plots import paper_vs_ours

    claims = [
        {"reported": 90.0, "ours_mean": 89.0, "ours_std": 1.0, "verdict": "reproduced"},
        {
            "reported": 50.0,
            "ours_mean": 60.0,
            "ours_std": 5.0,
            "verdict": "undecided",
            "cause": "noise",
        },
        {
            "reported": 34.0,
            "ours_mean": float("nan"),
            "ours_std": 0.0,
            "verdict": "undecided",
            "cause": "noise",
        },
    ]
    fig = paper_vs_ours(claims, tolerance=3.0, relative=False)
    points = [
        line for line in fig.axes[0].lines if line.get_marker() not in ("None", "")
    ]
    assert len(points) == 2
    fig = paper_vs_ours(claims[2:], tolerance=3.0, relative=False, title="empty")
    assert not fig.axes[0].axison


def test_an_undecided_claim_says_what_would_decide_it_and_when_mnist_cannot():
    from lib.pages import shown_cause

    def noise(seeds, points):
        decide = {"seeds": seeds, "points": points}
        return {"cause": "noise", "evidence": {"decide": decide}}

    assert shown_cause(noise(None, 2_000)) == "noise (decided by 2,000 points)"
    assert shown_cause(noise(6, 20_000)) == (
        "noise (decided by 6 seeds or 20,000 points)"
    )
    beyond = shown_cause(noise(None, 29_561_777))
    assert beyond.startswith("noise (decided by 29,561,777 points: more than MNIST")
    assert shown_cause(noise(None, None)) == "noise"

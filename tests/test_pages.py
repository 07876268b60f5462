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

"""The adversary critic's experiment: its models as jobs with the weights kept along
training, and the page's numbers from them (papers/adversary_critic/)."""

import dataclasses

import pandas as pd
import pytest
import torch

from lib.metrics import rho_min_norm
from lib.models import mlp
from papers.adversary_critic import report
from papers.adversary_critic.config import METHODS, NETS, PROFILES
from papers.adversary_critic.experiment import evaluation_jobs, training_jobs
from papers.adversary_critic.training import train_model


def test_each_seed_trains_all_ten_models_the_costliest_first():
    train_cfg, eval_cfg = PROFILES["smoke"]
    jobs = training_jobs(train_cfg, [0, 1])
    assert len(jobs) == 2 * len(NETS) * len(METHODS)
    assert list(jobs)[0][1] == "ours"
    assert len(evaluation_jobs(train_cfg, eval_cfg, [0])) == 3 * len(NETS) * len(
        METHODS
    )


def test_a_model_keeps_its_weights_at_the_trend_epochs():
    train_cfg = dataclasses.replace(
        PROFILES["smoke"][0], n_train=200, epochs=2, trend_epochs=(1, 2)
    )
    spec = dataclasses.asdict(train_cfg)
    result = train_model(net="fc", method="at", seed=0, train=spec, device="cpu")
    assert sorted(result["trend"]) == [1, 2]
    for name, final in result["state"].items():
        assert torch.equal(result["trend"][2][name], final)
    first = next(iter(result["state"]))
    assert not torch.equal(result["trend"][1][first], result["state"][first])
    assert len(result["history"]["train"]["loss"]) == 2


def test_image_rho_averages_to_table_1s_rho():
    torch.manual_seed(0)
    model = mlp([16, 8, 3]).eval()
    x = torch.rand(40, 1, 4, 4)
    y = model(x).argmax(1)
    y[:5] = (y[:5] + 1) % 3  # five points the model already gets wrong
    x_adv = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    for failures in ("count", "exclude"):
        ratios = report.image_rho(model, x, x_adv, y, failures)
        expected = rho_min_norm(model, x, x_adv, y, failures=failures)
        assert ratios.mean().item() == pytest.approx(expected, rel=1e-5)


def frame(values):
    """Rows of one seed: rho_deepfool by (net, method), 100 images, sd 0.05."""
    return pd.DataFrame(
        [
            {
                "net": n,
                "method": m,
                "seed": 0,
                "rho_deepfool": v,
                "sd_deepfool": 0.05,
                "n_deepfool": 100,
            }
            for (n, m), v in values.items()
        ]
    )


def test_an_ordering_is_decided_on_its_weakest_comparison():
    values = {("fc", "ours"): 0.30, ("fc", "mm"): 0.20, ("fc", "at"): 0.29}
    margin, se = report.margin(
        frame(values),
        [("fc", "ours", "mm", "rho_deepfool"), ("fc", "ours", "at", "rho_deepfool")],
        0,
    )
    assert margin == pytest.approx(0.01) and se == pytest.approx(0.05 * 2**0.5 / 10)


@pytest.mark.parametrize(
    "first, last, cause", [(0.10, 0.20, "budget"), (0.20, 0.10, "open")]
)
def test_budget_is_the_cause_only_where_training_moves_toward_the_paper(
    first, last, cause
):
    spec = {
        "id": "rho_deepfool_fc_ours",
        "description": "FC Ours: ρ under DeepFool",
        "kind": "norm",
        "reported": 0.29,
        "net": "fc",
        "method": "ours",
        "column": "rho_deepfool",
    }
    frames = {
        1: frame({("fc", "ours"): first}),
        10: frame({("fc", "ours"): last}),
    }
    record = report.scored(spec, frames, [0])
    assert record["verdict"] == "not reproduced"
    assert record["cause"] == cause
    if cause == "budget":
        assert record["evidence"]["trend"] == [(1, first), (10, last)]
    else:
        assert record["evidence"]["trend"] == [(1, first), (10, last)]


def test_a_reading_that_lands_within_tolerance_is_the_cause():
    spec = {
        "id": "rho_deepfool_fc_at",
        "description": "FC AT: ρ under DeepFool",
        "kind": "norm",
        "reported": 0.228,
        "net": "fc",
        "method": "at",
        "column": "rho_deepfool",
    }
    final = frame({("fc", "at"): 0.15, ("fc", "ours"): 0.3})
    glorot = frame({("fc", "at"): 0.22})
    record = report.scored(spec, {10: final}, [0], reading=("Glorot", glorot))
    assert record["verdict"] == "not reproduced" and record["cause"] == "reading"
    assert record["evidence"]["reading"] == "Glorot"

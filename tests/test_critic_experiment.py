"""The adversary critic's experiment: its models as jobs with the weights kept along
training, and the page's numbers from them (papers/adversary_critic/)."""

import dataclasses

import pandas as pd
import pytest
import torch

from lib.metrics import rho_min_norm
from lib.models import mlp
from papers.adversary_critic import report
from papers.adversary_critic.config import ATTACKS, METHODS, NETS, PROFILES
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


def test_table_1_puts_the_papers_number_beside_ours_with_its_error():
    rows = []
    for m in METHODS:
        rows.append(
            {
                "net": "fc",
                "method": m,
                "seed": 0,
                "err": 1.5,
                "n_err": 10_000,
                **{f"rho_{a}": 0.2 for a in ATTACKS},
                **{f"sd_{a}": 0.1 for a in ATTACKS},
                **{f"n_{a}": 100 for a in ATTACKS},
            }
        )
    paper = {("fc", m, c): 0.25 for m in METHODS for c in report.COLUMNS}
    table = report.table1_frame(pd.DataFrame(rows), paper, "fc")
    assert list(table.index) == list(METHODS.values())
    assert table.loc["Ours", ("ρ DeepFool", "paper")] == "0.250"
    assert table.loc["Ours", ("ρ DeepFool", "ours")] == "0.200 (se 0.010)"
    assert table.loc["AT", ("error %", "ours")].startswith("1.50 (se 0.12)")
    assert report.keyed(pd.DataFrame(rows)).index[0] == "fc/undefended/0"
    record = report.tables_record(pd.DataFrame(rows), {3: pd.DataFrame(rows)})
    assert record["table1"]["fc/ours/0"]["err"] == 1.5
    assert record["trend"][3]["fc/at/0"] == {"err": 1.5, **{r: 0.2 for r in report.RHO}}


def test_the_rho_ratio_is_ours_over_deepfool_by_epoch_beside_the_papers():
    def frame(ours):
        return pd.DataFrame(
            {
                "net": net,
                "method": m,
                "seed": seed,
                "rho_ours": ours * (1 + seed),
                "rho_deepfool": 1.0 + seed,
                **{f"sd_{a}": 0.1 for a in ATTACKS},
                **{f"n_{a}": 100 for a in ATTACKS},
            }
            for net in NETS
            for m in METHODS
            for seed in (0, 1)
        )

    paper = {(n, m, "rho_ours"): 0.3 for n in NETS for m in METHODS}
    paper |= {(n, m, "rho_deepfool"): 0.2 for n in NETS for m in METHODS}
    ratio = report.rho_ratio({5: frame(2.0), 10: frame(1.5)}, paper)
    assert list(ratio.columns) == [5, 10, "paper"]
    assert ratio.loc[("FC", "Ours")].tolist() == pytest.approx([2.0, 1.5, 1.5])
    named = report.by_name(ratio)
    assert named["FC/Reference"] == pytest.approx({5: 2.0, 10: 1.5, "paper": 1.5})
    assert len(named) == len(NETS) * len(METHODS)


def test_the_autoattack_ranking_names_where_ours_stands_on_each_net():
    accuracy = {"Reference": 5.0, "AT": 90.0, "VAT": 80.0, "MM": 60.0, "Ours": 85.0}
    record = {
        "threat_models": {"Linf": 0.1},
        "defenses": {
            f"{net} {name}": {"Linf": value}
            for net in NETS.values()
            for name, value in accuracy.items()
        },
    }
    text = report.autoattack_ranking(record)
    assert text.startswith("Under AutoAttack at L∞ ε = 0.1, on the FC net Ours ranks 2")
    assert "(AT 90.0 %, Ours 85.0 %, VAT 80.0 %, MM 60.0 %, Reference 5.0 %)" in text
    assert text.count("ranks 2 of 5") == 2


def test_figure_2_attacks_every_digit_toward_every_other_class():
    import matplotlib

    matplotlib.use("Agg")
    from lib.data import load_mnist
    from papers.adversary_critic import figures

    x, y = load_mnist("test")
    torch.manual_seed(0)
    models = {
        (n, m): mlp([784, 10]).eval() for n in NETS for m in ("undefended", "ours")
    }
    attack = dict(steps=3, confidence=0.95, step_clip=0.1, overshoot=0.02)
    reached = figures.figure2(models, x[:200], y[:200], **attack)
    assert set(reached) == set(models)
    assert all(0 <= share <= 1 for share in reached.values())
    images, share = figures.figure2_grid(
        models["fc", "ours"], x[:200], y[:200], **attack
    )
    assert images.shape == (100, 1, 28, 28) and share == reached["fc", "ours"]
    assert images.min() >= 0 and images.max() <= 1
    # the originals on the diagonal: one of each digit, unattacked
    first = figures.first_of_each_class(models["fc", "ours"], x[:200], y[:200])
    assert torch.equal(images[torch.arange(10) * 11], x[:200][first])


def test_the_proxy_averages_each_model_over_its_seeds():
    torch.manual_seed(0)
    x = torch.rand(30, 1, 4, 4)
    model = mlp([16, 3]).eval()
    y = model(x).argmax(1)
    x_adv = (x + 0.5 * torch.randn_like(x)).clamp(0, 1)
    labels_of = lambda images: model(images).argmax(1)  # noqa: E731
    table1s = {("fc", "ours", s): {"ours": x_adv} for s in (0, 1)}
    models = {key: model for key in table1s}
    proxy = report.proxy_frame(models, table1s, x, y, labels_of)
    row = report.proxy_row(model, x, y, x_adv, labels_of)
    assert proxy.loc[("fc", "ours"), "target"] == pytest.approx(row["target"])
    assert row["target"] == 100.0  # the judge here is the model itself

"""Learning with Adversary's experiment: its rows as stacks that keep their weights
along training, and its claims scored with the readings run beside them."""

import dataclasses

import pandas as pd
import pytest
import torch

from papers.learning_with_adversary import report
from papers.learning_with_adversary.config import COLUMNS, PROFILES
from papers.learning_with_adversary.experiment import row_specs, sweep_spec
from papers.learning_with_adversary.training import train_stack


def test_the_rows_are_the_papers_then_the_readings_on_the_same_seeds():
    cfg = PROFILES["book"][0]
    specs = row_specs(cfg, [0, 1, 2])
    assert specs["MLP", "undefended"]["seeds"] == [0, 1, 2, 3]  # the Fixed sets' source
    assert specs["LeNet", "LWA"]["keep"] == list(range(1, cfg.epochs + 1))
    readings = [row for _, row in specs if "(" in row]
    assert "Goodfellow (L∞ 0.25)" in readings and "Dropout (input 0.2)" in readings
    assert all(specs["MLP", r]["seeds"] == [0, 1, 2] for r in readings)
    sweep = sweep_spec(cfg, 0, h_norm=10.0)
    assert sweep["seeds"] == [0] * 4 and sweep["c"] == [0.5, 1.0, 2.0, 4.0]


def test_a_stack_keeps_each_members_weights_at_the_chosen_epochs():
    spec = row_specs(
        dataclasses.replace(
            PROFILES["smoke"][0], n_train=200, epochs=2, trend_epochs=(1,)
        ),
        [0, 1],
    )["MLP", "Goodfellow"]
    result = train_stack(**spec, device="cpu")
    assert sorted(result["trend"]) == [1] and len(result["trend"][1]) == 2
    first = next(iter(result["states"][0]))
    assert not torch.equal(result["trend"][1][0][first], result["states"][0][first])


def rows(accuracies):
    """Validation rows, one seed: {(arch, row): accuracy in every column}."""
    return pd.DataFrame(
        [
            {"arch": a, "row": r, "seed": 0, **dict.fromkeys(COLUMNS, v)}
            for (a, r), v in accuracies.items()
        ]
    )


SPEC = {
    "id": "mlp_goodfellow_loss",
    "description": "MLP Goodfellow: accuracy on Adv_Loss",
    "kind": "attack",
    "reported": 71.3,
    "model": "MLP",
    "method": "Goodfellow",
    "column": "Adv_Loss",
}


def test_a_reading_on_the_same_seeds_within_tolerance_is_the_cause():
    final = rows({("MLP", "Goodfellow"): 50.0, ("MLP", "Goodfellow (L∞ 0.25)"): 71.0})
    record = report.scored(
        SPEC,
        {13: final},
        [0],
        10_000,
        readings={"Goodfellow": ["Goodfellow (L∞ 0.25)"]},
    )
    assert record["verdict"] == "not reproduced" and record["cause"] == "reading"
    assert record["evidence"]["reading"] == "Goodfellow (L∞ 0.25)"


def test_without_a_reading_or_a_trend_the_miss_is_open_and_says_what_was_tried():
    final = rows({("MLP", "Goodfellow"): 50.0, ("MLP", "Goodfellow (L∞ 0.1)"): 40.0})
    earlier = rows({("MLP", "Goodfellow"): 60.0, ("MLP", "Goodfellow (L∞ 0.1)"): 40.0})
    record = report.scored(
        SPEC,
        {1: earlier, 13: final},
        [0],
        10_000,
        readings={"Goodfellow": ["Goodfellow (L∞ 0.1)"]},
    )
    assert record["cause"] == "open"
    tried = record["evidence"]["tried"]
    assert [(t["reading"], t["ours"]) for t in tried] == [("Goodfellow (L∞ 0.1)", 40)]
    assert record["evidence"]["trend"] == [(1, 60.0), (13, 50.0)]


def test_a_longer_run_of_the_row_extends_the_budget_trend():
    """The kept epochs move toward the paper's 71.3, the row trained 30 epochs does
    not: more training does not close the miss, so its cause is not the budget."""
    trend = {1: 40.0, 6: 50.0, 13: 60.0}
    frames = {
        epoch: rows({("MLP", "Goodfellow"): v, ("MLP", "Goodfellow (30 epochs)"): 60.0})
        for epoch, v in trend.items()
    }
    record = report.scored(SPEC, frames, [0], 10_000, readings={})
    assert record["evidence"]["trend"] == [(1, 40), (6, 50), (13, 60), (30, 60)]
    assert record["cause"] == "open"
    without = {e: f[f.row == "Goodfellow"] for e, f in frames.items()}
    assert report.scored(SPEC, without, [0], 10_000, readings={})["cause"] == "budget"


def test_an_ordering_stands_on_its_weakest_comparison():
    final = rows(
        {
            ("MLP", m): v
            for m, v in {
                "undefended": 90.0,
                "Dropout": 90.0,
                "Goodfellow": 95.0,
                "LWA": 96.0,
                "LWA_Rep": 99.0,
            }.items()
        }
    )
    margin, se = report.Orderings(final, 10_000).margin("lwa_best_mlp", 0)
    assert margin == pytest.approx(-3.0) and se > 0


def fixed_rows(method, fixed, same_seed, lenet):
    """One seed's MLP row under the Fixed set and its two other networks' readings."""
    return pd.DataFrame(
        [
            {
                "arch": "MLP",
                "row": method,
                "seed": 0,
                **dict.fromkeys(COLUMNS, 50.0),
                "Fixed": fixed,
                "Fixed, same seed": same_seed,
                "Fixed, LeNet": lenet,
            }
        ]
    )


def fixed_spec(method):
    return SPEC | {"id": "fixed", "method": method, "column": "Fixed", "reported": 31.4}


def test_a_normal_networks_own_adv_loss_set_closes_no_fixed_miss():
    # The paper's Normal MLP keeps 31.4 % of the Fixed set and 9.1 % under Adv_Loss:
    # the Fixed set cannot be its own Adv_Loss set, whatever ours gives
    final = fixed_rows("undefended", fixed=47.0, same_seed=31.0, lenet=60.0)
    record = report.scored(
        fixed_spec("undefended"), {13: final}, [0], 10_000, readings={}
    )
    assert record["cause"] == "open"
    tried = record["evidence"]["tried"]
    assert [t["reading"] for t in tried] == ["Fixed set made on the Normal LeNet"]
    dropout = fixed_rows("Dropout", fixed=47.0, same_seed=31.0, lenet=60.0)
    record = report.scored(
        fixed_spec("Dropout"), {13: dropout}, [0], 10_000, readings={}
    )
    assert record["cause"] == "reading"
    assert record["evidence"]["reading"] == "Fixed set made on the same seed's Normal"


def test_the_autoattack_sentence_weighs_lwa_against_the_strongest_other_method():
    record = {
        "n": 500,
        "threat_models": {"Linf": 0.1, "L2": 1.5},
        "defenses": {
            "MLP LWA": {"Linf": 86.4, "L2": 75.2},
            "MLP Goodfellow": {"Linf": 82.8, "L2": 57.2},
            "MLP Normal": {"Linf": 6.0, "L2": 90.0},
        },
    }
    text = report.autoattack_text(record, "MLP LWA", ["MLP Goodfellow", "MLP Normal"])
    linf, l2 = text.split("At ")[1:]
    assert "MLP Goodfellow, 82.8 %" in linf and "not told apart" in linf
    assert "MLP Normal, 90.0 %" in l2 and "more robust than LWA" in l2
    record["defenses"]["MLP Normal"]["L2"] = 5.0
    assert "stays the most robust" in report.autoattack_text(
        record, "MLP LWA", ["MLP Goodfellow", "MLP Normal"]
    )


def test_the_training_table_names_each_stack_as_the_paper_does():
    done = {("MLP", "undefended"): ({}, {"train_s": 120.0})}
    specs = {("MLP", "undefended"): {"seeds": [0, 1, 2, 3]}}
    table = report.training_table(done, specs, {"undefended": "Normal"}.get)
    assert table.to_dict("index") == {
        "MLP Normal": {"members": 4, "training (min, one core)": 2.0}
    }


def test_the_quoted_numbers_are_the_readings_means_over_the_seeds():
    def row(arch, name, seed, loss, fixed_same=None):
        return {"arch": arch, "row": name, "seed": seed, "Adv_Loss": loss} | (
            {} if fixed_same is None else {"Fixed, same seed": fixed_same}
        )

    rows = pd.DataFrame(
        [
            row(a, "undefended", s, 0.0, fixed_same=10.0 + s)
            for a in ("MLP", "LeNet")
            for s in (0, 1)
        ]
        + [
            row(a, "Normal (30 epochs)", s, 20.0 + s)
            for a in ("MLP", "LeNet")
            for s in (0, 1)
        ]
        + [row("LeNet", "LWA (30 epochs)", s, 90.0 + 2 * s) for s in (0, 1)]
    )
    assert report.quoted(rows, 30, [0, 1]) == {
        "mlp_normal_fixed_same": 10.5,
        "mlp_normal_loss_longer": 20.5,
        "lenet_normal_fixed_same": 10.5,
        "lenet_normal_loss_longer": 20.5,
        "lenet_lwa_loss_longer": 91.0,
    }


def test_the_rep_sweep_table_has_a_row_a_c():
    rows = pd.DataFrame(
        [
            {
                "arch": "MLP",
                "row": "LWA_Rep sweep",
                "seed": 0,
                **{c: 50.0 + i for c in COLUMNS},
            }
            for i in range(2)
        ]
        + [{"arch": "MLP", "row": "LWA", "seed": 0, **{c: 0.0 for c in COLUMNS}}]
    )
    table = report.rep_sweep([0.5, 2.0], rows, [3.0, 4.0], 10.0)
    assert list(table.index) == ["LWA_Rep (c = 0.5)", "LWA_Rep (c = 2)"]
    assert table["c / ‖h‖ of Normal"].tolist() == [0.05, 0.2]
    assert table[COLUMNS[0]].tolist() == [50.0, 51.0]


def test_the_trend_record_keys_each_row_by_network_and_row():
    f = pd.DataFrame([{"arch": "MLP", "row": "LWA", "seed": 0, "clean": 98.0}])
    assert report.trend_record({6: f}) == {
        6: [{"seed": 0, "clean": 98.0, "key": "MLP/LWA"}]
    }

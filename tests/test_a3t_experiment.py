"""A3T's experiment: every method under the paper's FGSM and the readings beside it on
the same seeds, and its claims scored once, with a reading as the cause where one
lands within tolerance."""

import pandas as pd

from papers.a3t import report
from papers.a3t.config import PROFILES
from papers.a3t.experiment import SETUP, row_specs


def test_every_method_trains_under_the_setup_and_the_readings_on_the_same_seeds():
    train_cfg, eval_cfg = PROFILES["book"]
    specs = row_specs(train_cfg, eval_cfg, [0, 1, 2])
    assert {m for m, r in specs if r == SETUP} == {"undefended", "AT", "A2T", "A3T"}
    assert ("undefended", "caption") not in specs  # simple training is one model
    assert specs["A3T", "unclipped"]["clip"] is False
    assert specs["A3T", "normalised features"]["normalize_features"] is True
    assert all(spec["seeds"] == [0, 1, 2] for spec in specs.values())


def rows(fgsm):
    """Table 1 rows of one seed: {(method, reading): FGSM accuracy}."""
    return pd.DataFrame(
        [
            {
                "method": m,
                "reading": r,
                "seed": 0,
                "real": 98.0,
                "FGSM": v,
                "FGSM unclipped": v,
                "FGSM transferred": v,
            }
            for (m, r), v in fgsm.items()
        ]
    )


SPEC = {
    "id": "fgsm_a3t",
    "description": "A3T under FGSM",
    "kind": "attack",
    "reported": 96.1,
    "model": "A3T",
}


def test_a_miss_that_a_training_reading_closes_is_put_down_to_it():
    table = rows({("A3T", SETUP): 80.0, ("A3T", "caption"): 95.5})
    history = {("A3T", 0): {"test_real": [0.9, 0.9], "test_fgsm": [0.8, 0.8]}}
    record = report.scored(
        SPEC, table, [0], 10_000, readings=["caption"], histories=history
    )
    assert record["verdict"] == "not reproduced" and record["cause"] == "reading"
    assert record["evidence"]["reading"] == "caption"


def test_an_ordering_is_scored_under_a_reading_with_its_methods_swapped_in():
    table = rows(
        {
            ("AT", SETUP): 90.0,
            ("A2T", SETUP): 80.0,
            ("A3T", SETUP): 85.0,
            ("AT", "caption"): 90.0,
            ("A2T", "caption"): 89.0,
            ("A3T", "caption"): 95.0,
        }
    )
    swapped = report.swapped(table, "caption")
    assert report.values(swapped, "A3T", SETUP, "FGSM", [0])[0] == 95.0
    ((margin, _),) = report.margins("a3t_beats_at", swapped, [0], 10_000)
    assert margin == 5.0


def common(a3t, at, n=500):
    return {
        "n": n,
        "threat_models": {"Linf": 0.1},
        "defenses": {"A3T": {"Linf": a3t}, "AT": {"Linf": at}},
    }


def test_the_autoattack_sentence_decides_a3t_against_at_beyond_the_noise():
    within = report.autoattack_verdict(common(30.0, 33.2))
    assert "not measurably more robust" in within and "5.9 points" in within
    assert "does not hold" in report.autoattack_verdict(common(30.0, 40.0))
    assert "as the paper claims" in report.autoattack_verdict(common(40.0, 30.0))
    assert "not measurably" in report.autoattack_verdict(common(40.0, 30.0, n=20))


def test_the_radius_sentence_puts_the_training_radius_beside_table_1s():
    table = pd.DataFrame(
        [
            {"method": m, "reading": r, "seed": 0, "FGSM": fgsm}
            for m, r, fgsm in [
                ("AT", SETUP, 85.0),
                ("AT", "caption", 92.0),
                ("A3T", SETUP, 64.0),
                ("A3T", "caption", 91.0),
            ]
        ]
    )
    histories = {("AT", 0): {"val_acc_adv": [0.5, 0.88]}}
    histories[("A3T", 0)] = {"val_acc_adv": [0.4, 0.84]}
    text = report.radius_text(table, histories, [0], 0.25, 0.1)
    assert "better than at Table 1's" in text and "does not" not in text
    assert "AT keeps 88.0 %" in text and "85.0 % of the test images at ε = 0.1" in text
    assert "91.0 % when trained at 0.1" in text
    histories[("A3T", 0)] = {"val_acc_adv": [0.4, 0.60]}
    assert "does not resist" in report.radius_text(table, histories, [0], 0.25, 0.1)

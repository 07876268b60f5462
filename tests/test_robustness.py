"""The book's common evaluation of one defense (lib.robustness): every attack on the
same points, bounded by the clean accuracy, and the masking checks drawn from them."""

import pytest
import torch

from lib.data import load_mnist
from lib.models import mlp
from lib.robustness import common_record, evaluate, flagged

QUICK = dict(
    steps=2, more_steps=3, more_restarts=2, square_queries=20, version="torchattacks-10"
)


@pytest.fixture(scope="module")
def record():
    x, y = load_mnist("test")
    torch.manual_seed(0)
    model = mlp([784, 32, 10]).eval()
    with torch.no_grad():  # label the points by the model: clean accuracy 100 %
        y = model(x[:30]).argmax(1)
    return evaluate(model, x[:30], y, **QUICK)


def test_every_attack_runs_on_the_same_points_and_never_beats_clean(record):
    assert record["n"] == 30 and record["clean"] == pytest.approx(100.0)
    assert record["autoattack"]["name"] == "torchattacks-10"
    for norm, row in record["attacks"].items():
        accuracies = [
            row[k] for k in ("fgsm", "pgd", "pgd_more", "autoattack", "square")
        ]
        accuracies += list(row["sweep"].values())
        assert all(0 <= a <= record["clean"] for a in accuracies), (norm, row)
        assert set(record["masking"][norm]) >= {
            "iterative_weaker_than_one_step",
            "black_box_beats_white_box",
            "no_fall_with_eps",
        }
    assert sorted(record["attacks"]["Linf"]["sweep"]) == [0.2, 0.3, 0.5]


def synthetic(masking):
    return {
        "n": 500,
        "clean": 99.0,
        "autoattack": {"name": "published"},
        "attacks": {"Linf": {"autoattack": 40.0}, "L2": {"autoattack": 60.0}},
        "masking": masking,
    }


def test_a_check_flagged_at_either_norm_is_flagged_with_its_norm():
    record = synthetic(
        {
            "Linf": {"a": {"flag": False, "why": ""}, "b": {"flag": None, "why": "x"}},
            "L2": {"a": {"flag": True, "why": "PGD above FGSM"}, "b": {"flag": None}},
        }
    )
    flags = flagged(record)
    assert flags["a"] == {"flag": True, "why": "L2: PGD above FGSM"}
    assert flags["b"]["flag"] is None


def test_the_common_record_is_what_the_leaderboard_reads():
    masking = {"Linf": {"a": {"flag": False, "why": ""}}}
    common = common_record({"one": synthetic(masking), "two": synthetic(masking)})
    assert common["n"] == 500 and common["version"]["name"] == "published"
    assert common["threat_models"] == {"Linf": 0.1, "L2": 1.5}
    assert common["defenses"]["one"]["Linf"] == 40.0
    assert common["defenses"]["two"]["masking"]["a"]["flag"] is False
    other = synthetic(masking) | {"n": 100}
    with pytest.raises(ValueError, match="same points"):
        common_record({"one": synthetic(masking), "two": other})

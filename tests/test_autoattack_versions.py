"""Two AutoAttack versions side by side (lib.autoattack_versions): the same version
reached through the common evaluation and through lib.robustness gives the same
numbers (so a difference on a page is the attack's alone), the record and table hold
each version's accuracy and their difference, and bad input names what is allowed."""

import pytest
import torch

from lib.autoattack import common_evaluation
from lib.autoattack_versions import (
    beside,
    differences,
    summary,
    versions_record,
    versions_table,
)
from lib.data import load_mnist
from lib.models import mlp
from lib.robustness import common_record, evaluate_at


def test_one_version_gives_the_same_numbers_through_either_path():
    x, y = load_mnist("test")
    x, y = x[:20], y[:20]
    torch.manual_seed(0)
    model = mlp([784, 32, 10]).eval()
    with torch.no_grad():  # the model right on every point: the attack has work
        y = model(x).argmax(1)
    beyond = common_record({"mlp": evaluate_at("smoke", model, x, y)})
    direct = common_evaluation({"mlp": model}, x, y, version="smoke")
    for norm in ("clean", "Linf", "L2"):
        assert direct["defenses"]["mlp"][norm] == beyond["defenses"]["mlp"][norm]


ROWS = {
    "published": {
        "a": {"clean": 99.0, "Linf": 80.0, "L2": 60.0, "masking": {}},
        "b": {"clean": 98.0, "Linf": 10.0, "L2": 5.0, "masking": {}},
    },
    "torchattacks-10": {
        # the same images as published, up to float error: not "above"
        "a": {"clean": 99.0, "Linf": 81.0, "L2": 60.0 + 1e-12},
        "b": {"clean": 98.0, "Linf": 10.0, "L2": 4.8},
    },
}


def test_the_record_holds_each_version_and_the_table_their_difference():
    record = versions_record(ROWS, n=500, seed=0)
    assert list(record["versions"]) == ["published", "torchattacks-10"]
    assert record["versions"]["published"]["iterations"] == 100
    assert record["versions"]["torchattacks-10"]["iterations"] == 10
    assert record["defenses"]["a"]["Linf"] == {
        "published": 80.0,
        "torchattacks-10": 81.0,
    }
    gaps = differences(record)
    assert gaps["Linf"] == {"a": 1.0, "b": 0.0}
    assert gaps["L2"]["b"] == pytest.approx(-0.2)
    table = versions_table(record)
    assert table.loc["a", "Linf 0.1 difference"] == 1.0
    assert table.loc["b", "L2 1.5 torchattacks-10"] == 4.8
    text = summary(record)
    assert text.startswith(
        "At L∞ ε = 0.1, torchattacks-10 is above published on 1 of 2 defenses"
    )
    assert "; at L2 ε = 1.5, torchattacks-10 is above published on 0 of 2" in text
    assert "one image is 0.2 points" in text


@pytest.mark.parametrize(
    "rows, message",
    [
        ({"published": ROWS["published"]}, "two versions"),
        (
            {"published": ROWS["published"], "fast": ROWS["published"]},
            "versions must be among",
        ),
        (
            {
                "published": ROWS["published"],
                "torchattacks-10": {"a": ROWS["published"]["a"]},
            },
            "same defenses",
        ),
    ],
)
def test_bad_rows_name_what_is_allowed(rows, message):
    with pytest.raises(ValueError, match=message):
        versions_record(rows, n=500, seed=0)


def test_beside_takes_the_common_records_version_points_and_seed():
    common = {
        "n": 500,
        "seed": 0,
        "version": {"name": "published"},
        "defenses": ROWS["published"],
    }
    record = beside(common, "torchattacks-10", ROWS["torchattacks-10"])
    assert record == versions_record(ROWS, n=500, seed=0)

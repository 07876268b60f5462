"""The gradient-masking checks on synthetic accuracies: each flag fires where its
pattern is there, stays down where it is not, and is None where its inputs are not."""

import pytest

from lib.masking import masking_flags

# A defense whose numbers look honest: each stronger attack scores lower.
HONEST = {
    "clean": 98.0,
    "fgsm": 80.0,
    "pgd": 75.0,
    "pgd_more": 74.5,
    "autoattack": 73.0,
    "square": 85.0,
    "eps_sweep": {0.1: 75.0, 0.3: 20.0, 0.5: 1.0},
}


@pytest.mark.parametrize(
    "flag, change",
    [
        ("iterative_weaker_than_one_step", {"pgd": 85.0}),
        (
            "one_step_far_weaker",  # A3T's AT at ε_train 0.25
            {"fgsm": 81.0, "pgd": 37.0, "pgd_more": 36.5, "autoattack": 31.0},
        ),
        ("more_steps_help_the_model", {"pgd_more": 80.0}),
        ("autoattack_above_pgd", {"autoattack": 79.0}),
        ("black_box_beats_white_box", {"square": 60.0}),
        ("no_fall_with_eps", {"eps_sweep": {0.1: 75.0, 0.5: 40.0}}),
    ],
)
def test_each_flag_fires_on_its_pattern_and_only_there(flag, change):
    honest = masking_flags(**HONEST)
    assert all(check["flag"] is False for check in honest.values()), honest
    flags = masking_flags(**{**HONEST, **change})
    assert flags[flag]["flag"] is True and flags[flag]["why"]
    others = [name for name, check in flags.items() if check["flag"] and name != flag]
    assert others == [], others


def test_a_gap_within_the_noise_of_the_test_points_is_not_a_flag():
    # 2 points on 100 test points is noise; on 10,000 it is not.
    small = {"clean": 98.0, "fgsm": 70.0, "pgd": 72.0}
    assert (
        masking_flags(**small, n=100)["iterative_weaker_than_one_step"]["flag"] is False
    )
    assert masking_flags(**small, n=10_000)["iterative_weaker_than_one_step"]["flag"]


def test_a_check_without_its_accuracies_is_none():
    flags = masking_flags(clean=98.0, pgd=70.0)
    assert flags["autoattack_above_pgd"] == {"flag": None, "why": "not measured"}
    assert flags["no_fall_with_eps"]["flag"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"clean": 98.0, "pgd": 120.0}, "accuracies must lie in"),
        ({"clean": 0.98, "eps_sweep": {0.1: -1.0}}, "accuracies must lie in"),
        ({"clean": 98.0, "n": 0}, "n must be"),
    ],
)
def test_bad_input_names_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        masking_flags(**kwargs)

"""The parameter checks every notebook shares: bad values name what is allowed, good
ones reach the right fields, and a parameter never names a field that is not there."""

from dataclasses import dataclass

import pytest

from lib.profiles import Param, check_count, resolve_profile


@dataclass(frozen=True)
class Train:
    epochs: int = 50
    gan_epochs: int = 20


@dataclass(frozen=True)
class Eval:
    seeds: int = 5
    n_eval: int = 10_000
    n_eval_pgd: int = 1_000


PROFILES = {
    "paper": (Train(), Eval()),
    "smoke": (Train(epochs=1, gan_epochs=1), Eval(seeds=1, n_eval=100)),
}


def resolve(profile="paper", seeds=None, epochs=None, n_eval=None):
    return resolve_profile(
        PROFILES,
        profile,
        seeds=Param(seeds, sets=("seeds",)),
        epochs=Param(epochs, sets=("epochs", "gan_epochs")),
        n_eval=Param(n_eval, sets=("n_eval",), caps=("n_eval_pgd",), maximum=10_000),
    )


def test_no_parameters_give_the_profile_unchanged():
    assert resolve() == PROFILES["paper"]
    assert resolve("smoke") == PROFILES["smoke"]


def test_a_parameter_sets_its_fields_and_caps_the_others():
    train, eval_ = resolve(seeds=2, epochs=3, n_eval=500)
    assert train == Train(epochs=3, gan_epochs=3)
    assert eval_ == Eval(seeds=2, n_eval=500, n_eval_pgd=500)
    assert resolve(n_eval=5_000)[1].n_eval_pgd == 1_000  # a cap never raises a field


def test_a_single_config_profile_comes_back_single():
    assert resolve_profile(
        {"book": Eval()}, "book", seeds=Param(3, sets=("seeds",))
    ) == Eval(seeds=3)


@pytest.mark.parametrize("value", [0, -1, 2.0, "3", True, False])
def test_bad_counts_name_the_parameter_and_what_is_allowed(value):
    with pytest.raises(
        ValueError, match=r"epochs must be None or an integer >= 1, got"
    ):
        resolve(epochs=value)


def test_bad_profile_and_too_large_values_raise():
    with pytest.raises(
        ValueError, match=r"profile must be one of \['paper', 'smoke'\], got 'fast'"
    ):
        resolve("fast")
    with pytest.raises(ValueError, match="n_eval must be at most 10000, got 10001"):
        resolve(n_eval=10_001)
    check_count("n_eval", 10_000, maximum=10_000)  # the maximum itself is allowed


def test_a_parameter_naming_a_missing_field_is_an_error_even_unset():
    with pytest.raises(ValueError, match="names the field 'epochs_mlp', found in 0"):
        resolve_profile(PROFILES, "paper", epochs=Param(None, sets=("epochs_mlp",)))

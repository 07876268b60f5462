"""The common evaluation on toy models (seconds): robust accuracy never above clean, a
model that ignores its input keeps its accuracy, adversarial examples stay in the threat
model and in [0, 1], the model (mode, parameters) and the caller's random state are left
as they were, the record has the documented structure and names the version that ran,
the authors' code and torchattacks at the published parameters both find a linear
model's exact robust accuracy, bad input raises."""

import pytest
import torch
from torch import nn

from lib.autoattack import (
    LEGACY_VERSION,
    THREAT_MODELS,
    adversarial_examples,
    cached_evaluation,
    common_evaluation,
)


class Constant(nn.Module):
    """Always predicts class 9, whatever the image (the input enters only multiplied by
    0, so attacks can run)."""

    def __init__(self):
        super().__init__()
        self.logits = nn.Parameter(torch.arange(10.0))

    def forward(self, x):
        return self.logits + 0 * x.flatten(1).sum(1, keepdim=True)


def toy_mlp():
    torch.manual_seed(0)
    # Dropout makes train and eval mode differ, so an attack in train mode would show.
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10)
    )


@pytest.fixture(scope="module")
def data():
    """16 uniform images labelled with the MLP's own predictions (so it is right there),
    class 9 on the first 4."""
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(16, 1, 28, 28, generator=generator)
    with torch.no_grad():
        y = toy_mlp().eval()(x).argmax(1)
    y[:4] = 9
    return x, y


@pytest.fixture(scope="module")
def record(data):
    x, y = data
    return common_evaluation(
        {"mlp": toy_mlp().train(), "constant": Constant()}, x, y, n=12, seed=0
    )


def test_the_record_has_the_documented_structure(record):
    assert record["n"] == 12 and record["seed"] == 0
    assert record["version"] == {
        "name": "published",
        "code": "pyautoattack 0.2.0",
        "iterations": 100,
        "queries": 5000,
        "n": 12,
    }
    assert "100 iterations, Square at 5,000 queries" in record["attack"]
    assert record["threat_models"] == THREAT_MODELS == {"Linf": 0.1, "L2": 1.5}
    assert list(record["defenses"]) == ["mlp", "constant"]
    for row in record["defenses"].values():
        assert set(row) == {"clean", "Linf", "L2"}
        assert all(0 <= value <= 100 for value in row.values())


def test_robust_accuracy_is_at_most_clean_and_the_attack_bites(record):
    mlp = record["defenses"]["mlp"]
    assert mlp["Linf"] <= mlp["clean"] and mlp["L2"] <= mlp["clean"]
    # An untrained MLP is not robust at L∞ 0.1
    assert mlp["clean"] > 50 and mlp["Linf"] < mlp["clean"]


def test_a_model_that_ignores_its_input_keeps_its_clean_accuracy(record, data):
    constant = record["defenses"]["constant"]
    assert constant["clean"] == pytest.approx(
        100 * (data[1][:12] == 9).float().mean().item()
    )
    assert constant["Linf"] == constant["L2"] == constant["clean"]


@pytest.mark.parametrize("norm", ["Linf", "L2"])
def test_adversarial_examples_stay_in_the_ball_and_the_box(data, norm):
    x, y = data
    model = toy_mlp().train()
    state = torch.random.get_rng_state()
    x_adv = adversarial_examples(
        model, x[4:12], y[4:12], norm, THREAT_MODELS[norm], seed=0, batch_size=5
    )
    assert torch.equal(torch.random.get_rng_state(), state), (
        "the caller's random state changed"
    )
    assert model.training, "the model's mode was not restored"
    assert all(p.requires_grad and p.grad is None for p in model.parameters()), (
        "the parameters changed"
    )
    assert x_adv.shape == x[4:12].shape and x_adv.min() >= 0 and x_adv.max() <= 1
    delta = (x_adv - x[4:12]).flatten(1)
    size = delta.abs().amax(1) if norm == "Linf" else delta.norm(dim=1)
    assert (size <= THREAT_MODELS[norm] + 1e-5).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threat_models": {"L1": 0.1}}, "norm must be one of ['L2', 'Linf']"),
        ({"threat_models": {"Linf": 0.0}}, "eps must be > 0"),
        ({"threat_models": {"L2": -1.5}}, "eps must be > 0"),
        ({"n": 0}, "n must be between 1 and 16"),
        ({"n": 17}, "n must be between 1 and 16"),
        ({"version": "standard"}, "version must be one of"),
    ],
)
def test_bad_input_names_what_is_allowed(data, kwargs, message):
    x, y = data
    with pytest.raises(
        ValueError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        common_evaluation({"constant": Constant()}, x, y, **kwargs)


def test_bad_data_or_models_raise(data):
    x, y = data
    with pytest.raises(ValueError, match="models must name"):
        common_evaluation({}, x, y)
    with pytest.raises(ValueError, match="same length"):
        common_evaluation({"constant": Constant()}, x, y[:-1])
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\]"):
        common_evaluation({"constant": Constant()}, 255 * x, y)
    with pytest.raises(ValueError, match="norm must be one of"):
        adversarial_examples(Constant(), x, y, "linf", 0.1)


def test_the_cached_evaluation_is_keyed_by_the_weights(data, tmp_path):
    x, y = data
    model = toy_mlp()
    first = cached_evaluation("toy", {"mlp": model}, x, y, n=8, root=tmp_path / "cache")
    assert first == common_evaluation({"mlp": model}, x, y, n=8, version=LEGACY_VERSION)
    assert first["attack"].startswith("AutoAttack standard (torchattacks")
    assert len(list((tmp_path / "cache" / "toy").glob("*.pt"))) == 1
    assert (
        cached_evaluation("toy", {"mlp": model}, x, y, n=8, root=tmp_path / "cache")
        == first
    )  # loaded, not a second entry
    assert len(list((tmp_path / "cache" / "toy").glob("*.pt"))) == 1
    with torch.no_grad():
        model[1].weight.mul_(-1)  # other weights: another entry, evaluated again
    cached_evaluation("toy", {"mlp": model}, x, y, n=8, root=tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "toy").glob("*.pt"))) == 2


def linear_case():
    """A linear model on images near 0.5 (the box never binds) and, per norm, a radius
    between two points' exact distances to the boundary: min over classes j of
    (f_y - f_j) / ||w_y - w_j|| in the dual norm."""
    generator = torch.Generator().manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.copy_(torch.randn(10, 784, generator=generator))
    x = 0.5 + 0.05 * (2 * torch.rand(24, 1, 28, 28, generator=generator) - 1)
    with torch.no_grad():
        logits = model(x)
    y = logits.argmax(1)
    w = model[1].weight.detach()
    eps, robust = {}, {}
    for norm, dual in (("Linf", 1), ("L2", 2)):
        gaps = logits.gather(1, y[:, None]) - logits  # f_y - f_j, 0 at j = y
        sizes = (w[y][:, None, :] - w[None]).norm(p=dual, dim=2)
        distance = (gaps / sizes.clamp_min(1e-12)).masked_fill(gaps == 0, 1e9)
        d = distance.amin(1).sort().values
        i = int(torch.argmax(d[7:17] / d[6:16])) + 6  # the widest gap mid-range
        eps[norm] = float((d[i] * d[i + 1]).sqrt())
        robust[norm] = 100 * (len(d) - 1 - i) / len(d)
    return model, x, y, eps, robust


@pytest.mark.parametrize("version", ["published", "torchattacks-100"])
def test_both_published_versions_find_a_linear_models_exact_robust_accuracy(version):
    model, x, y, eps, robust = linear_case()
    record = common_evaluation(
        {"linear": model}, x, y, threat_models=eps, version=version
    )
    assert record["defenses"]["linear"] == {"clean": 100.0, **robust}
    assert 0 < robust["Linf"] < 100 and 0 < robust["L2"] < 100

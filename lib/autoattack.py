"""The book's common evaluation: every defense of every paper under the same AutoAttack
on the same test points.

AutoAttack (Croce & Hein 2020), version "standard" as torchattacks ships it: APGD-CE,
APGD-T, FAB-T and Square, each run on the points the earlier ones left correct. It has
no step size or step count to tune, so a defense is not judged by an attack its authors
chose. torchattacks runs APGD and FAB for 10 iterations where the original runs 100: an
upper bound on robust accuracy, like every attack, but the same one for every defense.
"""

from contextlib import contextmanager

import torch
import torchattacks

from lib import DATA
from lib.cache import cached
from lib.metrics import attacked, predictions

# The book's two common threat models (norm: radius, pixels in [0, 1]). L∞ 0.1: the FGSM
# radius of GAN adversarial training (λ) and of A3T's Table 1, AT's in the adversary
# critic; L2 1.5: Learning with Adversary's c, and the L2 radius of the adversary critic
# page's "beyond the paper".
THREAT_MODELS = {"Linf": 0.1, "L2": 1.5}
BATCH_SIZE = 1000  # points per AutoAttack call (each reseeds): the numbers depend on it


def _check_threat_models(threat_models):
    for norm, eps in threat_models.items():
        if norm not in THREAT_MODELS:
            raise ValueError(
                f"norm must be one of {sorted(THREAT_MODELS)}, got {norm!r}"
            )
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r} for {norm}")


@contextmanager
def _frozen(model):
    """The model in eval mode (batch-norm statistics fixed, no dropout) and its
    parameters without gradients (FAB backpropagates into them otherwise), then
    as it was."""
    was_training = model.training
    requires_grad = [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)
    try:
        yield model
    finally:
        model.train(was_training)
        for p, flag in zip(model.parameters(), requires_grad, strict=True):
            p.requires_grad_(flag)


def adversarial_examples(model, x, y, norm, eps, *, seed=0, batch_size=BATCH_SIZE):
    """AutoAttack's (standard) adversarial examples of x, batch by batch, with the model
    in eval mode.

    A point no part of the attack turns wrong comes back unchanged. The
    caller's random state is left as it was (torchattacks reseeds the global
    generator on every call)."""
    _check_threat_models({norm: eps})
    device = next(model.parameters()).device
    attack = torchattacks.AutoAttack(
        model, norm=norm, eps=eps, version="standard", n_classes=10, seed=seed
    )
    with (
        _frozen(model),
        torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
    ):
        return attacked(
            lambda _, xb, yb: attack(xb, yb).detach(),
            model,
            x.to(device),
            y.to(device),
            batch_size,
        )


@torch.no_grad()
def _correct(model, x, y, batch_size):
    """Whether the model, in eval mode, classifies each point of x as y."""
    device = next(model.parameters()).device
    with _frozen(model):
        return predictions(model, x.to(device), batch_size) == y.to(device)


def common_evaluation(
    models, x, y, *, n=None, seed=0, threat_models=THREAT_MODELS, batch_size=BATCH_SIZE
):
    """Clean and robust accuracy (%) of each named model on the first n points of
    (x, y), under AutoAttack at each threat model. A point counts as robust when the
    model is right on it and on its adversarial example.

    Returns the record a paper notebook stores as metrics["autoattack"]:
    {"n": n, "seed": seed, "attack": "AutoAttack standard (torchattacks <version>)",
     "threat_models": {norm: eps},
     "defenses": {name: {"clean": %, "Linf": %, "L2": %}}}.
    Models map images in [0, 1] to logits."""
    if not models:
        raise ValueError("models must name at least one model")
    if len(x) != len(y):
        raise ValueError(
            f"x and y must have the same length, got {len(x)} and {len(y)}"
        )
    n = len(x) if n is None else n
    if not 1 <= n <= len(x):
        raise ValueError(
            f"n must be between 1 and {len(x)} (the points given), got {n}"
        )
    _check_threat_models(threat_models)
    x, y = x[:n], y[:n]
    if x.min() < 0 or x.max() > 1:
        raise ValueError(
            "x must lie in [0, 1]: the threat models' radii are in pixel units"
        )
    defenses = {}
    for name, model in models.items():
        correct = _correct(model, x, y, batch_size)
        defenses[name] = {"clean": 100 * correct.sum().item() / n}
        for norm, eps in threat_models.items():
            x_adv = adversarial_examples(
                model, x, y, norm, eps, seed=seed, batch_size=batch_size
            )
            defenses[name][norm] = (
                100 * (correct & _correct(model, x_adv, y, batch_size)).sum().item() / n
            )
    return {
        "n": n,
        "seed": seed,
        "attack": f"AutoAttack standard (torchattacks {torchattacks.__version__})",
        "threat_models": dict(threat_models),
        "defenses": defenses,
    }


def cached_evaluation(slug, models, x, y, *, n, seed=0, root=DATA / "cache"):
    """common_evaluation(models, x, y, n=n, seed=seed), computed once per set of weights
    and test points: the cache key holds every parameter and buffer of every model, so
    retrained models are evaluated again."""
    weights = {
        name: list(model.state_dict().values()) for name, model in models.items()
    }
    spec = {
        "autoattack": list(models),
        "n": n,
        "seed": seed,
        "threat_models": THREAT_MODELS,
    }
    return cached(
        slug,
        spec,
        lambda: common_evaluation(models, x, y, n=n, seed=seed),
        root,
        code=(weights,),
    )

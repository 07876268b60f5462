"""The book's common evaluation: every defense of every paper under the same AutoAttack
on the same test points.

AutoAttack (Croce & Hein 2020) as published: APGD-CE, APGD-T (9 target classes), FAB-T
(9 targets) at 100 iterations, Square at 5,000 queries, each run on the points the
earlier ones left correct. It has no step size or step count to tune, so a defense is
not judged by an attack its authors chose. Three versions run here, by name:
"published", the authors' code (pyautoattack 0.2.0, the same attacks as
fra31/auto-attack); "torchattacks-100", torchattacks set to the same parameters, its
cross-check; "torchattacks-10", torchattacks' "standard", which runs APGD, APGD-T and
FAB-T for 10 iterations, what the executed pages ran.
"""

import logging
from contextlib import contextmanager

import pyautoattack
import torch
import torchattacks
from torchattacks import APGD, APGDT, FAB, MultiAttack, Square

from lib import DATA
from lib.cache import cached
from lib.metrics import attacked, predictions

# The book's two common threat models (norm: radius, pixels in [0, 1]). L∞ 0.1: the FGSM
# radius of GAN adversarial training (λ) and of A3T's Table 1, AT's in the adversary
# critic; L2 1.5: Learning with Adversary's c, and the L2 radius of the adversary critic
# page's "beyond the paper".
THREAT_MODELS = {"Linf": 0.1, "L2": 1.5}
BATCH_SIZE = 1000  # points per AutoAttack call (each reseeds): the numbers depend on it
_TA = f"torchattacks {torchattacks.__version__}"
VERSIONS = {  # name: the code that runs, its iterations (APGD, FAB), Square's queries
    "published": {"code": "pyautoattack 0.2.0", "iterations": 100, "queries": 5000},
    "torchattacks-100": {"code": _TA, "iterations": 100, "queries": 5000},
    "torchattacks-10": {"code": _TA, "iterations": 10, "queries": 5000},
    # The smoke profile's, for the tests' minute: every part a token effort; never a
    # result a page reports
    "smoke": {"code": _TA, "iterations": 2, "queries": 50},
}
# The book profile's test points on every page, the first of the MNIST test set: one
# n, so the leaderboard ranks every defense on the same points.
N_COMMON = 500
BOOK_VERSION = "published"  # the leaderboard's and every page's "beyond the paper"
LEGACY_VERSION = "torchattacks-10"  # what the executed pages ran until their rewrite


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


def _check_version(version):
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {sorted(VERSIONS)}, got {version!r}")


def _published(model, norm, eps, seed, device):
    """The authors' AutoAttack, version "standard": (x, y) -> x_adv."""
    attack = pyautoattack.AutoAttack(
        model, norm=norm, eps=eps, seed=seed, version="standard", device=device
    )
    return lambda x, y: attack.run_standard_evaluation(x, y, batch_size=len(x))[0]


def _effort(version):
    return {k: VERSIONS[version][k] for k in ("iterations", "queries")}


def _torchattacks(model, norm, eps, seed, iterations, queries):
    """torchattacks' four attacks set to the published parameters (APGD-T and FAB-T
    target the 9 other classes), at the given iterations and Square queries: (x, y)
    -> x_adv."""
    if iterations == 10:  # torchattacks' own "standard", as the executed pages ran it
        return torchattacks.AutoAttack(
            model, norm=norm, eps=eps, version="standard", n_classes=10, seed=seed
        )
    common = {"norm": norm, "eps": eps, "seed": seed, "n_restarts": 1}
    return MultiAttack(
        [
            APGD(model, steps=iterations, loss="ce", **common),
            APGDT(model, steps=iterations, n_classes=10, **common),
            FAB(model, steps=iterations, multi_targeted=True, n_classes=10, **common),
            # The published Square keeps p's schedule at 5,000 queries (no rescaling)
            Square(model, n_queries=queries, p_init=0.8, resc_schedule=False, **common),
        ]
    )


@contextmanager
def _quiet():
    """The authors' code logs its sanity checks as warnings: the masking flags of
    lib/masking.py say it on the page instead of on stderr."""
    logger = logging.getLogger("auto-attack")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def adversarial_examples(
    model, x, y, norm, eps, *, seed=0, batch_size=BATCH_SIZE, version=BOOK_VERSION
):
    """AutoAttack's adversarial examples of x at the named version, batch by batch,
    with the model in eval mode.

    A point no part of the attack turns wrong comes back unchanged. The
    caller's random state is left as it was (both codes reseed the global
    generator on every call)."""
    _check_threat_models({norm: eps})
    _check_version(version)
    device = next(model.parameters()).device
    if version == "published":
        attack = _published(model, norm, eps, seed, device)
    else:
        attack = _torchattacks(model, norm, eps, seed, **_effort(version))
    with (
        _frozen(model),
        _quiet(),
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


def describe(version, n):
    """What ran, for every table that shows it: {"name", "code", "iterations",
    "queries", "n"}, and the sentence of the record's "attack"."""
    _check_version(version)
    spec = {"name": version, **VERSIONS[version], "n": n}
    if version == LEGACY_VERSION:  # the executed pages' captions, word for word
        return spec, f"AutoAttack standard ({spec['code']})"
    return spec, (
        f"AutoAttack {version} ({spec['code']}: APGD-CE, APGD-T, FAB-T at "
        f"{spec['iterations']} iterations, Square at {spec['queries']:,} queries)"
    )


def _check_data(models, x, y, n):
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
    if x[:n].min() < 0 or x[:n].max() > 1:
        raise ValueError(
            "x must lie in [0, 1]: the threat models' radii are in pixel units"
        )
    return n


def common_evaluation(
    models,
    x,
    y,
    *,
    n=None,
    seed=0,
    threat_models=THREAT_MODELS,
    batch_size=BATCH_SIZE,
    version=BOOK_VERSION,
):
    """Clean and robust accuracy (%) of each named model on the first n points of
    (x, y), under AutoAttack (the named version) at each threat model. A point counts
    as robust when the model is right on it and on its adversarial example.

    Returns the record a paper notebook stores as metrics["autoattack"]:
    {"n": n, "seed": seed, "attack": what ran, in words, "version": describe(...),
     "threat_models": {norm: eps},
     "defenses": {name: {"clean": %, "Linf": %, "L2": %}}}.
    Models map images in [0, 1] to logits."""
    n = _check_data(models, x, y, n)
    _check_threat_models(threat_models)
    spec, words = describe(version, n)
    x, y = x[:n], y[:n]
    defenses = {}
    for name, model in models.items():
        correct = _correct(model, x, y, batch_size)
        defenses[name] = {"clean": 100 * correct.sum().item() / n}
        for norm, eps in threat_models.items():
            x_adv = adversarial_examples(
                model,
                x,
                y,
                norm,
                eps,
                seed=seed,
                batch_size=batch_size,
                version=version,
            )
            defenses[name][norm] = (
                100 * (correct & _correct(model, x_adv, y, batch_size)).sum().item() / n
            )
    return {
        "n": n,
        "seed": seed,
        "attack": words,
        "version": spec,
        "threat_models": dict(threat_models),
        "defenses": defenses,
    }


def cached_evaluation(
    slug, models, x, y, *, n, seed=0, root=DATA / "cache", version=LEGACY_VERSION
):
    """common_evaluation(models, x, y, n=n, seed=seed, version=version), computed once
    per set of weights, test points and version: the cache key holds every parameter
    and buffer of every model, so retrained models are evaluated again.

    The default stays the executed pages' (their goldens print its name); the pages'
    rewrite passes version=BOOK_VERSION."""
    _check_version(version)
    weights = {
        name: list(model.state_dict().values()) for name, model in models.items()
    }
    spec = {
        "autoattack": list(models),
        "n": n,
        "seed": seed,
        "threat_models": THREAT_MODELS,
    }
    if version != LEGACY_VERSION:  # the executed pages' entries keep their keys
        spec["version"] = version
    return cached(
        slug,
        spec,
        lambda: common_evaluation(models, x, y, n=n, seed=seed, version=version),
        root,
        code=(weights,),
    )

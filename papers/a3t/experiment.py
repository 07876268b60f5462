"""What the A3T page trains and evaluates, as job lists (lib.jobs): each method under
the paper's training FGSM (the setup's ε = 0.25, clipped), the readings' stacks on the
same seeds (the caption's ε = 0.1, the unclipped FGSM, normalised features, several D
steps), and each stack's evaluations. `python tools/run_jobs.py a3t` runs them all."""

import dataclasses

from lib import jobs
from lib.profiles import resolve_profile
from papers.a3t import evaluation
from papers.a3t.config import ADVERSARIAL, METHODS, PROFILES, SLUG
from papers.a3t.training import train_stack

# The readings of how the models train, beside the setup's (the paper's §4)
SETUP = "setup"


def readings(cfg):
    """{reading: (the methods it trains, train_stack's options)}."""
    return {
        SETUP: (list(METHODS), {"eps": cfg.eps_setup, "clip": True}),
        "caption": (ADVERSARIAL, {"eps": cfg.eps_caption, "clip": True}),
        "unclipped": (ADVERSARIAL, {"eps": cfg.eps_unclipped, "clip": False}),
        "normalised features": (
            ["A2T", "A3T"],
            {"eps": cfg.eps_setup, "clip": True, "normalize_features": True},
        ),
        f"{cfg.disc_steps_reading} D steps": (
            ["A2T", "A3T"],
            {
                "eps": cfg.eps_setup,
                "clip": True,
                "discriminator_steps": cfg.disc_steps_reading,
            },
        ),
    }


def row_specs(train_cfg, eval_cfg, seeds):
    """{(method, reading): train_stack's spec}."""
    train = {
        k: v
        for k, v in dataclasses.asdict(train_cfg).items()
        if not k.startswith("eps_")
    }
    train.pop("disc_steps_reading")
    specs = {}
    for reading, (methods, options) in readings(train_cfg).items():
        for method in methods:
            alpha, beta = METHODS[method]
            specs[method, reading] = {
                "method": method,
                "alpha": alpha,
                "beta": beta,
                "seeds": list(seeds),
                "train": train,
                "eps_test": eval_cfg.eps_test,
                **options,
            }
    return specs


def training_jobs(specs):
    return {key: jobs.Job(SLUG, train_stack, spec) for key, spec in specs.items()}


def evaluation_jobs(specs, eval_cfg):
    """{(kind, method, reading): Job}: every stack's Table 1, and the common evaluation
    of the setup's."""
    simple = specs["undefended", SETUP]
    out = {}
    for (method, reading), spec in specs.items():
        out["table1", method, reading] = evaluation.job(
            "table1", spec, simple, eval_cfg
        )
        if reading == SETUP:
            out["beyond", method, reading] = evaluation.job(
                "beyond", spec, simple, eval_cfg
            )
    return out


def run_all(profile, workers=None):
    """Every job of the page in one pool: the stacks, then their evaluations."""
    train_cfg, eval_cfg = resolve_profile(PROFILES, profile)
    specs = row_specs(train_cfg, eval_cfg, range(eval_cfg.seeds))
    every = [*training_jobs(specs).values(), *evaluation_jobs(specs, eval_cfg).values()]
    jobs.run(every, workers=workers)

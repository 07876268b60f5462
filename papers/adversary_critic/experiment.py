"""What the adversary critic's page trains and evaluates, as job lists (lib.jobs): the
ten models of each seed, each model's evaluations, a reading's models (the four
baselines initialised as their own code does, Glorot) and AutoAttack at 10 iterations
beside the published one. `python tools/run_jobs.py
adversary_critic` runs them all ahead of the page, which then loads them."""

import dataclasses
import sys

from lib import jobs
from lib.autoattack import LEGACY_VERSION
from lib.profiles import resolve_profile
from papers.adversary_critic import evaluation, iterations
from papers.adversary_critic.config import METHODS, NETS, PROFILES, SLUG
from papers.adversary_critic.training import train_model

# Ours first: the longest jobs start first, so the pool ends together.
ORDER = [(net, method) for method in reversed(METHODS) for net in reversed(NETS)]
BASELINES = [m for m in METHODS if m != "ours"]
GLOROT = "glorot"  # the reading: margin_maximization's Lasagne (Glorot) initialisation


def model_spec(net, method, seed, train_cfg):
    return {
        "net": net,
        "method": method,
        "seed": seed,
        "train": dataclasses.asdict(train_cfg),
    }


def training_jobs(train_cfg, seeds):
    """One job a model: every network, method and seed."""
    return {
        (net, method, seed): jobs.Job(
            SLUG, train_model, model_spec(net, method, seed, train_cfg)
        )
        for seed in seeds
        for net, method in ORDER
    }


def evaluation_jobs(train_cfg, eval_cfg, seeds):
    """Each model's evaluations (lib.jobs): {(kind, net, method, seed): Job}."""
    out = {}
    for (net, method, seed), job in training_jobs(train_cfg, seeds).items():
        for kind in evaluation.JOBS:
            out[kind, net, method, seed] = evaluation.job(kind, job.spec, eval_cfg)
    return out


def reading_jobs(train_cfg, eval_cfg, seeds):
    """The Glorot reading: the baselines trained as the main models but initialised as
    their own code, and Table 1 on them: {(kind, net, method, seed): Job}, kind
    "train" or "table1"."""
    glorot = dataclasses.replace(train_cfg, baseline_init=GLOROT)
    out = {}
    for seed in seeds:
        for net in NETS:
            for method in BASELINES:
                spec = model_spec(net, method, seed, glorot)
                out["train", net, method, seed] = jobs.Job(SLUG, train_model, spec)
                out["table1", net, method, seed] = evaluation.job(
                    "table1", spec, eval_cfg
                )
    return out


def iteration_jobs(train_cfg, eval_cfg, seeds):
    """AutoAttack at 10 iterations on every model, beside the common evaluation's
    published version: {(net, method, seed): Job}."""
    spec = {
        "n_autoattack": eval_cfg.n_autoattack,
        "version": LEGACY_VERSION,
    }
    return {
        key: jobs.Job(SLUG, iterations.autoattack_job, {"model": job.spec, **spec})
        for key, job in training_jobs(train_cfg, seeds).items()
    }


def run_all(profile, workers=None):
    """Every job of the page in one pool: the models, then their evaluations, those of
    the models that finish first first, so that a worker done with training evaluates
    while the longest training goes on."""
    train_cfg, eval_cfg = resolve_profile(PROFILES, profile)
    seeds = range(eval_cfg.seeds)
    cheapest_first = list(reversed(ORDER))
    evaluations = sorted(
        evaluation_jobs(train_cfg, eval_cfg, seeds).items(),
        key=lambda item: cheapest_first.index(item[0][1:3]),
    )
    every = [*training_jobs(train_cfg, seeds).values(), *(j for _, j in evaluations)]
    readings = reading_jobs(train_cfg, eval_cfg, seeds)
    # the reading's models before their evaluations: an evaluation taken up while its
    # model trains would hold a worker idle on the model's lock
    readings = sorted(readings.items(), key=lambda item: item[0][0] != "train")
    compared = iteration_jobs(train_cfg, eval_cfg, seeds).values()
    jobs.run([*every, *(job for _, job in readings), *compared], workers=workers)


if __name__ == "__main__":
    run_all(sys.argv[1] if len(sys.argv) > 1 else "book")

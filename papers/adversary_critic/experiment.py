"""What the adversary critic's page trains and evaluates, as job lists (lib.jobs): the
ten models of each seed, then each model's evaluations. `python -m
papers.adversary_critic.experiment <profile>` runs them all, in the background, before
the page is executed; the page then loads them from the cache."""

import dataclasses
import sys

from lib import jobs
from lib.profiles import resolve_profile
from papers.adversary_critic import evaluation
from papers.adversary_critic.config import METHODS, NETS, PROFILES, SLUG
from papers.adversary_critic.training import train_model

# Ours first: the longest jobs start first, so the pool ends together.
ORDER = [(net, method) for method in reversed(METHODS) for net in reversed(NETS)]


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


def run_all(profile, workers=None):
    train_cfg, eval_cfg = resolve_profile(PROFILES, profile)
    seeds = range(eval_cfg.seeds)
    jobs.run(training_jobs(train_cfg, seeds).values(), workers=workers)
    jobs.run(evaluation_jobs(train_cfg, eval_cfg, seeds).values(), workers=workers)


if __name__ == "__main__":
    run_all(sys.argv[1] if len(sys.argv) > 1 else "book")

"""What the GAN page trains and evaluates, as job lists (lib.jobs): the seven models of
Fig. 2 (three baselines, four GANs), the adversaries pre-trained against the vanilla
model, the readings' models on the same seeds, and each stack's evaluations. `python
tools/run_jobs.py gan_adversarial_training` runs them all ahead of the page."""

import dataclasses

from lib import jobs
from lib.profiles import resolve_profile
from papers.gan_adversarial_training import evaluation, train_mode
from papers.gan_adversarial_training.config import BASELINES, GANS, PROFILES, SLUG
from papers.gan_adversarial_training.training import (
    pretrain_adversary,
    train_baseline,
    train_gan,
)

EVAL_MODE = "GAN tanh, defender in eval mode for the adversary"  # readings' models
SEPARATE_BN = "GAN tanh, separate batch-norm passes"
MINMAX = "initialised GAN min-max"


def stacks(cfg, seeds):
    """{name: Job}: every stack of the page, each before the stacks that load it."""
    train = dataclasses.asdict(cfg)
    seeds = list(seeds)
    out = {
        name: jobs.Job(
            SLUG, train_baseline, {"name": name, "seeds": seeds, "train": train}
        )
        for name in BASELINES
    }
    vanilla = out["undefended"].spec
    for squash in ("tanh", "scaled", "min-max"):
        spec = {"squash": squash, "vanilla": vanilla, "train": train}
        out[f"pre-trained {squash} adversary"] = jobs.Job(
            SLUG, pretrain_adversary, spec
        )
    gans = {**GANS, MINMAX: ("min-max", True)}
    for name, (squash, initialised) in gans.items():
        spec = {"squash": squash, "seeds": seeds, "train": train}
        if initialised:
            spec["pretrained"] = out[f"pre-trained {squash} adversary"].spec
        out[name] = jobs.Job(SLUG, train_gan, spec)
    gan_tanh = out["GAN tanh"].spec
    out[EVAL_MODE] = jobs.Job(
        SLUG, train_gan, gan_tanh | {"defender_eval_for_adversary": True}
    )
    out[SEPARATE_BN] = jobs.Job(
        SLUG, train_gan, gan_tanh | {"separate_batch_norm": True}
    )
    return out


def evaluation_jobs(trainings, eval_cfg):
    """{(kind, name): Job}: each defender under FGSM (with calibration and its own
    adversary), each pre-trained adversary against vanilla, FGSM's readings on
    vanilla, every GAN adversary against every defender, the common evaluation, and
    every model with batch-norm in train mode at test (a reading)."""
    out = {}
    for name, job in trainings.items():
        if job.fn is pretrain_adversary:
            out["adversary", name] = evaluation.job("adversary", job, eval_cfg)
        else:
            out["fgsm", name] = evaluation.job("fgsm", job, eval_cfg)
    out["readings", "undefended"] = evaluation.job(
        "readings", trainings["undefended"], eval_cfg
    )
    main = [*BASELINES, *GANS]
    out["cross", "all"] = evaluation.cross_job(
        [trainings[n] for n in GANS], [trainings[n] for n in main], eval_cfg
    )
    for name in main:
        out["beyond", name] = evaluation.job("beyond", trainings[name], eval_cfg)
    pretrained = {n: j for n, j in trainings.items() if j.fn is pretrain_adversary}
    for name in main:  # a reading, on every model: batch-norm in train mode at test
        against = pretrained if name == "undefended" else {}
        out["train mode", name] = train_mode.job(trainings[name], against, eval_cfg)
    return out


def run_all(profile, workers=None):
    """Every job of the page in one pool: the stacks (each after those it loads), then
    their evaluations."""
    train_cfg, eval_cfg = resolve_profile(PROFILES, profile)
    trainings = stacks(train_cfg, range(eval_cfg.seeds))
    every = [*trainings.values(), *evaluation_jobs(trainings, eval_cfg).values()]
    jobs.run(every, workers=workers)

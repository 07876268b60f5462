"""What the WAGAN page trains, as job lists (lib.jobs): per seed the target, the four
generators (WAGAN β+ is AdvGAN's, in the authors' code), the authors' PGD sets chunk by
chunk, and the five targets retrained on each attack's training examples. `python
tools/run_jobs.py wagan` runs them ahead of the page (the page's evaluations are
next)."""

import dataclasses

from lib import jobs
from lib.profiles import resolve_profile
from papers.wagan.config import GANS, PROFILES, SLUG
from papers.wagan.training import pgd_chunks, train_classifier, train_generator

RETRAIN = {  # training data: (epochs field, batch size field) of RetrainConfig
    "PGD": ("epochs_pgd", "batch_pgd"),
    "AdvGAN": ("epochs_advgan", "batch_gan"),
    "WAGAN": ("epochs_beta_zero", "batch_gan"),
    "WAGAN β−": ("epochs_beta_minus", "batch_gan"),
    "WAGAN β+ (∂W)": ("epochs_beta_plus", "batch_gan"),
}


def specs(configs, seed):
    """{name: (function, spec)} of one seed's pipeline, each after what it loads."""
    target_cfg, gan_cfg, pgd_cfg, retrain_cfg, eval_cfg = configs
    target = dataclasses.asdict(target_cfg)
    schedule = {k: target[k] for k in ("switch_after", "shuffle", "lr", "lr_late")}
    out = {
        "target": (
            train_classifier,
            {
                "data": {"clean": target_cfg.n_train},
                "epochs": target_cfg.epochs_target,
                "batch_size": target_cfg.batch_size,
                "seed": seed,
                "target": target,
            }
            | schedule,
        )
    }
    target_spec = out["target"][1]
    for method, (beta, wasserstein) in GANS.items():
        spec = {
            "beta": beta,
            "wasserstein": wasserstein,
            "gan": dataclasses.asdict(gan_cfg),
            "target": target_spec,
            "seed": seed,
        }
        if wasserstein == "hinge":
            spec["advgan"] = out["AdvGAN"][1]
        out[method] = (train_generator, spec)
    pgd = {
        "spec": dataclasses.asdict(pgd_cfg) | {"target": target_spec, "seed": seed},
        "n": {"train": retrain_cfg.n_train, "test": eval_cfg.n_test},
    }
    retrain = dataclasses.asdict(retrain_cfg)
    for method, (epochs, batch) in RETRAIN.items():
        data = (
            {"pgd": pgd, "n": retrain_cfg.n_train}
            if method == "PGD"
            else {"generator": out[method][1], "n": retrain_cfg.n_train}
        )
        out[f"retrained on {method}"] = (
            train_classifier,
            {
                "data": data,
                "epochs": retrain[epochs],
                "batch_size": retrain[batch],
                "switch_after": retrain_cfg.switch_after,
                "shuffle": False,
                "lr": retrain_cfg.lr,
                "lr_late": retrain_cfg.lr_late,
                "seed": seed,
                "target": target,
            },
        )
    out["pgd"] = (None, pgd)
    return out


def training_jobs(configs, seeds):
    """Every job of the pipeline, seed by seed, each after what it loads: {(name,
    seed): Job}, the PGD chunks under ("pgd <split> <start>", seed)."""
    out = {}
    for seed in seeds:
        pipeline = specs(configs, seed)
        pgd = pipeline.pop("pgd")[1]
        for name, (fn, spec) in pipeline.items():
            if name.startswith("retrained"):
                continue
            out[name, seed] = jobs.Job(SLUG, fn, spec)
        for split in ("train", "test"):
            for job in pgd_chunks(pgd, split):
                out[f"pgd {split} {job.spec['start']}", seed] = job
        for name, (fn, spec) in pipeline.items():
            if name.startswith("retrained"):
                out[name, seed] = jobs.Job(SLUG, fn, spec)
    return out


def run_all(profile, workers=None):
    """Every training job of the page in one pool."""
    configs = resolve_profile(PROFILES, profile)
    jobs.run(training_jobs(configs, range(configs[-1].seeds)).values(), workers=workers)

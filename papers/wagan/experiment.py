"""What the WAGAN page trains, as job lists (lib.jobs): per seed the target, the five
generators (WAGAN β+ trains as AdvGAN in the authors' code, as a run of its own), the
authors' PGD sets chunk by chunk, and the six targets retrained on each attack's
training examples, each a new network. `python
tools/run_jobs.py wagan` runs them ahead of the page (the page's evaluations are
next)."""

import dataclasses

from lib import jobs
from lib.profiles import resolve_profile
from papers.wagan import evaluation
from papers.wagan.config import GANS, OWN_RUN, PROFILES, SLUG
from papers.wagan.training import pgd_chunks, train_classifier, train_generator

PAPER_EPS = 0.003  # §5: "a maximum difference of 0.003" (the authors' code: 0.001)

RETRAIN = {  # training data: (epochs field, batch size field) of RetrainConfig
    "PGD": ("epochs_pgd", "batch_pgd"),
    "AdvGAN": ("epochs_advgan", "batch_gan"),
    "WAGAN": ("epochs_beta_zero", "batch_gan"),
    "WAGAN β−": ("epochs_beta_minus", "batch_gan"),
    "WAGAN β+": ("epochs_beta_plus", "batch_gan"),
    "WAGAN β+ (∂W)": ("epochs_beta_plus", "batch_gan"),
}
# pipeline.py makes every retrained target a new network: its initial weights drawn
# under seed + RETRAIN_SEED·(its place in RETRAIN + 1), not the original target's
RETRAIN_SEED = 100


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
            "seed": seed + OWN_RUN.get(method, 0),
        }
        if wasserstein == "hinge":
            spec["advgan"] = out["AdvGAN"][1]
        out[method] = (train_generator, spec)
    pgd = {
        "spec": dataclasses.asdict(pgd_cfg) | {"target": target_spec, "seed": seed},
        "n": {"train": retrain_cfg.n_train, "test": eval_cfg.n_test},
    }
    retrain = dataclasses.asdict(retrain_cfg)
    for place, (method, (epochs, batch)) in enumerate(RETRAIN.items(), 1):
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
                "seed": seed + RETRAIN_SEED * place,
                "target": target,
            },
        )
    out["pgd"] = (None, pgd)
    reading = {"eps": PAPER_EPS, "target": target_spec, "seed": seed}
    out["pgd_reading"] = (
        None,
        {"spec": pgd["spec"] | reading, "n": {"test": eval_cfg.n_test}},
    )
    return out


def training_jobs(configs, seeds):
    """Every job of the pipeline, seed by seed, each after what it loads: {(name,
    seed): Job}, the PGD chunks under ("pgd <split> <start>", seed)."""
    out = {}
    for seed in seeds:
        pipeline = specs(configs, seed)
        pgd = pipeline.pop("pgd")[1]
        reading = pipeline.pop("pgd_reading")[1]
        for name, (fn, spec) in pipeline.items():
            if name.startswith("retrained"):
                continue
            out[name, seed] = jobs.Job(SLUG, fn, spec)
        for split in ("train", "test"):
            for job in pgd_chunks(pgd, split):
                out[f"pgd {split} {job.spec['start']}", seed] = job
        for job in pgd_chunks(reading, "test"):
            out[f"pgd ε {PAPER_EPS} test {job.spec['start']}", seed] = job
        for name, (fn, spec) in pipeline.items():
            if name.startswith("retrained"):
                out[name, seed] = jobs.Job(SLUG, fn, spec)
    return out


def pipeline_of(configs, seed):
    """What the evaluations read of one seed's pipeline: the specs of its target,
    generators, retrained targets and PGD sets, and each attack's training data."""
    pipeline = specs(configs, seed)
    generators = {m: spec for m, (_, spec) in pipeline.items() if m in GANS}
    retrained = {
        name.removeprefix("retrained on "): spec
        for name, (_, spec) in pipeline.items()
        if name.startswith("retrained")
    }
    return {
        "seed": seed,
        "n_train": configs[3].n_train,
        "target": pipeline["target"][1],
        "generators": generators,
        "retrained": retrained,
        "pgd": pipeline["pgd"][1],
        "pgd_reading": pipeline["pgd_reading"][1],
        "train_data": {m: spec["data"] for m, spec in retrained.items()},
    }


def evaluation_jobs(configs, seeds):
    """{(kind, name, seed): Job}: Tables 1-2 and the Sinkhorn distances of each seed,
    and the common evaluation of the first seed's networks."""
    _, gan_cfg, _, _, eval_cfg = configs
    gan = dataclasses.asdict(gan_cfg)
    out = {}
    for seed in seeds:
        pipeline = pipeline_of(configs, seed)
        out["tables", "all", seed] = evaluation.job("tables", pipeline, eval_cfg)
        out["wasserstein", "all", seed] = evaluation.job(
            "wasserstein", pipeline, eval_cfg, gan
        )
    first = pipeline_of(configs, seeds[0])
    for row, spec in {"undefended": first["target"], **first["retrained"]}.items():
        out["beyond", row, seeds[0]] = evaluation.job(
            "beyond", first, eval_cfg, spec=spec
        )
    return out


def run_all(profile, workers=None):
    """Every job of the page in one pool: the pipeline, then its evaluations."""
    configs = resolve_profile(PROFILES, profile)
    seeds = list(range(configs[-1].seeds))
    every = [
        *training_jobs(configs, seeds).values(),
        *evaluation_jobs(configs, seeds).values(),
    ]
    jobs.run(every, workers=workers)

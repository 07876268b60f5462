"""The reading that closes FGSM on the vanilla model, batch-norm in train mode at test
(§4: accuracy "as an average over multiple forward passes"), applied to every model:
FGSM along λ, each GAN's own adversary and the adversaries pre-trained on the vanilla
model. A reading the paper's numbers favour should hold across its claims, not only the
one it closes; the page scores every claim under it."""

import functools

import torch

from lib import jobs
from lib.attacks import fgsm
from papers.gan_adversarial_training.evaluation import player, runs_of, test_images
from papers.gan_adversarial_training.readings import batch_statistics_accuracy
from papers.gan_adversarial_training.training import SLUG, job_of


def train_mode_job(*, spec, lambdas, adversaries, n_eval, passes, device):
    """A job: per member, accuracy (%) with batch-norm in train mode (the statistics
    of random batches of the training batch size, `passes` passes averaged) under FGSM
    at every λ ("fgsm", λ = 0 clean), for a GAN under its own adversary ("own"), and
    under each of `adversaries` ({name: spec} of adversaries pre-trained on it)."""
    job = job_of(spec)
    x, y = test_images(n_eval, device)
    adversary_jobs = {name: job_of(a) for name, a in adversaries.items()}
    pretrained = {name: (j, runs_of(j, device)) for name, j in adversary_jobs.items()}
    out = []
    for seed, run in enumerate(runs_of(job, device)):
        defender = player(job, run, "defender", device)
        under = functools.partial(
            batch_statistics_accuracy,
            defender,
            x,
            y,
            batch_size=spec["train"]["batch_size"],
            passes=passes,
        )
        row = {"fgsm": {lam: 100 * under(attack=step(lam)) for lam in lambdas}}
        made = {
            name: player(a_job, a_runs[seed], "adversary", device)
            for name, (a_job, a_runs) in pretrained.items()
        }
        if "adversary" in run:
            made["own"] = player(job, run, "adversary", device)
        for name, adversary in made.items():
            row[name] = 100 * under(attack=generated(adversary))
        out.append(row)
    return out


def step(lam):
    """FGSM at λ as an attack(model, x, y); none at λ = 0."""
    return (lambda m, x, y: fgsm(m, x, y, eps=lam)) if lam > 0 else None


def generated(adversary):
    """An adversary in eval mode as an attack(model, x, y)."""

    def attack(model, x, y):
        with torch.no_grad():
            return adversary(x)

    return attack


def job(trained, adversaries, eval_cfg):
    """The train-mode evaluation of a training job, against `adversaries` (jobs
    pre-trained on it, by name), as a lib.jobs.Job."""
    spec = {
        "spec": trained.spec,
        "lambdas": list(eval_cfg.lambdas),
        "adversaries": {name: a.spec for name, a in adversaries.items()},
        "n_eval": eval_cfg.n_eval,
        "passes": eval_cfg.passes,
    }
    return jobs.Job(SLUG, train_mode_job, spec)

"""The GAN paper's evaluations as job functions for lib.jobs, on trained stacks loaded
through the cache: every defender under FGSM along λ (with its calibration and its own
adversary), the pre-trained adversaries against vanilla, FGSM's readings on vanilla,
every GAN adversary against every defender, and the book's common evaluation."""

import functools

import torch

from lib import jobs, robustness
from lib.attacks import fgsm
from lib.data import load_mnist
from lib.metrics import accuracy, attacked, calibration_bins, predict_proba
from papers.gan_adversarial_training.losses import loss_named, zero_gradient_share
from papers.gan_adversarial_training.readings import (
    batch_statistics,
    batch_statistics_accuracy,
    eps_from_signed_scale,
)
from papers.gan_adversarial_training.training import (
    SLUG,
    job_of,
    make_adversary,
    make_defender,
)

MNIST_STD = 0.3081  # the usual normalisation of MNIST: (x - 0.1307) / 0.3081
BATCH = 100  # the training batch size: the batches whose statistics a reading uses


def runs_of(job, device):
    return jobs.result(job, device)


def player(job, run, name, device):
    """One trained player of a run, in eval mode."""
    train = job.spec["train"]
    model = (
        make_defender(train)
        if name == "defender"
        else make_adversary(train, job.spec["squash"])
    )
    model.load_state_dict(run[name])
    return model.to(device).eval()


def test_images(n, device):
    x, y = load_mnist("test", device=device)
    return x[:n], y[:n]


def percent(model, x, y):
    return 100 * accuracy(model, x, y)


def fgsm_job(*, spec, lambdas, n_eval, calibration_bins_, device):
    """A job: per member, accuracy (%) under FGSM at every λ, the calibration bins
    and ECE (%) pooled over λ > 0 (Fig. 3), and for a GAN its own adversary's, in eval
    mode and (a reading) with the batch statistics it trained with."""
    job = job_of(spec)
    x, y = test_images(n_eval, device)
    out = []
    for run in runs_of(job, device):
        defender = player(job, run, "defender", device)
        row, probs = {"fgsm": {}}, []
        for lam in lambdas:
            x_adv = attacked(
                lambda m, xb, yb, e=lam: fgsm(m, xb, yb, eps=e), defender, x, y
            )
            p = predict_proba(defender, x_adv)
            row["fgsm"][lam] = 100 * (p.argmax(1) == y).float().mean().item()
            if lam > 0:
                probs.append(p)
        pooled, labels = torch.cat(probs), y.repeat(len(probs))
        confidence, bin_accuracy, count = calibration_bins(
            pooled, labels, calibration_bins_
        )
        row["bins"] = [confidence.tolist(), bin_accuracy.tolist(), count.tolist()]
        gaps = (bin_accuracy - confidence).abs() * count
        row["ece"] = 100 * gaps.sum().item() / count.sum().item()
        if "adversary" in run:
            adversary = player(job, run, "adversary", device)
            row["own"] = percent(defender, adversary(x), y)
            x_batch = perturbed_with_batch_statistics(adversary, x)
            row["own, batch statistics"] = percent(defender, x_batch, y)
        out.append(row)
    return out


def adversary_job(*, spec, n_eval, device):
    """A job: per member, the vanilla model's accuracy (%) under its pre-trained
    adversary at λ = 0.1 (§4.5), the adversary in eval mode ("eval") and, a reading,
    with the batch statistics it trained with ("batch statistics": batch-norm in train
    mode over the test batches)."""
    x, y = test_images(n_eval, device)
    vanilla, pretrained = job_of(spec["vanilla"]), job_of(spec)
    out = []
    for v, a in zip(runs_of(vanilla, device), runs_of(pretrained, device), strict=True):
        defender = player(vanilla, v, "defender", device)
        adversary = player(pretrained, a, "adversary", device)
        row = {"eval": percent(defender, adversary(x), y)}
        x_batch = perturbed_with_batch_statistics(adversary, x)
        row["batch statistics"] = percent(defender, x_batch, y)
        out.append(row)
    return out


def perturbed_with_batch_statistics(adversary, x):
    """The adversary's perturbations with batch-norm in train mode over batches of the
    training batch size: the statistics it trained with, not its running ones."""
    with batch_statistics(adversary), torch.no_grad():
        return torch.cat([adversary(x[i : i + BATCH]) for i in range(0, len(x), BATCH)])


def readings_job(*, spec, n_eval, eps, passes, device):
    """A job: the vanilla models' accuracy (%) under one FGSM step at λ = eps, read as
    the paper may have meant it, and the share (%) of points whose gradient is zero
    under each loss."""
    job = job_of(spec)
    x, y = test_images(n_eval, device)
    out = []
    for run in runs_of(job, device):
        model = player(job, run, "defender", device)
        under = functools.partial(accuracy_under, model, x, y)
        row = {
            "λ on pixels in [0, 1] (this book)": under(
                lambda m, a, b: fgsm(m, a, b, eps=eps)
            ),
            "λ on normalised inputs": under(
                lambda m, a, b: fgsm(m, a, b, eps=eps * MNIST_STD)
            ),
            "λ on pixels in [-1, 1]": under(
                lambda m, a, b: fgsm(m, a, b, eps=eps_from_signed_scale(eps))
            ),
            "sign of the loss": under(lambda m, a, b: (a + eps).clamp(0, 1)),
        }
        for name in ("softmax", "clipped log"):
            loss_fn = loss_named(name)
            row[f"{name} cross-entropy"] = under(
                lambda m, a, b, f=loss_fn: fgsm(m, a, b, eps=eps, loss_fn=f)
            )
            row[f"zero gradients, {name} (%)"] = 100 * zero_gradient_share(
                model, x, y, loss_fn=loss_fn
            )
        row["batch statistics at test"] = 100 * batch_statistics_accuracy(
            model,
            x,
            y,
            batch_size=spec["train"]["batch_size"],
            passes=passes,
            attack=lambda m, a, b: fgsm(m, a, b, eps=eps),
        )
        out.append(row)
    return out


def accuracy_under(model, x, y, step):
    """Accuracy (%) of the model on step(model, x, y), made batch by batch."""
    x_adv = attacked(lambda m, xb, yb: step(m, xb, yb), model, x, y)
    return percent(model, x_adv, y)


def cross(*, adversaries, defenders, n_eval, device):
    """A job: per seed, the accuracy (%) of every defender under every GAN adversary
    ({adversary: {defender: %}}, the names the jobs' keys), the adversaries in eval
    mode ("eval") and, a reading, with the batch statistics they trained with."""
    x, y = test_images(n_eval, device)
    loaded = {}
    for role, specs in (("adversary", adversaries), ("defender", defenders)):
        for name, spec in specs.items():
            job = job_of(spec)
            loaded[role, name] = [
                player(job, r, role, device) for r in runs_of(job, device)
            ]
    out = []
    for s in range(len(next(iter(loaded.values())))):
        made = {
            a: {
                "eval": loaded["adversary", a][s](x),
                "batch statistics": perturbed_with_batch_statistics(
                    loaded["adversary", a][s], x
                ),
            }
            for a in adversaries
        }
        out.append(
            {
                mode: {
                    a: {
                        d: percent(loaded["defender", d][s], made[a][mode], y)
                        for d in defenders
                    }
                    for a in adversaries
                }
                for mode in ("eval", "batch statistics")
            }
        )
    return out


def beyond_job(*, spec, n_autoattack, beyond, device):
    """A job: the book's common evaluation (lib.robustness) of the stack's first
    member on the first n_autoattack test images."""
    job = job_of(spec)
    x, y = test_images(n_autoattack, device)
    defender = player(job, runs_of(job, device)[0], "defender", device)
    return robustness.evaluate_at(beyond, defender, x, y)


def job(kind, trained, eval_cfg):
    """The evaluation `kind` of a training job as a lib.jobs.Job."""
    if kind == "adversary":
        return jobs.Job(
            SLUG, adversary_job, {"spec": trained.spec, "n_eval": eval_cfg.n_eval}
        )
    if kind == "fgsm":
        spec = {
            "lambdas": list(eval_cfg.lambdas),
            "n_eval": eval_cfg.n_eval,
            "calibration_bins_": eval_cfg.calibration_bins,
        }
        return jobs.Job(SLUG, fgsm_job, {"spec": trained.spec} | spec)
    if kind == "readings":
        spec = {
            "n_eval": eval_cfg.n_eval,
            "eps": trained.spec["train"]["eps_train"],
            "passes": eval_cfg.passes,
        }
        return jobs.Job(SLUG, readings_job, {"spec": trained.spec} | spec)
    spec = {"n_autoattack": eval_cfg.n_autoattack, "beyond": eval_cfg.beyond}
    return jobs.Job(SLUG, beyond_job, {"spec": trained.spec} | spec)


def cross_job(adversaries, defenders, eval_cfg):
    """Every GAN adversary against every defender, as one job."""

    def named(trained):
        return {j.spec.get("name") or name_of(j): j.spec for j in trained}

    spec = {
        "adversaries": named(adversaries),
        "defenders": named(defenders),
        "n_eval": eval_cfg.n_eval,
    }
    return jobs.Job(SLUG, cross, spec)


def name_of(job):
    """A GAN job's name as the page's tables give it."""
    prefix = "initialised " if "pretrained" in job.spec else ""
    return f"{prefix}GAN {job.spec['squash']}"

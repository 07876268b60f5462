"""A3T's evaluations as job functions for lib.jobs, one stack each: Table 1 on the test
images (with two readings of its FGSM: unclipped, and made once on the simple-training
model as a transfer set) and what the method aims at (its D's accuracy, the features'
distance), and the book's common evaluation (lib.robustness)."""

from lib import jobs, robustness
from lib.attacks import fgsm
from lib.metrics import accuracy, attacked
from papers.a3t.config import SLUG
from papers.a3t.game import fgsm_examples, game_metrics
from papers.a3t.training import (
    load,
    make_classifier,
    make_discriminator,
    splits,
    train_stack,
)


def trained(spec, device="cpu"):
    return jobs.result(jobs.Job(SLUG, train_stack, spec), device)


def table1_job(*, stack, simple, eps_test, n_eval, device):
    """A job: per member, accuracy (%) on the first n_eval test images, real and under
    FGSM ε_test (clipped, Table 1), unclipped, and transferred from the simple-training
    model of the same seed; its D's accuracy and the features' distance and norm at
    its own training FGSM (game_metrics)."""
    _, _, (x, y) = splits(stack["train"], device)
    x, y = x[:n_eval], y[:n_eval]
    train = stack["train"]
    simples = trained(simple, device)
    rows = []
    for seed, member in zip(stack["seeds"], trained(stack, device), strict=True):
        model = load(make_classifier, train, member["classifier"], device)
        disc = load(make_discriminator, train, member["discriminator"], device)
        source = simples[simple["seeds"].index(seed)]["classifier"]
        x_transfer = attacked(
            lambda m, xb, yb: fgsm(m, xb, yb, eps=eps_test),
            load(make_classifier, train, source, device),
            x,
            y,
        )
        game = game_metrics(
            model,
            disc,
            x,
            y,
            eps=stack["eps"],
            clip=stack["clip"],
            normalize_features=stack.get("normalize_features", False),
        )
        rows.append(
            {
                "seed": seed,
                "real": 100 * accuracy(model, x, y),
                "FGSM": fgsm_accuracy(model, x, y, eps_test, clip=True),
                "FGSM unclipped": fgsm_accuracy(model, x, y, eps_test, clip=False),
                "FGSM transferred": 100 * accuracy(model, x_transfer, y),
                "discriminator": 100 * game["acc_disc"],
                "feature_distance": game["feature_distance"],
                "feature_norm": game["feature_norm"],
            }
        )
    return rows


def fgsm_accuracy(model, x, y, eps, *, clip):
    """Accuracy (%) under white-box FGSM, clipped to [0, 1] or not."""
    x_adv = attacked(
        lambda m, xb, yb: fgsm_examples(m, xb, yb, eps=eps, clip=clip), model, x, y
    )
    return 100 * accuracy(model, x_adv, y)


def beyond_job(*, stack, n_autoattack, beyond, device):
    """A job: the book's common evaluation (lib.robustness, at the effort `beyond`) of
    the stack's first member on the first n_autoattack test images."""
    _, _, (x, y) = splits(stack["train"], device)
    first = trained(stack, device)[0]["classifier"]
    model = load(make_classifier, stack["train"], first, device)
    return robustness.evaluate_at(beyond, model, x[:n_autoattack], y[:n_autoattack])


def job(kind, stack, simple, eval_cfg):
    if kind == "table1":
        spec = {
            "stack": stack,
            "simple": simple,
            "eps_test": eval_cfg.eps_test,
            "n_eval": eval_cfg.n_eval,
        }
        return jobs.Job(SLUG, table1_job, spec)
    spec = {
        "stack": stack,
        "n_autoattack": eval_cfg.n_autoattack,
        "beyond": eval_cfg.beyond,
    }
    return jobs.Job(SLUG, beyond_job, spec)

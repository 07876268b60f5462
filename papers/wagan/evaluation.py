"""WAGAN's evaluations as job functions for lib.jobs, on the trained pipeline loaded
through the cache: Tables 1 and 2 (the target's dropout on, as the authors evaluate,
over several draws), the Sinkhorn distance of each attack's examples, and the book's
common evaluation of every network (lib.robustness)."""

from lib import jobs, robustness
from lib.data import load_mnist
from lib.metrics import accuracy
from lib.runtime import seed_everything
from papers.wagan.config import ATTACKS
from papers.wagan.sinkhorn import sinkhorn
from papers.wagan.training import (
    SLUG,
    adversarial_set,
    sinkhorn_kwargs,
    trained_generator,
    trained_target,
)
from papers.wagan.wagan import TargetNet, generate

EVAL_BATCH = 500


def test_sets(pipeline, n_test, device):
    """{attack: its examples of the first n_test test images}."""
    sets = {}
    for attack in ATTACKS:
        data = (
            {"pgd": pipeline["pgd"]}
            if attack == "PGD"
            else {"generator": pipeline["generators"][attack], "n": n_test}
        )
        sets[attack] = adversarial_set(data, "test", device)[:n_test]
    return sets


def draws(model, x, y, seeds):
    """Accuracy (%) of a model whose dropout is on, one value per seeded draw."""
    out = []
    for seed in seeds:
        seed_everything(seed)
        out.append(100 * accuracy(model, x, y, batch_size=EVAL_BATCH))
    return out


def deterministic(model):
    """The same weights with dropout off (the usual eval-mode network)."""
    copy = TargetNet(always_on_dropout=False).to(next(model.parameters()).device)
    copy.load_state_dict(model.state_dict())
    return copy.eval()


def tables_job(*, pipeline, n_test, n_draws, device):
    """A job: Table 1 (the original target on each attack's train and test examples)
    and Table 2 (each retrained target on the clean test images and every attack's
    test examples), every cell a list of accuracies (%) over n_draws dropout draws;
    Table 1's test cells also with dropout off."""
    x_tr, y_tr = load_mnist("train", device=device)
    x_te, y_te = load_mnist("test", device=device)
    n_train = pipeline["n_train"]
    x_tr, y_tr, x_te, y_te = (
        x_tr[:n_train],
        y_tr[:n_train],
        x_te[:n_test],
        y_te[:n_test],
    )
    sets = test_sets(pipeline, n_test, device)
    seeds = [1000 * pipeline["seed"] + d for d in range(n_draws)]
    target = trained_target(pipeline["target"], device)
    table1 = {
        "Original": {
            "train": draws(target, x_tr, y_tr, seeds),
            "test": draws(target, x_te, y_te, seeds),
            "test, dropout off": 100 * accuracy(deterministic(target), x_te, y_te),
        }
    }
    for attack in ATTACKS:
        data = pipeline["train_data"][attack]
        table1[attack] = {
            "train": draws(target, adversarial_set(data, "train", device), y_tr, seeds),
            "test": draws(target, sets[attack], y_te, seeds),
            "test, dropout off": 100
            * accuracy(deterministic(target), sets[attack], y_te),
        }
    table2 = {}
    for row, spec in {
        "undefended": pipeline["target"],
        **pipeline["retrained"],
    }.items():
        model = trained_target(spec, device)
        table2[row] = {"Base": draws(model, x_te, y_te, seeds)} | {
            column: draws(model, sets[column], y_te, seeds) for column in ATTACKS
        }
    if "pgd_reading" in pipeline:  # the paper's ε = 0.003, on the test images
        x_pgd = adversarial_set({"pgd": pipeline["pgd_reading"]}, "test", device)
        table1["PGD, ε = 0.003"] = {"test": draws(target, x_pgd[:n_test], y_te, seeds)}
    return {"table1": table1, "table2": table2}


def wasserstein_job(*, pipeline, n_wasserstein, gan, device):
    """A job: per attack, each test image's Sinkhorn distance d_W(x, x_adv) (the
    authors' rule) and, for the generators, ‖G(x)‖₂ before the clipping."""
    x, _ = load_mnist("test", device=device)
    x = x[:n_wasserstein]
    kwargs = sinkhorn_kwargs(gan)
    out = {}
    sets = test_sets(pipeline, n_wasserstein, device)
    for attack, x_adv in sets.items():
        out[attack] = {"d_w": sinkhorn(x, x_adv, **kwargs).tolist()}
    for attack, spec in pipeline["generators"].items():
        _, norms = generate(trained_generator(spec, device), x, bound=gan["bound"])
        out[attack]["norm"] = norms.tolist()
    return out


def beyond_job(*, spec, n_autoattack, beyond, device):
    """A job: the book's common evaluation (lib.robustness) of a trained network with
    its dropout off, a deterministic model for AutoAttack, on the first n_autoattack
    test images."""
    x, y = load_mnist("test", device=device)
    model = deterministic(trained_target(spec, device))
    return robustness.evaluate_at(beyond, model, x[:n_autoattack], y[:n_autoattack])


def job(kind, pipeline, eval_cfg, gan_cfg=None, spec=None):
    if kind == "tables":
        return jobs.Job(
            SLUG,
            tables_job,
            {
                "pipeline": pipeline,
                "n_test": eval_cfg.n_test,
                "n_draws": eval_cfg.dropout_draws,
            },
        )
    if kind == "wasserstein":
        return jobs.Job(
            SLUG,
            wasserstein_job,
            {
                "pipeline": pipeline,
                "n_wasserstein": eval_cfg.n_wasserstein,
                "gan": gan_cfg,
            },
        )
    return jobs.Job(
        SLUG,
        beyond_job,
        {
            "spec": spec,
            "n_autoattack": eval_cfg.n_autoattack,
            "beyond": eval_cfg.beyond,
        },
    )

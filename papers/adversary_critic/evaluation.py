"""The adversary critic's evaluations as job functions for lib.jobs, each on one trained
model: Table 1's three attacks, the same along training (the budget trend) and the
book's common evaluation (lib.robustness). The page turns their results into tables
with papers.adversary_critic.tables."""

from lib import jobs, robustness
from lib.attacks import deepfool
from lib.data import load_mnist
from lib.metrics import attacked, predictions
from papers.adversary_critic.attacks import cw_l2, high_confidence
from papers.adversary_critic.config import SLUG
from papers.adversary_critic.training import load, train_model


def trained(model, device="cpu"):
    """The training job's result for the model spec `model` (from the cache)."""
    return jobs.result(jobs.Job(SLUG, train_model, model), device)


def network(model, device="cpu"):
    return load(model["net"], trained(model, device)["state"], device)


def test_images(n, device="cpu"):
    x, y = load_mnist("test", device=device)
    return x[:n], y[:n]


def table1(
    model,
    *,
    n_eval,
    n_eval_cw,
    deepfool_steps,
    step_clip,
    overshoot,
    hc_steps,
    cw_steps,
    cw_binary_steps,
    cw_c,
    cw_lr,
):
    """Table 1's adversarial examples of `model`: DeepFool's and the paper's attack's
    on the first n_eval test images, C&W's on the first n_eval_cw, as the authors'
    test.py and test_carlini.py run them."""
    device = next(model.parameters()).device
    x, y = test_images(n_eval, device)

    def run(attack, n):
        return attacked(attack, model, x[:n], y[:n])

    return {
        "deepfool": run(
            lambda m, xb, yb: deepfool(
                m,
                xb,
                yb,
                steps=deepfool_steps,
                overshoot=overshoot,
                step_clip=step_clip,
                clip=True,
            ),
            n_eval,
        ),
        "ours": run(
            lambda m, xb, yb: high_confidence(
                m, xb, yb, steps=hc_steps, step_clip=step_clip, overshoot=overshoot
            ),
            n_eval,
        ),
        "cw": run(
            lambda m, xb, yb: cw_l2(
                m,
                xb,
                yb,
                c=cw_c,
                kappa=0.0,
                steps=cw_steps,
                binary_steps=cw_binary_steps,
                lr=cw_lr,
            ),
            n_eval_cw,
        ),
    }


TABLE1 = (
    "n_eval",
    "n_eval_cw",
    "deepfool_steps",
    "step_clip",
    "overshoot",
    "hc_steps",
    "cw_steps",
    "cw_binary_steps",
    "cw_c",
    "cw_lr",
)


def table1_job(*, model, device, n_test, **settings):
    """A job: the final model's clean predictions on the first n_test test images and
    Table 1's adversarial examples."""
    net = network(model, device)
    x, _ = test_images(n_test, device)
    return {"predictions": predictions(net, x), **table1(net, **settings)}


def trend_job(*, model, device, n_test, n_trend, n_trend_cw, **settings):
    """A job: the same at every kept epoch before the last (whose model is Table 1's),
    on the first n_trend test images (C&W: n_trend_cw)."""
    result, out = trained(model, device), {}
    x, _ = test_images(n_test, device)
    last = max(result["trend"])
    for epoch, state in sorted(result["trend"].items()):
        if epoch == last:
            continue
        net = load(model["net"], state, device)
        settings.update(n_eval=n_trend, n_eval_cw=n_trend_cw)
        out[epoch] = {"predictions": predictions(net, x), **table1(net, **settings)}
    return out


def beyond_job(*, model, device, n_autoattack, beyond):
    """A job: the book's common evaluation of the final model (lib.robustness, at the
    effort `beyond`) on the first n_autoattack test images."""
    x, y = test_images(n_autoattack, device)
    return robustness.evaluate_at(beyond, network(model, device), x, y)


# Each evaluation: its job function and the EvalConfig fields it reads
JOBS = {
    "table1": (table1_job, ("n_test", *TABLE1)),
    "trend": (
        trend_job,
        ("n_test", "n_trend", "n_trend_cw", *TABLE1[2:]),
    ),
    "beyond": (beyond_job, ("n_autoattack", "beyond")),
}


def job(kind, model, eval_cfg):
    """The evaluation `kind` of the model spec `model` as a lib.jobs.Job."""
    fn, fields = JOBS[kind]
    spec = {"model": model, **{f: getattr(eval_cfg, f) for f in fields}}
    return jobs.Job(SLUG, fn, spec)

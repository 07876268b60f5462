"""Accuracy, robust accuracy, minimum-norm robustness and calibration, in batches
on the device."""

import torch

EVAL_BATCH = 2000  # examples per forward pass or attack call: a bound on memory


@torch.no_grad()
def predict_proba(model, x, batch_size=EVAL_BATCH):
    """Softmax probabilities of the model on x, (N, classes)."""
    return torch.cat(
        [model(x[i : i + batch_size]).softmax(1) for i in range(0, len(x), batch_size)]
    )


def accuracy(model, x, y, batch_size=EVAL_BATCH):
    """Fraction of x that the model classifies as y."""
    return (predict_proba(model, x, batch_size).argmax(1) == y).float().mean().item()


def attacked(attack, model, x, y, batch_size=EVAL_BATCH):
    """attack(model, x, y) -> x_adv applied batch by batch over the whole of x."""
    return torch.cat(
        [
            attack(model, x[i : i + batch_size], y[i : i + batch_size])
            for i in range(0, len(x), batch_size)
        ]
    )


def robust_accuracy(model, attack, x, y, batch_size=EVAL_BATCH):
    """Accuracy on attack(model, x, y): the fraction of examples the attack does
    not turn wrong."""
    return accuracy(model, attacked(attack, model, x, y, batch_size), y, batch_size)


def rho(x, x_adv):
    """Minimum-norm robustness: mean over all points of ||x_adv - x||_2 / ||x||_2
    (Moosavi-Dezfooli et al. 2016)."""
    return ((x_adv - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)).mean().item()


def calibration_bins(probs, y, n_bins=10):
    """Reliability bins over the max-softmax confidence: (mean confidence, accuracy,
    count) per bin."""
    confidence, prediction = probs.max(1)
    correct = (prediction == y).float()
    edges = torch.linspace(0, 1, n_bins + 1, device=probs.device)
    index = torch.bucketize(confidence, edges[1:-1], right=True)
    count = torch.bincount(index, minlength=n_bins).float()
    mean_confidence = torch.bincount(
        index, confidence, minlength=n_bins
    ) / count.clamp_min(1)
    bin_accuracy = torch.bincount(index, correct, minlength=n_bins) / count.clamp_min(1)
    return mean_confidence.cpu(), bin_accuracy.cpu(), count.cpu()


def expected_calibration_error(probs, y, n_bins=10):
    """Count-weighted mean |accuracy - confidence| over the reliability bins (Guo
    et al. 2017)."""
    confidence, bin_accuracy, count = calibration_bins(probs, y, n_bins)
    return ((bin_accuracy - confidence).abs() * count).sum().item() / count.sum().item()


@torch.no_grad()
def predictions(model, x, batch_size=EVAL_BATCH):
    """The model's predicted class for each example of x, (N,)."""
    return torch.cat(
        [model(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]
    )


def l2_norms(x, x_adv):
    """||x_adv - x||_2 per example, (N,)."""
    return (x_adv - x).flatten(1).norm(dim=1)


def success_rate(model, x, x_adv, y, batch_size=EVAL_BATCH):
    """Among the examples the model classifies correctly on x, the fraction it
    misclassifies on x_adv."""
    correct = predictions(model, x, batch_size) == y
    fooled = predictions(model, x_adv, batch_size) != y
    return (fooled & correct).sum().item() / max(correct.sum().item(), 1)


def rho_min_norm(
    model, x, x_adv, y, *, failures="exclude", failed_x_adv=None, batch_size=EVAL_BATCH
):
    """ρ = mean of ||x_adv - x||_2 / ||x||_2 over the test points, points
    misclassified on x counting 0 (Matyasko & Chau 2018). A failure (x_adv still
    classified y) is dropped from the mean with failures="exclude"; with "count" it
    stays, at the norm of failed_x_adv: x_adv itself by default, 0.5 for the grey
    image Carlini's code returns."""
    if failures not in ("exclude", "count"):
        raise ValueError(f"failures must be 'exclude' or 'count', got {failures!r}")
    correct = predictions(model, x, batch_size) == y
    failed = correct & (predictions(model, x_adv, batch_size) == y)
    if failures == "count" and failed_x_adv is not None:
        x_adv = torch.where(failed.view(-1, *[1] * (x.dim() - 1)), failed_x_adv, x_adv)
    ratio = torch.where(
        correct, l2_norms(x, x_adv) / x.flatten(1).norm(dim=1), x.new_zeros(len(x))
    )
    keep = ~failed if failures == "exclude" else torch.ones_like(failed)
    return ratio[keep].mean().item() if keep.any() else float("nan")


def min_norm_summary(model, x, x_adv, y, batch_size=EVAL_BATCH):
    """A minimum-norm attack's report: success rate, failures, ρ with failures excluded
    and counted (at x_adv's own norm), and the median ||x_adv - x||_2 over the successes
    (points misclassified on x excluded)."""
    correct = predictions(model, x, batch_size) == y
    fooled = predictions(model, x_adv, batch_size) != y
    norms = l2_norms(x, x_adv)[correct & fooled]
    return {
        "success_rate": success_rate(model, x, x_adv, y, batch_size),
        "n_failures": (correct & ~fooled).sum().item(),
        "rho_excluded": rho_min_norm(
            model, x, x_adv, y, failures="exclude", batch_size=batch_size
        ),
        "rho_counted": rho_min_norm(
            model, x, x_adv, y, failures="count", batch_size=batch_size
        ),
        "median_l2": norms.median().item() if len(norms) else float("nan"),
    }

"""AutoAttack at torchattacks' 10 iterations on the page's models, beside the published
version its common evaluation runs: the book's one measurement of what the pages'
earlier AutoAttack overstated (lib.autoattack_versions). A module of its own, so that
adding it re-keyed none of the page's cached evaluations."""

from lib.autoattack import common_evaluation
from papers.adversary_critic.evaluation import network, test_images


def autoattack_job(*, model, device, n_autoattack, version):
    """A job: one model's clean and AutoAttack accuracies (%) at the named version, on
    the first n_autoattack test images: {"clean", "Linf", "L2"}."""
    x, y = test_images(n_autoattack, device)
    record = common_evaluation({"model": network(model, device)}, x, y, version=version)
    return record["defenses"]["model"]

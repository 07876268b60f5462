"""A3T's models as jobs for lib.jobs: the seeds of one method and reading trained as one
stack (lib.stack), each member's history holding Fig. 2's validation curves and the
budget trend (Table 1's metrics on the first test images after every epoch). Kept apart
from the evaluation, so that editing an evaluation keeps the models' keys."""

from torch import nn

from lib.attacks import fgsm
from lib.data import load_mnist
from lib.metrics import accuracy, attacked
from lib.models import mlp
from lib.stack import member_histories, stack_seeds, unstack
from lib.stack_optim import StackedAdam, StackedBatches
from papers.a3t.game import game_metrics, train_a3t


def make_classifier(train):
    """nn.Sequential(E, R): E the first `encoder_layers` hidden layers ending on their
    leaky ReLU, R the rest, giving logits (§3.2, Fig. 1)."""

    def leaky_relu():
        return nn.LeakyReLU(train["leaky_slope"])

    sizes = [784, *train["hidden"], 10]
    k = train["encoder_layers"]
    # mlp() ends on a linear layer; E's output is the activation of its last hidden
    # layer, so it gets one more.
    encoder = nn.Sequential(*mlp(sizes[: k + 1], activation=leaky_relu), leaky_relu())
    return nn.Sequential(encoder, mlp(sizes[k:], activation=leaky_relu))


def make_discriminator(train):
    """D: E's features to one logit, the log-odds that they come from a real image."""
    features = train["hidden"][train["encoder_layers"] - 1]
    return mlp([features, train["disc_hidden"], 1], dropout=train["disc_dropout"])


def splits(train, device):
    """(train, validation, test) images: the first n_train of the first 50,000 training
    images, the first n_val_eval of the last 10,000, and MNIST's test set."""
    x, y = load_mnist("train", device=device)
    n_fit = len(x) - train["n_val"]
    val = slice(n_fit, n_fit + train["n_val_eval"])
    return (
        (x[:n_fit][: train["n_train"]], y[:n_fit][: train["n_train"]]),
        (x[val], y[val]),
        load_mnist("test", device=device),
    )


def measures(train, eps, clip, eps_test, normalize, device):
    """evaluate(classifiers, discriminators) for train_a3t: Fig. 2's validation curves
    (at the training FGSM) and Table 1's metrics on the first n_trend test images (at
    the test FGSM), one value per member."""
    _, (x_val, y_val), (x_test, y_test) = splits(train, device)
    x_test, y_test = x_test[: train["n_trend"]], y_test[: train["n_trend"]]

    def evaluate(classifiers, discriminators):
        out = {}
        for c, d in zip(unstack(classifiers), unstack(discriminators), strict=True):
            c.eval()
            game = game_metrics(
                c, d, x_val, y_val, eps=eps, clip=clip, normalize_features=normalize
            )
            x_adv = attacked(
                lambda m, x, y: fgsm(m, x, y, eps=eps_test), c, x_test, y_test
            )
            row = {f"val_{k}": game[k] for k in ("acc_real", "acc_adv", "acc_disc")}
            row["test_real"] = accuracy(c, x_test, y_test)
            row["test_fgsm"] = accuracy(c, x_adv, y_test)
            for name, value in row.items():
                out.setdefault(name, []).append(value)
        return out

    return evaluate


def train_stack(
    *,
    method,
    alpha,
    beta,
    eps,
    clip,
    seeds,
    train,
    eps_test,
    device,
    normalize_features=False,
    discriminator_steps=1,
):
    """A job: every seed of a method and reading as one stack; one {classifier,
    discriminator, history} per seed. Readings: the training FGSM's eps and clip,
    normalize_features and discriminator_steps (papers.a3t.game)."""
    (x, y), _, _ = splits(train, device)
    classifiers, discriminators = stack_seeds(
        lambda: (
            make_classifier(train).to(device),
            make_discriminator(train).to(device),
        ),
        seeds,
    )
    history = train_a3t(
        classifiers,
        discriminators,
        StackedBatches(x, y, batch_size=train["batch_size"], seeds=seeds),
        epochs=train["epochs"],
        eps=eps,
        clip=clip,
        alpha=alpha,
        beta=beta,
        classifier_optimizer=StackedAdam(classifiers.parameters(), lr=train["lr"]),
        discriminator_optimizer=StackedAdam(
            discriminators.parameters(), lr=train["lr"]
        ),
        normalize_features=normalize_features,
        discriminator_steps=discriminator_steps,
        evaluate=measures(train, eps, clip, eps_test, normalize_features, device),
        desc=f"{method}, ε {eps}{'' if clip else ' unclipped'}",
    )
    members = zip(
        unstack(classifiers),
        unstack(discriminators),
        member_histories(history, len(seeds)),
        strict=True,
    )
    return [
        {"classifier": c.state_dict(), "discriminator": d.state_dict(), "history": h}
        for c, d, h in members
    ]


def load(make, train, state, device="cpu"):
    """A trained classifier or discriminator (make_classifier, make_discriminator)."""
    model = make(train).to(device)
    model.load_state_dict(state)
    return model.eval()

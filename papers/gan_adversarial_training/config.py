"""Dhillon & Pavse's protocol as two frozen records, one field a line with its source:
the paper (§4), or our choice where it is silent, marked so. `book` and `smoke` are
derived from `paper`."""

import dataclasses
from dataclasses import dataclass

SLUG = "gan_adversarial_training"
BASELINES = ("undefended", "random noise", "adversarial training")
SQUASHES = ("tanh", "scaled")  # the paper's two adversaries
# The GANs: (squash, initialised with an adversary pre-trained on the vanilla model)
GANS = {
    "GAN tanh": ("tanh", False),
    "GAN scaled": ("scaled", False),
    "initialised GAN tanh": ("tanh", True),
    "initialised GAN scaled": ("scaled", True),
}
PAPER_NAMES = {"undefended": "vanilla"}


@dataclass(frozen=True)
class TrainConfig:
    hidden: tuple = (128, 64)  # §4: defender 784-128-64-10, batch-norm + leaky ReLU
    adversary_hidden: tuple = (512, 512)  # §4.4: adversary 784-512-512-784
    leaky_slope: float = 0.01  # not stated: PyTorch's default
    lr: float = 1.0  # §4: SGD, learning rate 1.0 (both players)
    momentum: float = 0.9  # §4
    weight_decay: float = 4e-4  # §4
    batch_size: int = 100  # not stated: our choice
    epochs: int = 50  # §4 "run till convergence": a fixed budget, our choice
    epochs_gan: int = 50  # §4.4 "till convergence": as above
    gan_halve_every: int = 10  # §4.4: both learning rates halved every 10 epochs
    epochs_pretrain: int = 20  # §4.5: the adversary alone against vanilla (ours)
    eps_train: float = 0.1  # §4.3 FGSM λ = 0.1; §4.5 "the same λ = 0.1"
    noise: float = 0.1  # §4.2: random noise, ||·||∞ <= 0.1, uniform per pixel
    n_train: int = 60_000  # MNIST's training set


@dataclass(frozen=True)
class EvalConfig:
    lambdas: tuple = tuple(round(0.1 * i, 1) for i in range(11))  # §4: λ = 0, ..., 1
    n_eval: int = 10_000  # the MNIST test set serves as the "validation" set
    seeds: int = 5  # §4 "average over multiple forward passes": seeds (ours)
    calibration_bins: int = 10  # Fig. 3: our choice
    passes: int = 5  # a reading: batch statistics at test, passes averaged (ours)
    n_autoattack: int = 500  # beyond the paper: the book's common test points
    beyond: str = "book"  # lib.robustness.EFFORTS: the common evaluation, in full


PAPER = (TrainConfig(), EvalConfig())
PROFILES = {
    "paper": PAPER,
    # The paper's training in full (epochs, data), on 3 of its 5 seeds
    "book": (PAPER[0], dataclasses.replace(PAPER[1], seeds=3)),
    "smoke": (
        dataclasses.replace(
            PAPER[0], epochs=1, epochs_gan=1, epochs_pretrain=1, n_train=2_000
        ),
        dataclasses.replace(
            PAPER[1], seeds=1, n_eval=500, passes=1, n_autoattack=20, beyond="smoke"
        ),
    ),
}

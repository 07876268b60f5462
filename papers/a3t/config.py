"""A3T's protocol (Erraqabi et al. 2018) as two frozen records, one field a line with
its source: the paper (§3-§4), or our choice where it is silent. `book` and `smoke`
are derived from `paper`."""

import dataclasses
from dataclasses import dataclass

SLUG = "a3t"
# Table 1: the loss weights (α, β) of each method. The undefended network is
# "undefended" on every page of the book; the tables show it under the paper's name.
METHODS = {
    "undefended": (1.0, 0.0),  # simple training, the plain cross-entropy: α = 1, β = 0
    "AT": (0.5, 0.0),
    "A2T": (1.0, 1.0),
    "A3T": (0.5, 1.0),
}
ADVERSARIAL = [m for m, weights in METHODS.items() if weights != (1.0, 0.0)]
PAPER_NAMES = {"undefended": "simple training"}


@dataclass(frozen=True)
class TrainConfig:
    hidden: tuple = (512, 256, 128)  # §4: three hidden layers, leaky ReLU
    encoder_layers: int = 2  # §4: D is fed the second hidden layer: E = layers 1-2
    leaky_slope: float = 0.01  # not stated in the paper: PyTorch's default, our choice
    disc_hidden: int = 128  # §4: D has 128 hidden units and a ReLU
    disc_dropout: float = 0.5  # §4: "a 0.5-dropout"
    eps_setup: float = 0.25  # §4: the examples "were generated using ε = 0.25"
    eps_caption: float = 0.1  # a reading: Table 1's caption, "ε = 0.1", as training ε
    eps_unclipped: float = 0.25  # a reading: Goodfellow et al.'s MNIST ε, unclipped
    disc_steps_reading: int = 5  # a reading: D steps per classifier step (ours)
    lr: float = 1e-3  # not stated: Adam with learning rate 1e-3 for both networks, ours
    batch_size: int = 128  # not stated: our choice
    epochs: int = 50  # not stated: our choice
    n_train: int = 50_000  # the first 50,000 training images (our choice)
    n_val: int = 10_000  # Fig. 2's validation set: the last 10,000 (our choice)
    n_val_eval: int = 10_000  # validation images measured after every epoch (Fig. 2)
    n_trend: int = 1_000  # the budget trend: test images measured after every epoch


@dataclass(frozen=True)
class EvalConfig:
    seeds: int = 10  # Table 1: "10 runs"
    eps_test: float = 0.1  # Table 1's caption: FGSM with ε = 0.1 at test
    n_eval: int = 10_000  # the MNIST test set
    n_autoattack: int = 500  # beyond the paper: the book's common test points
    beyond: str = "book"  # lib.robustness.EFFORTS: the common evaluation, in full


PAPER = (TrainConfig(), EvalConfig())
PROFILES = {
    "paper": PAPER,
    # The protocol's epochs and data with 3 of its 10 runs; Fig. 2 on 2,000 images
    "book": (
        dataclasses.replace(PAPER[0], n_val_eval=2_000),
        dataclasses.replace(PAPER[1], seeds=3),
    ),
    "smoke": (
        dataclasses.replace(
            PAPER[0], epochs=2, n_train=2_000, n_val_eval=500, n_trend=200
        ),
        dataclasses.replace(
            PAPER[1], seeds=2, n_eval=500, n_autoattack=20, beyond="smoke"
        ),
    ),
}

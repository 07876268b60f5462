"""Learning with Adversary's protocol as two frozen records, one field a line with its
source. The paper publishes no code and leaves the optimiser, the batch size, the
training length, LWA's training c and the ε of Goodfellow's method unstated: our
choices, marked so. `book` and `smoke` are derived from `paper`."""

import dataclasses
from dataclasses import dataclass

SLUG = "learning_with_adversary"
MLP_METHODS = ("undefended", "Dropout", "Goodfellow", "LWA", "LWA_Rep")  # Table 1
LENET_METHODS = ("undefended", "LWA")  # Table 2
PAPER_NAMES = {"undefended": "Normal"}  # the undefended network, as the paper names it
COLUMNS = (
    "Validation",
    "Fixed",
    "Adv_Loss_Sign",
    "Adv_Loss",
    "Adv_Alpha",
)  # Tables 1-2
ADVERSARIAL = COLUMNS[1:]


# The paper gives no training length. Its LeNet is Caffe's, whose MNIST solver
# (examples/mnist/lenet_solver.prototxt) runs 10,000 iterations of batch 64: 640,000
# images, 12.8 epochs of the 50,000. We read that as 13 epochs, for every model.
@dataclass(frozen=True)
class TrainConfig:
    hidden: tuple = (1000, 1000)  # §4.2: two hidden layers of 1000 units (ReLU: ours)
    dropout: float = 0.5  # not stated: the usual rate, on both hidden layers (ours)
    c: float = 1.5  # LWA's training c, not stated: the evaluation's L2 norm 1.5
    goodfellow_eps: float = 1.5  # not stated: the sign step at L2 norm 1.5 (ours)
    goodfellow_linf: tuple = (0.1, 0.25)  # readings: L∞ ε a pixel (Goodfellow: 0.25)
    input_dropout: float = 0.2  # a reading: dropout on the input too (Dropout's row)
    rep_relative_c: float = 0.1  # a reading: LWA_Rep's c as a fraction of each ‖h‖
    rep_units: str = "tanh"  # a reading: LWA_Rep's hidden units, bounded
    rep_layers_deep: int = 2  # a reading: LWA_Rep's h after both hidden layers
    rep_c_ratios: tuple = (0.05, 0.1, 0.2, 0.4)  # LWA_Rep's c / Normal's ‖h‖ (ours)
    split_seed: int = 0  # §4: "we random choose 50,000 images": the permutation's seed
    lr: float = 1e-3  # not stated: Adam with default betas, every model (ours)
    batch_size: int = 100  # not stated: our choice
    epochs: int = 13  # not stated: Caffe's LeNet solver (above), every model
    long_epochs: int = 30  # a reading of the length: Normal's and LWA's networks
    n_train: int = 50_000  # §4: 50,000 training images
    trend_epochs: tuple = (1, 3, 6, 13)  # the budget trend: weights kept (ours)


@dataclass(frozen=True)
class EvalConfig:
    seeds: int = 3  # the paper reports one run; three for a spread (ours)
    c_eval: float = 1.5  # Tables 1-2: "perturbations of ℓ2 norm being 1.5"
    c_grid: tuple = tuple(0.25 * i for i in range(17))  # Fig. 1: L2 norms 0.0 to 4.0
    n_eval: int = 10_000  # Tables 1-2: all 10,000 validation images
    n_test: int = 10_000  # the MNIST test set, reported beside (not in the paper)
    n_train_acc: int = 50_000  # §4.1: the undefended LeNet's training accuracy
    n_curve: int = 10_000  # Fig. 2 and the budget trend: validation images
    n_autoattack: int = 500  # beyond the paper: the book's common test points
    beyond: str = "book"  # lib.robustness.EFFORTS: the common evaluation, in full


PAPER = (TrainConfig(), EvalConfig())
PROFILES = {
    "paper": PAPER,
    # The protocol as we read it, in full: Fig. 2 and the trend on every validation
    # image, as the tables
    "book": PAPER,
    "smoke": (
        dataclasses.replace(
            PAPER[0],
            epochs=1,
            long_epochs=2,
            n_train=1_000,
            rep_c_ratios=(0.1, 0.4),
            trend_epochs=(1,),
        ),
        dataclasses.replace(
            PAPER[1],
            seeds=1,
            n_eval=100,
            n_test=100,
            n_train_acc=500,
            n_curve=100,
            n_autoattack=20,
            beyond="smoke",
        ),
    ),
}

"""WAGAN's protocol (Goel, Shah & Suresh) as frozen records, one field a line with its
source: the paper's section, or the authors' code (file names of parthushah8/wagan), or
"our choice". `paper` is the authors' protocol; `book` runs it in full for one seed
(hours: the models resume across sittings), its evaluations shrunk; `smoke` is a
minute."""

import dataclasses
from dataclasses import dataclass

SLUG = "wagan"
GANS = {  # method: (β, Wasserstein term in the generator's gradient)
    "AdvGAN": (1.0, None),  # §5 β = 1; advgan.py
    "WAGAN": (0.0, None),  # §5 β = 0; the code's term is detached (no gradient)
    "WAGAN β−": (-1.0, None),  # §5 β = -1
    # §5 β = 1: the same gradients as AdvGAN's, trained again as a run of its own
    # (WAGAN-beta_plus.ipynb, model_wagan_beta_plus.pth), so under another seed
    "WAGAN β+": (1.0, None),
    "WAGAN β+ (∂W)": (1.0, "hinge"),  # extension: the paper's differentiable hinge
}
OWN_RUN = {"WAGAN β+": 1000}  # seed offset of a run that repeats another's training
ATTACKS = ["PGD", "AdvGAN", "WAGAN", "WAGAN β−", "WAGAN β+", "WAGAN β+ (∂W)"]


@dataclass(frozen=True)
class TargetConfig:
    always_on_dropout: bool = True  # models.py: F.dropout(h, 0.5) is on even in eval()
    batch_size: int = 256  # §5; config_original.json
    epochs_target: int = 50  # §5: 20 epochs at 1e-3, then 30 at 1e-4
    switch_after: int = 20  # §5; pipeline.py: a fresh Adam at lr_late after 20 epochs
    lr: float = 1e-3  # §5
    lr_late: float = 1e-4  # §5
    n_train: int = 60_000  # §5: the 60,000 training images
    shuffle: bool = False  # pipeline.py: DataLoader(shuffle=False)


@dataclass(frozen=True)
class GanConfig:
    alpha: float = 10.0  # §5 "α = 10"; in wagan.py it weights the attack loss
    bound: float = 0.3  # wagan.py: the clipping trick clamp(G(x), -0.3, 0.3)
    batch_size: int = 128  # §5
    epochs_gan: int = 60  # §5
    switch_after: int = 49  # wagan.py: fresh Adams at 1e-4 from epoch 50 (1-based)
    lr: float = 1e-3  # §5
    lr_late: float = 1e-4  # §5
    n_train: int = 60_000  # §5: G is trained on the MNIST training set
    sinkhorn_epsilon: float = 0.2  # wasserstein.py: entropic regularisation ε
    sinkhorn_iters: int = 50  # wasserstein.py: max_iter
    sinkhorn_tol: float = 1e-6  # wasserstein.py: stop when mean Σ|Δu|+|Δv| < tol
    sinkhorn_delta: float = 1e-8  # wasserstein.py: added to both denominators
    hinge_c_fraction: float = 0.5  # extension, our choice: c = this × AdvGAN's median
    n_w_log: int = 1024  # our choice: training images whose d_W is logged each epoch


@dataclass(frozen=True)
class PgdConfig:
    eps: float = 0.001  # PGD.ipynb "epsilon" (§5: "maximum difference of 0.003")
    alpha: float = 2 / 255  # PGD.ipynb "learning_rate"
    steps: int = 200  # §5; PGD.ipynb
    batch_size: int = 1024  # PGD.ipynb
    chunk: int = 5_000  # our choice: images a job (a cache entry) attacks, ~15 min


@dataclass(frozen=True)
class RetrainConfig:
    n_train: int = 60_000  # Training.ipynb: all 60,000 adversarial training images
    epochs_pgd: int = 50  # config_pgd_robust.json
    epochs_advgan: int = 30  # config_advgan_original.json
    epochs_beta_zero: int = 10  # config_wagan_beta_zero.json
    epochs_beta_minus: int = 10  # config_wagan_beta_minus.json
    epochs_beta_plus: int = 30  # config_wagan_beta_plus.json (also the extension's)
    batch_pgd: int = 256  # config_pgd_robust.json
    batch_gan: int = 128  # config_*.json of the four GAN sets
    switch_after: int = 20  # config_*.json cutoff_epoch (never reached in 10 epochs)
    lr: float = 1e-3  # config_*.json
    lr_late: float = 1e-4  # config_*.json


@dataclass(frozen=True)
class EvalConfig:
    seeds: int = 1  # the paper reports one run
    n_test: int = 10_000  # §5: the 10,000 test images
    n_autoattack: int = 500  # beyond the paper: the book's common test points
    beyond: str = "book"  # lib.robustness.EFFORTS: the common evaluation, in full
    dropout_draws: int = 5  # Table 1: dropout draws per evaluation (ours)
    n_wasserstein: int = 10_000  # beyond the paper: test images whose d_W is measured


PAPER = (TargetConfig(), GanConfig(), PgdConfig(), RetrainConfig(), EvalConfig())
PROFILES = {
    "paper": PAPER,
    # The authors' protocol in full, one run as the paper's; evaluations shrunk
    "book": (
        *PAPER[:4],
        dataclasses.replace(PAPER[4], n_wasserstein=2_000, dropout_draws=3),
    ),
    "smoke": (
        dataclasses.replace(PAPER[0], epochs_target=1, n_train=2_000),
        dataclasses.replace(
            PAPER[1], epochs_gan=1, switch_after=1, n_train=512, n_w_log=64
        ),
        dataclasses.replace(PAPER[2], eps=0.1, alpha=0.1, steps=1, chunk=256),
        dataclasses.replace(
            PAPER[3],
            n_train=384,
            epochs_pgd=1,
            epochs_advgan=1,
            epochs_beta_zero=1,
            epochs_beta_minus=1,
            epochs_beta_plus=1,
        ),
        dataclasses.replace(
            PAPER[4],
            n_test=300,
            n_autoattack=20,
            beyond="smoke",
            n_wasserstein=100,
            dropout_draws=1,
        ),
    ),
}

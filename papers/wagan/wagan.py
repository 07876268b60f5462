"""WAGAN (Goel, Shah & Suresh): a perturbation generator trained against a fixed target
CNN with an LSGAN discriminator, an attack loss, a perturbation-size term of sign β and
a Sinkhorn term; and the authors' PGD.

The networks and losses follow the authors' code (an AdvGAN port): 28×28 inputs in [0,
1], x_adv = clamp(clamp(G(x), ±bound) + x, 0, 1).
"""

import torch
import torch.nn.functional as F
from torch import nn

from lib.attacks import check_inputs, input_grad
from papers.wagan.sinkhorn import sinkhorn

GAN_BATCH = 128  # the authors' batch (§5): G's BatchNorm, in train mode, depends on it


class TargetNet(nn.Module):
    """The authors' MNIST target: 4 conv3×3 (32, 32, 64, 64), two max-pools,
    FC 1024-200-200-10, logits.

    The code calls F.dropout(h, 0.5) after the first FC layer with its default
    training=True, so dropout is on even in eval(): `always_on_dropout=True` copies
    that; False is the usual eval-mode network (an ablation).
    """

    def __init__(self, always_on_dropout=True):
        super().__init__()
        self.always_on_dropout = always_on_dropout
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.fc1 = nn.Linear(64 * 4 * 4, 200)
        self.head = nn.Sequential(nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))

    def forward(self, x):
        h = F.relu(self.fc1(self.features(x)))
        return self.head(
            F.dropout(h, 0.5, training=self.always_on_dropout or self.training)
        )


class ResnetBlock(nn.Module):
    """x + (reflect-pad, conv3×3 without bias, BatchNorm, ReLU,
    reflect-pad, conv3×3, BatchNorm)(x)."""

    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=False),
            nn.BatchNorm2d(dim),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=False),
            nn.BatchNorm2d(dim),
        )

    def forward(self, x):
        return x + self.block(x)


def generator():
    """AdvGAN's MNIST generator: encoder (28→26→12→5, 8/16/32 channels, InstanceNorm), 4
    residual blocks, decoder (5→11→23→28) and tanh; (N, 1, 28, 28) -> perturbation in
    [-1, 1] of the same shape."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3),
        nn.InstanceNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2),
        nn.InstanceNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2),
        nn.InstanceNorm2d(32),
        nn.ReLU(),
        *[ResnetBlock(32) for _ in range(4)],
        nn.ConvTranspose2d(32, 16, 3, stride=2, bias=False),
        nn.InstanceNorm2d(16),
        nn.ReLU(),
        nn.ConvTranspose2d(16, 8, 3, stride=2, bias=False),
        nn.InstanceNorm2d(8),
        nn.ReLU(),
        nn.ConvTranspose2d(8, 1, 6, bias=False),
        nn.Tanh(),
    )


def discriminator():
    """AdvGAN's MNIST discriminator: conv4×4 s2 (8, 16, 32; BatchNorm after the last
    two; LeakyReLU 0.2), conv1×1 to one unit, sigmoid; (N, 1, 28, 28) -> (N,)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 4, stride=2),
        nn.LeakyReLU(0.2),
        nn.Conv2d(8, 16, 4, stride=2),
        nn.BatchNorm2d(16),
        nn.LeakyReLU(0.2),
        nn.Conv2d(16, 32, 4, stride=2),
        nn.BatchNorm2d(32),
        nn.LeakyReLU(0.2),
        nn.Conv2d(32, 1, 1),
        nn.Sigmoid(),
        nn.Flatten(0),
    )


@torch.no_grad()
def init_weights(module):
    """The authors' initialisation, for module.apply: every (transposed) conv
    weight N(0, 0.02), conv biases kept at PyTorch's default; BatchNorm weight N(1,
    0.02), bias 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        module.weight.normal_(0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        module.weight.normal_(1.0, 0.02)
        module.bias.zero_()


def clip_perturbation(x, perturbation, *, bound):
    """The clipping trick: x_adv = clamp(clamp(perturbation, -bound, bound) + x, 0, 1),
    an L∞ bound."""
    return (perturbation.clamp(-bound, bound) + x).clamp(0, 1)


# Losses, as the authors' code computes them.


def lsgan_d_loss(discriminator, x, x_adv):
    """The discriminator's least-squares loss: MSE(D(x), 1) + MSE(D(x_adv),
    0), x_adv detached."""
    real, fake = discriminator(x), discriminator(x_adv.detach())
    return F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(
        fake, torch.zeros_like(fake)
    )


def lsgan_g_loss(discriminator, x_adv):
    """The generator's least-squares GAN term MSE(D(x_adv), 1)."""
    fake = discriminator(x_adv)
    return F.mse_loss(fake, torch.ones_like(fake))


def attack_loss(logits, y):
    """The untargeted C&W-style loss on softmax probabilities, summed over the batch: Σ
    max(p_y - max_j≠y p_j, 0)."""
    probs = logits.softmax(1)
    true = probs.gather(1, y[:, None]).squeeze(1)
    other = probs.masked_fill(F.one_hot(y, probs.shape[1]).bool(), -1.0).amax(1)
    return (true - other).clamp_min(0).sum()


def perturbation_norm(perturbation):
    """The batch mean of ||G(x)||₂ of the raw generator output, before clipping (no
    hinge, as in the code)."""
    return perturbation.flatten(1).norm(dim=1).mean()


WASSERSTEIN = (None, "detached", "hinge")


def wasserstein_term(x, x_adv, *, mode, hinge_c=0.0, **sinkhorn_kwargs):
    """The Sinkhorn term of the generator's loss. "detached" is the authors' code: the
    batch SUM of the distances from x to x_adv.detach(), which adds a number to the loss
    and no gradient. "hinge" is the paper's E_x max(0, d_W(x, x_adv) - c): a batch mean,
    differentiable through the Sinkhorn iterations. sinkhorn_kwargs: epsilon, iters, tol
    and delta of sinkhorn.sinkhorn."""
    if mode == "detached":
        return sinkhorn(x, x_adv.detach(), **sinkhorn_kwargs).sum()
    if mode == "hinge":
        distance = sinkhorn(x, x_adv, differentiable=True, **sinkhorn_kwargs)
        return (distance - hinge_c).clamp_min(0).mean()
    raise ValueError(f"mode must be one of {WASSERSTEIN[1:]}, got {mode!r}")


# Training: step functions for lib.train.fit; the learning-rate switch
# is fit's after_epoch.


class FreshAdams:
    """One Adam (default betas) per module; once `switch_after` epochs are done, each is
    replaced by a fresh Adam (state reset) at `lr_late`, as the authors' code does. Call
    it as fit's after_epoch, and name it in fit's state to resume a killed run."""

    def __init__(self, *modules, lr, lr_late, switch_after):
        self.modules, self.lr_late, self.switch_after, self.epoch = (
            modules,
            lr_late,
            switch_after,
            0,
        )
        self.optimizers = [torch.optim.Adam(m.parameters(), lr=lr) for m in modules]

    def __call__(self, history=None):
        self.epoch += 1
        if self.epoch == self.switch_after:
            self.switch()

    def switch(self):
        self.optimizers = [
            torch.optim.Adam(m.parameters(), lr=self.lr_late) for m in self.modules
        ]

    def state_dict(self):
        return {
            "epoch": self.epoch,
            "optimizers": [o.state_dict() for o in self.optimizers],
        }

    def load_state_dict(self, state):
        self.epoch = state["epoch"]
        if self.epoch >= self.switch_after:
            self.switch()
        for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)


def classifier_step(model, adams):
    """A target-model training step: one Adam step on the batch's mean cross-entropy."""

    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        optimizer = adams.optimizers[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}

    return step


def discriminator_step(discriminator, x, x_adv, optimizer):
    """One Adam step of D on the LSGAN loss; x_adv is detached."""
    loss = lsgan_d_loss(discriminator, x, x_adv)
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=list(discriminator.parameters()))
    optimizer.step()
    return loss.detach()


def generator_step(
    generator,
    discriminator,
    target,
    x,
    y,
    perturbation,
    x_adv,
    optimizer,
    *,
    alpha,
    beta,
    wasserstein=None,
    hinge_c=0.0,
    sinkhorn_kwargs=None,
):
    """One Adam step of G on MSE(D(x_adv), 1) + alpha·attack_loss + beta·||G(x)||₂ (+
    the Wasserstein term), where x_adv = clip_perturbation(x, perturbation) still
    carries G's graph. Returns the detached terms."""
    terms = {
        "g_gan": lsgan_g_loss(discriminator, x_adv),
        "adv": attack_loss(target(x_adv), y),
        "pert": perturbation_norm(perturbation),
    }
    loss = terms["g_gan"] + alpha * terms["adv"] + beta * terms["pert"]
    if wasserstein is not None:
        terms["wasserstein"] = wasserstein_term(
            x, x_adv, mode=wasserstein, hinge_c=hinge_c, **sinkhorn_kwargs
        )
        loss = loss + terms["wasserstein"]
    optimizer.zero_grad(set_to_none=True)
    # Only G's gradients: D's and the target's are left alone (the code lets
    # them accumulate, unused).
    loss.backward(inputs=list(generator.parameters()))
    optimizer.step()
    return {name: value.detach() for name, value in terms.items()}


def wagan_step(
    generator,
    discriminator,
    target,
    adams,
    *,
    alpha,
    beta,
    bound,
    wasserstein=None,
    hinge_c=0.0,
    sinkhorn_kwargs=None,
):
    """The step function of the game, in the authors' order: x_adv from the current G, a
    D step, then a G step on the same x_adv; `adams` is FreshAdams(generator,
    discriminator, ...). beta = +1 without a Wasserstein term is AdvGAN; "detached" is
    the authors' WAGAN, whose term adds no gradient (so β+ trains exactly as AdvGAN);
    "hinge" is the paper's differentiable term. The target is never updated."""
    if wasserstein not in WASSERSTEIN:
        raise ValueError(
            f"wasserstein must be one of {WASSERSTEIN}, got {wasserstein!r}"
        )
    if wasserstein is not None and not sinkhorn_kwargs:
        raise ValueError(
            "a Wasserstein term needs sinkhorn_kwargs (epsilon, iters, tol, delta)"
        )

    def step(x, y):
        g_optimizer, d_optimizer = adams.optimizers
        perturbation = generator(x)
        x_adv = clip_perturbation(x, perturbation, bound=bound)
        d_loss = discriminator_step(discriminator, x, x_adv, d_optimizer)
        return {
            "d": d_loss,
            **generator_step(
                generator,
                discriminator,
                target,
                x,
                y,
                perturbation,
                x_adv,
                g_optimizer,
                alpha=alpha,
                beta=beta,
                wasserstein=wasserstein,
                hinge_c=hinge_c,
                sinkhorn_kwargs=sinkhorn_kwargs,
            ),
        }

    return step


@torch.no_grad()
def generate(generator, x, *, bound, batch_size=GAN_BATCH):
    """x_adv = clip_perturbation(x, G(x)) in batches, and ||G(x)||₂ per example. G stays
    in the mode it is in: the authors' G was left in train mode, so its BatchNorm used
    each batch's statistics."""
    x_adv, norms = [], []
    for i in range(0, len(x), batch_size):
        perturbation = generator(x[i : i + batch_size])
        x_adv.append(
            clip_perturbation(x[i : i + batch_size], perturbation, bound=bound)
        )
        norms.append(perturbation.flatten(1).norm(dim=1))
    return torch.cat(x_adv), torch.cat(norms)


def iterative_fgsm(model, x, y, *, eps, alpha, steps):
    """The authors' "PGD" (PGD.ipynb): `steps` times x ← clamp(x +
    clamp(alpha·sign(∇ₓCE), -eps, eps), 0, 1).

    The step is clipped to ±eps around the CURRENT iterate, not projected onto a ball
    around the original x, so this is iterative FGSM with step min(alpha, eps), and the
    total L∞ change can reach steps·eps.
    """
    check_inputs(x, y, eps=eps, alpha=alpha, steps=steps)
    x_adv = x.detach().clone()
    for _ in range(steps):
        grad, _ = input_grad(model, x_adv, y)
        x_adv = (x_adv + (alpha * grad.sign()).clamp(-eps, eps)).clamp(0, 1)
    return x_adv

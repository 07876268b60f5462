"""Robust learning with an adversary critic (Matyasko & Chau, NeurIPS 2018).

The classifier is trained against a multiclass critic that tells real images of a class
from the classifier's high-confidence adversarial examples aimed at that class. The
attack that makes those examples is unrolled for a few steps and differentiated through
(second order), so the classifier learns how its own attack moves.
"""

import torch
import torch.nn.functional as F
from torch import nn

from lib.attacks import (
    BOUNDARY_PUSH,
    GRAD_NORM_EPS,
    closest_boundary_from_jacobian,
    jacobian,
    per_sample,
)
from papers.adversary_critic.models import he_init_

ATTACK_STEPS = 5  # §5 of the paper: the iterations of the training attack A_f
ATTACK_OVERSHOOT = 0.05  # the authors' generate_script.py, in training


class RunningConfidence:
    """The per-class running mean of the classifier's confidence on clean images: an EMA
    of each predicted class's mean max-softmax probability, zero-debiased as TF's
    assign_moving_average (so the first update replaces the initial ones outright). A
    class absent from a batch keeps its value."""

    def __init__(self, classes=10, *, decay=0.5, device="cpu"):
        self.decay = decay
        self.biased = torch.zeros(classes, device=device)
        self.updates = 0

    @property
    def value(self):
        """The debiased means, (classes,); all ones before the first update."""
        if self.updates == 0:
            return torch.ones_like(self.biased)
        return self.biased / (1 - self.decay**self.updates)

    @torch.no_grad()
    def update(self, probs):
        """Fold in a batch of softmax outputs (N, classes); returns the new means."""
        confidence, prediction = probs.detach().max(1)
        classes = len(self.biased)
        counts = torch.bincount(prediction, minlength=classes).to(confidence)
        sums = torch.zeros_like(self.biased).index_add_(0, prediction, confidence)
        batch = torch.where(counts > 0, sums / counts.clamp_min(1), self.value)
        self.biased = self.decay * self.biased + (1 - self.decay) * batch
        self.updates += 1
        return self.value

    def state_dict(self):
        return {
            "biased": self.biased.clone(),
            "updates": self.updates,
            "decay": self.decay,
        }

    def load_state_dict(self, state):
        self.biased, self.updates, self.decay = (
            state["biased"].clone(),
            int(state["updates"]),
            state["decay"],
        )


def straight_through_round(p):
    """round(p) in the forward pass, the identity in the backward pass (Bengio
    et al. 2013)."""
    return p + (p.round() - p).detach()


def closest_targets(model, x, labels):
    """DeepFool's closest linearised boundary among k != labels at x: (N,) class
    indices (no gradient)."""
    out, jac = jacobian(model, x)
    return closest_boundary_from_jacobian(out, jac, labels)[0]


def high_confidence_attack_unrolled(
    model,
    x,
    *,
    confidence,
    labels=None,
    targets=None,
    steps=ATTACK_STEPS,
    overshoot=ATTACK_OVERSHOOT,
    differentiable=True,
):
    """Matyasko & Chau (2018)'s training attack A_f, unrolled: `steps` steps r += s
    (1e-4 + |log p_t - log C| / ||w||) w / ||w||, w = ∇x log p_t at x + (1 + overshoot)
    r, where the stop mask s is the running product of round(sigmoid(C - p_t)) (1 while
    p_t < C) with a straight-through gradient. Returns x + (1 + overshoot) r, unclipped.

    targets default to the closest DeepFool boundary of `labels` (default: the model's
    prediction); confidence C is an (N,) tensor or a callable targets -> (N,). With
    differentiable=True the output carries gradients to the model's parameters through
    every step (second order; each step's input x + (1 + overshoot) r is a constant).
    """
    x = x.detach()
    if labels is None:
        with torch.no_grad():
            labels = model(x).argmax(1)
    if targets is None:
        targets = closest_targets(model, x, labels)
    if callable(confidence):
        confidence = confidence(targets)
    rows = torch.arange(len(x), device=x.device)
    log_c = confidence.log()
    r = torch.zeros_like(x)
    going = torch.ones(len(x), dtype=x.dtype, device=x.device)
    with torch.enable_grad():
        for _ in range(steps):
            x_step = (x + (1 + overshoot) * r).detach().requires_grad_(True)
            log_pt = model(x_step).log_softmax(1)[rows, targets]
            going = going * straight_through_round(
                torch.sigmoid(confidence - log_pt.exp())
            )
            w = torch.autograd.grad(log_pt.sum(), x_step, create_graph=differentiable)[
                0
            ]
            w_norm = (GRAD_NORM_EPS + w.flatten(1).pow(2).sum(1)).sqrt()
            step = (
                per_sample(
                    (BOUNDARY_PUSH + (log_pt - log_c).abs() / w_norm) / w_norm, w
                )
                * w
            )
            r = r + per_sample(going, r) * step
            if not differentiable:
                r, going = r.detach(), going.detach()
    x_adv = x + (1 + overshoot) * r
    return x_adv if differentiable else x_adv.detach()


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise to its input, in training and in evaluation alike (as the
    critic of the paper's code)."""

    def __init__(self, std):
        super().__init__()
        self.std = std

    def forward(self, x):
        return x + self.std * torch.randn_like(x) if self.std else x

    def extra_repr(self):
        return f"std={self.std}"


def critic_net(
    hidden=(1200, 1200), classes=10, *, input_noise=0.1, hidden_noise=0.5, leak=0.2
):
    """The multiclass adversary critic (Matyasko & Chau 2018, Fig. 3 and their
    critic_mlp): noise on the flattened image, Linear + LeakyReLU(leak) +
    noise per hidden layer, and one real-vs-adversarial logit per class; He
    weights, zero biases."""
    layers, n_in = [nn.Flatten(), GaussianNoise(input_noise)], 784
    for n_out in hidden:
        layers += [
            nn.Linear(n_in, n_out),
            nn.LeakyReLU(leak),
            GaussianNoise(hidden_noise),
        ]
        n_in = n_out
    layers.append(nn.Linear(n_in, classes))
    return he_init_(nn.Sequential(*layers))


def gradient_penalty(z, x):
    """mean over the batch of (||∇x z_i||_2 - 1)², differentiable (Gulrajani et al.
    2017, at the points x themselves rather than interpolates); z is (N,) and was
    computed from x with x.requires_grad."""
    grad = torch.autograd.grad(z.sum(), x, create_graph=True)[0]
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def critic_loss(critic, x, y, x_adv, y_adv, *, lam_grad):
    """The critic's loss: BCE(D(x)[y], real) + BCE(D(x_adv)[y_adv], adversarial) +
    lam_grad × the gradient penalty at the real and at the adversarial points. x_adv is
    a constant; returns (loss, dict of parts)."""
    rows = torch.arange(len(x), device=x.device)
    x = x.detach().requires_grad_(True)
    x_adv = x_adv.detach().requires_grad_(True)
    z_real = critic(x)[rows, y]
    z_adv = critic(x_adv)[torch.arange(len(x_adv), device=x.device), y_adv]
    gan_real = F.binary_cross_entropy_with_logits(z_real, torch.ones_like(z_real))
    gan_adv = F.binary_cross_entropy_with_logits(z_adv, torch.zeros_like(z_adv))
    penalty = gradient_penalty(z_real, x) + gradient_penalty(z_adv, x_adv)
    loss = gan_real + gan_adv + lam_grad * penalty
    return loss, {
        "critic_loss": loss.detach(),
        "critic_penalty": penalty.detach(),
        "critic_err_real": (z_real.detach() <= 0).float().mean(),
        "critic_err_adv": (z_adv.detach() > 0).float().mean(),
    }


def classifier_loss(
    model,
    critic,
    x,
    y,
    *,
    running,
    lam,
    lam_rec,
    steps=ATTACK_STEPS,
    overshoot=ATTACK_OVERSHOOT,
    targets=None,
):
    """The classifier's loss (Matyasko & Chau 2018, eq. 5-6 as in their code):
    CE(f(x), y) + lam BCE(D(x_hat)[pred(x_hat)], real) + lam_rec mean ||x - A_f(x_hat
    -> pred(x))||²_2, both terms over the examples whose prediction the attack
    changed. x_hat = A_f(x) toward the closest boundary of the prediction at the
    running confidence of its target class; `running` is updated on this batch.
    Returns (loss, parts)."""
    logits = model(x)
    probs = logits.softmax(1)
    confidence, pred = probs.max(1)
    running.update(probs)
    table = running.value
    if targets is None:
        targets = closest_targets(model, x, pred)
    x_hat = high_confidence_attack_unrolled(
        model,
        x,
        confidence=table[targets],
        labels=pred,
        targets=targets,
        steps=steps,
        overshoot=overshoot,
    )
    with torch.no_grad():
        pred_hat = model(x_hat).argmax(1)
    ok = pred_hat != pred
    zero = logits.new_zeros(())
    gan, rec = zero, zero
    if ok.any():
        x_hat_ok = x_hat[ok]
        z = critic(x_hat_ok)[torch.arange(len(x_hat_ok), device=x.device), pred_hat[ok]]
        gan = F.binary_cross_entropy_with_logits(z, torch.ones_like(z))
        # The cycle: the attack run back from the (constant) x_hat toward the original
        # prediction, at the clean confidence of each example; only the successful
        # examples enter the loss, so only they are run.
        x_rec = high_confidence_attack_unrolled(
            model,
            x_hat_ok.detach(),
            confidence=confidence[ok],
            targets=pred[ok],
            steps=steps,
            overshoot=overshoot,
        )
        rec = (x[ok] - x_rec).flatten(1).pow(2).sum(1).mean()
    nll = F.cross_entropy(logits, y)
    loss = nll + lam * gan + lam_rec * rec
    return loss, {
        "loss": loss.detach(),
        "nll": nll.detach(),
        "gan": gan.detach(),
        "rec": rec.detach(),
        "err": (pred != y).float().mean(),
        "attack_success": ok.float().mean(),
        "l2_hat": (x_hat.detach() - x).flatten(1).norm(dim=1).mean(),
        "conf_target": table[targets].mean(),
    }


def critic_step(
    model,
    critic,
    x,
    y,
    *,
    running,
    optimizer,
    lam_grad,
    steps=ATTACK_STEPS,
    overshoot=ATTACK_OVERSHOOT,
    targets=None,
):
    """One step of the critic on x and the classifier's current adversarial examples
    A_f(x) (held constant); updates `running` on x. Only the critic's parameters receive
    gradients. Returns the parts of its loss."""
    with torch.no_grad():
        probs = model(x).softmax(1)
    pred = probs.argmax(1)
    table = running.update(probs)
    if targets is None:
        targets = closest_targets(model, x, pred)
    x_hat = high_confidence_attack_unrolled(
        model,
        x,
        confidence=table[targets],
        labels=pred,
        targets=targets,
        steps=steps,
        overshoot=overshoot,
        differentiable=False,
    )
    with torch.no_grad():
        y_hat = model(x_hat).argmax(1)
    loss, parts = critic_loss(critic, x, y, x_hat, y_hat, lam_grad=lam_grad)
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=list(critic.parameters()))
    optimizer.step()
    return parts


def classifier_step(
    model,
    critic,
    x,
    y,
    *,
    running,
    optimizer,
    lam,
    lam_rec,
    steps=ATTACK_STEPS,
    overshoot=ATTACK_OVERSHOOT,
    targets=None,
):
    """One step of the classifier on classifier_loss; only the classifier's
    parameters receive gradients."""
    loss, parts = classifier_loss(
        model,
        critic,
        x,
        y,
        running=running,
        lam=lam,
        lam_rec=lam_rec,
        steps=steps,
        overshoot=overshoot,
        targets=targets,
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=list(model.parameters()))
    optimizer.step()
    return parts


def adversary_critic_step(
    model,
    critic,
    x,
    y,
    *,
    running,
    optimizer,
    critic_optimizer,
    lam,
    lam_rec,
    lam_grad,
    steps=ATTACK_STEPS,
    overshoot=ATTACK_OVERSHOOT,
):
    """One batch of the game, as the authors' loop: a critic step, then a classifier
    step (for lib.train.fit).

    The attack's targets depend only on the classifier, which the critic step does not
    change, so they are found once and shared by both steps."""
    with torch.no_grad():
        pred = model(x).argmax(1)
    targets = closest_targets(model, x, pred)
    parts = critic_step(
        model,
        critic,
        x,
        y,
        running=running,
        optimizer=critic_optimizer,
        lam_grad=lam_grad,
        steps=steps,
        overshoot=overshoot,
        targets=targets,
    )
    parts.update(
        classifier_step(
            model,
            critic,
            x,
            y,
            running=running,
            optimizer=optimizer,
            lam=lam,
            lam_rec=lam_rec,
            steps=steps,
            overshoot=overshoot,
            targets=targets,
        )
    )
    return parts


def weight_decay_sum(model):
    """Σ ||W||²/2 over every weight matrix and kernel of the model except the last
    layer's (slim's l2_regularizer(1.0) on the authors' model weights but the
    logits)."""
    weights = [
        m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))
    ][:-1]
    return sum(w.pow(2).sum() for w in weights) / 2


def pretrain_step(model, x, y, *, running, optimizer, weight_decay):
    """The 1-epoch pre-training of the paper's code: CE + weight_decay Σ||W||²/2, which
    also seeds the running class confidence (updated on every batch)."""
    logits = model(x)
    running.update(logits.detach().softmax(1))
    nll = F.cross_entropy(logits, y)
    loss = nll + weight_decay * weight_decay_sum(model)
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=list(model.parameters()))
    optimizer.step()
    return {
        "loss": loss.detach(),
        "nll": nll.detach(),
        "err": (logits.detach().argmax(1) != y).float().mean(),
    }

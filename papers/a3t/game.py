"""A3T (Erraqabi et al. 2018): a classifier split into encoder E and residual R, trained
jointly with a discriminator D that tells E's features of clean inputs from those of
their FGSM examples.

The classifier is `nn.Sequential(encoder, residual)`; D maps a feature to one logit
(real = 1, adversarial = 0). The FGSM examples are clipped to [0, 1] unless
`clip=False`: the paper does not say, and Goodfellow et al. did not clip. Two readings
of the game are options: `normalize_features` (D sees E(x) / ||E(x)||_2) and
`discriminator_steps` (k D updates per classifier update).
"""

import torch
import torch.nn.functional as F

from lib.attacks import fgsm, input_grad
from lib.metrics import EVAL_BATCH
from lib.stack import halves, join, member_loss, member_mean, members, total
from lib.train import fit

STATS = ("loss_cls", "loss_enc", "loss_disc", "acc_real", "acc_adv", "acc_disc")


def fgsm_examples(classifier, x, y, *, eps, clip=True):
    """FGSM examples x + eps * sign(∇x CE): lib.attacks.fgsm's, clipped to [0, 1]; with
    clip=False as Goodfellow et al. (2015) made them, free to leave [0, 1] where the
    sign points out of it. Detached."""
    if clip:
        return fgsm(classifier, x, y, eps=eps).detach()
    grad, _ = input_grad(classifier, x, y)
    return x.detach() + eps * grad.sign()


def features(z, normalize):
    """What D sees of the features z = E(x): z itself, or with `normalize` each row
    scaled to unit L2 norm (a reading against A3T's growing feature norms)."""
    return F.normalize(z.flatten(1), dim=1).view_as(z) if normalize else z


def discriminator_step(discriminator, z, z_adv, optimizer, *, normalize=False):
    """One BCE step of D on features z = E(x) (target 1) and z_adv = E(x_adv) (target
    0); returns D's loss and accuracy on the batch. The features are detached, so
    nothing reaches E; `normalize`: see features."""
    stacked = members(discriminator)
    z, z_adv = features(z, normalize), features(z_adv, normalize)
    target = join(
        torch.ones(len(z), device=z.device),
        torch.zeros(len(z_adv), device=z.device),
        stacked,
    )
    logits = discriminator(join(z, z_adv, stacked).detach()).squeeze(1)
    loss = member_loss(F.binary_cross_entropy_with_logits, logits, target, stacked)
    optimizer.zero_grad(set_to_none=True)
    total(loss).backward()
    optimizer.step()
    return loss.detach(), member_mean(
        ((logits.detach() > 0).float() == target).float(), stacked
    )


def classifier_step(
    classifier,
    discriminator,
    z,
    z_adv,
    y,
    optimizer,
    *,
    alpha,
    beta,
    normalize=False,
):
    """One step of the classifier on L_cls + L_enc, from z = E(x) and z_adv = E(x_adv)
    with their graphs: L_cls = -α log P(y|x) - (1-α) log P(y|x_adv), L_enc = -β log
    D(E(x_adv)) (D on features(z_adv, normalize)). L_enc reaches only E; D is
    untouched. Returns L_cls, L_enc and the classifier's accuracies on x and x_adv."""
    stacked = members(classifier, discriminator)
    logits, logits_adv = halves(classifier[1](join(z, z_adv, stacked)), stacked)
    loss_cls = alpha * member_loss(F.cross_entropy, logits, y, stacked) + (
        1 - alpha
    ) * member_loss(F.cross_entropy, logits_adv, y, stacked)
    loss_enc = torch.zeros_like(loss_cls)
    if beta > 0:
        logit_d = discriminator(features(z_adv, normalize)).squeeze(1)
        # -log D = BCE against the "real" label: E learns to make its adversarial
        # features look real.
        loss_enc = beta * member_loss(
            F.binary_cross_entropy_with_logits,
            logit_d,
            torch.ones_like(logit_d),
            stacked,
        )
    optimizer.zero_grad(set_to_none=True)
    # inputs=: D's parameters get no gradient; R's gradient comes from L_cls alone, as R
    # is not on L_enc's path.
    total(loss_cls + loss_enc).backward(inputs=list(classifier.parameters()))
    optimizer.step()
    return (
        loss_cls.detach(),
        loss_enc.detach(),
        member_mean((logits.detach().argmax(1) == y).float(), stacked),
        member_mean((logits_adv.detach().argmax(1) == y).float(), stacked),
    )


def a3t_step(
    classifier,
    discriminator,
    x,
    y,
    *,
    eps,
    alpha,
    beta,
    classifier_optimizer,
    discriminator_optimizer,
    clip=True,
    normalize_features=False,
    discriminator_steps=1,
):
    """One A3T iteration: FGSM examples of the current classifier (clipped to [0, 1]
    unless clip=False), `discriminator_steps` D updates on them (their mean loss and
    accuracy reported), then one classifier update. Returns a dict of the batch's
    statistics (0-dim tensors on the device, one value per member on a stack), keyed
    as STATS."""
    if discriminator_steps < 1:
        raise ValueError(f"discriminator_steps must be >= 1, got {discriminator_steps}")
    x_adv = fgsm_examples(classifier, x, y, eps=eps, clip=clip)
    # One forward pass of E serves both steps: D's step does not change E, so the
    # graph stays valid.
    stacked = members(classifier)
    z, z_adv = halves(classifier[0](join(x, x_adv, stacked)), stacked)
    disc = [
        discriminator_step(
            discriminator,
            z,
            z_adv,
            discriminator_optimizer,
            normalize=normalize_features,
        )
        for _ in range(discriminator_steps)
    ]
    # one step's numbers as they were; k steps' averaged
    loss_disc, acc_disc = (
        sum(values) / len(disc) for values in zip(*disc, strict=True)
    )
    loss_cls, loss_enc, acc_real, acc_adv = classifier_step(
        classifier,
        discriminator,
        z,
        z_adv,
        y,
        classifier_optimizer,
        alpha=alpha,
        beta=beta,
        normalize=normalize_features,
    )
    return dict(
        zip(
            STATS,
            (loss_cls, loss_enc, loss_disc, acc_real, acc_adv, acc_disc),
            strict=True,
        )
    )


def train_a3t(
    classifier,
    discriminator,
    batches,
    *,
    epochs,
    eps,
    alpha,
    beta,
    classifier_optimizer,
    discriminator_optimizer,
    clip=True,
    normalize_features=False,
    discriminator_steps=1,
    evaluate=None,
    progress=False,
    desc="A3T",
):
    """Run a3t_step over every batch for `epochs` epochs; return {stat: [per-epoch mean
    over the batches]}.

    α=1, β=0 is plain training; α=½, β=0 is 50/50 FGSM adversarial training (D is
    then a passive probe). `evaluate(classifier, discriminator) -> {name: float}`
    runs after each epoch (a validation set, say; on a stack, one list of member
    values per name), and its values are appended to the history under their own
    names; it measures the models and keeps no state of its own, so a run killed in
    the cache resumes at its last epoch. `clip`: see fgsm_examples;
    `normalize_features` and `discriminator_steps`: see a3t_step.
    """

    def step(x, y):
        return a3t_step(
            classifier,
            discriminator,
            x,
            y,
            eps=eps,
            alpha=alpha,
            beta=beta,
            classifier_optimizer=classifier_optimizer,
            discriminator_optimizer=discriminator_optimizer,
            clip=clip,
            normalize_features=normalize_features,
            discriminator_steps=discriminator_steps,
        )

    after_epoch = (
        None
        if evaluate is None
        else lambda history: evaluate(classifier, discriminator)
    )
    history = fit(
        step,
        batches,
        epochs=epochs,
        modules=(classifier, discriminator),
        after_epoch=after_epoch,
        progress=progress,
        desc=desc,
        # evaluate's values are kept in the history: a resumed run needs no more of it
        state=(classifier_optimizer, discriminator_optimizer),
    )
    return {name: [] for name in STATS} | history


def game_metrics(
    classifier,
    discriminator,
    x,
    y,
    *,
    eps,
    clip=True,
    normalize_features=False,
    batch_size=EVAL_BATCH,
):
    """In eval mode (modes restored after): classifier accuracy on x and on FGSM(eps)
    examples (clipped unless clip=False), D's accuracy on E(x) vs E(x_adv) (as D sees
    them: see features), and the mean L2 norms ||E(x) - E(x_adv)|| and ||E(x)||."""
    modes = classifier.training, discriminator.training
    classifier.eval()
    discriminator.eval()
    encoder, residual = classifier[0], classifier[1]
    sums = dict.fromkeys(
        ("acc_real", "acc_adv", "acc_disc", "feature_distance", "feature_norm"), 0.0
    )
    try:
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            x_adv = fgsm_examples(classifier, xb, yb, eps=eps, clip=clip)
            with torch.no_grad():
                z, z_adv = encoder(xb), encoder(x_adv)
                d_real, d_adv = (
                    discriminator(features(z, normalize_features)).squeeze(1),
                    discriminator(features(z_adv, normalize_features)).squeeze(1),
                )
                sums["acc_real"] += (residual(z).argmax(1) == yb).sum().item()
                sums["acc_adv"] += (residual(z_adv).argmax(1) == yb).sum().item()
                sums["acc_disc"] += ((d_real > 0).sum() + (d_adv <= 0).sum()).item() / 2
                sums["feature_distance"] += (
                    (z - z_adv).flatten(1).norm(dim=1).sum().item()
                )
                sums["feature_norm"] += z.flatten(1).norm(dim=1).sum().item()
    finally:
        classifier.train(modes[0])
        discriminator.train(modes[1])
    return {name: total / len(x) for name, total in sums.items()}

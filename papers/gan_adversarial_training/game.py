"""Dhillon & Pavse's game: a learned adversary ascends the defender's loss while the
defender descends it on half-clean, half-adversarial batches."""

import torch
import torch.nn.functional as F

from lib.stack import join, member_loss, members, total
from lib.train import fit, last_value_hook, resumable


def adversary_step(adversary, defender, x, y, optimizer, *, loss_fn=F.cross_entropy):
    """One ascent step of the adversary on the defender's loss; returns the detached
    x_adv and that loss."""
    x_adv = adversary(x)
    loss = member_loss(loss_fn, defender(x_adv), y, members(adversary, defender))
    optimizer.zero_grad(set_to_none=True)
    # Only the adversary's gradients are touched
    (-total(loss)).backward(inputs=list(adversary.parameters()))
    optimizer.step()
    return x_adv.detach(), loss.detach()


def defender_step(
    defender,
    x,
    x_adv,
    y,
    optimizer,
    *,
    loss_fn=F.cross_entropy,
    separate_batch_norm=False,
):
    """One descent step of the defender on a batch that is half clean, half
    adversarial: one forward pass over both halves, or with `separate_batch_norm` one
    pass per half (each half's own batch-norm statistics; a reading of §4.5, where the
    paper's GAN defenders match its vanilla model)."""
    stacked = members(defender)
    if separate_batch_norm:
        loss = (
            member_loss(loss_fn, defender(x), y, stacked)
            + member_loss(loss_fn, defender(x_adv), y, stacked)
        ) / 2
    else:
        loss = member_loss(
            loss_fn, defender(join(x, x_adv, stacked)), join(y, y, stacked), stacked
        )
    optimizer.zero_grad(set_to_none=True)
    total(loss).backward()
    optimizer.step()
    return loss.detach()


def train_game(
    adversary,
    defender,
    batches,
    *,
    epochs,
    adversary_optimizer,
    defender_optimizer=None,
    defender_eval_for_adversary=False,
    loss_fn=F.cross_entropy,
    separate_batch_norm=False,
    after_epoch=None,
    progress=False,
    desc="game",
):
    """Alternate adversary and defender steps on every batch (Dhillon & Pavse §3).

    Without a defender optimizer the defender is frozen in eval mode and only the
    adversary learns (the pre-training of §4.5). The defender is in train mode during
    the adversary's step (its batch-norm statistics then also follow the adversarial
    batch), unless `defender_eval_for_adversary`: the paper does not say. `loss_fn`
    (logits, y, reduction=...) is both players' loss (papers/gan_adversarial_training/
    losses.py has the paper's readings); `separate_batch_norm`: see defender_step.
    Returns per-epoch mean losses {"adversary": [...], "defender": [...]}.
    """

    def step(x, y):
        if defender_eval_for_adversary:
            defender.eval()
        x_adv, adversary_loss = adversary_step(
            adversary, defender, x, y, adversary_optimizer, loss_fn=loss_fn
        )
        if defender_optimizer is None:
            return {
                "adversary": adversary_loss,
                "defender": torch.zeros_like(adversary_loss),
            }
        if defender_eval_for_adversary:
            defender.train()
        # Both players answer the same perturbations: a simultaneous move, as in a GAN.
        return {
            "adversary": adversary_loss,
            "defender": defender_step(
                defender,
                x,
                x_adv,
                y,
                defender_optimizer,
                loss_fn=loss_fn,
                separate_batch_norm=separate_batch_norm,
            ),
        }

    playing = defender_optimizer is not None
    history = fit(
        step,
        batches,
        epochs=epochs,
        modules=(adversary, defender) if playing else (adversary,),
        frozen=() if playing else (defender,),
        after_epoch=last_value_hook(after_epoch, "defender"),
        progress=progress,
        desc=desc,
        state=resumable(
            adversary_optimizer,
            *([defender_optimizer] if playing else []),
            after_epoch=after_epoch,
        ),
    )
    return {"adversary": [], "defender": []} | history

"""Learning with adversary (Huang et al. 2015): train only on pseudo-samples h + c r /
||r||_2, where h is the input (Algorithm 2) or the output of a representation
sub-network (Algorithm 3) and r an attack direction at h."""

import torch
import torch.nn.functional as F

from lib.attacks import closest_boundary, input_grad, l2_direction, per_sample
from lib.stack import member_loss, members, total
from lib.train import fit, last_value_hook, resumable


def alpha_direction(head, h, y):
    """Algorithm 1's direction at h (any shape, any range): ∇α_j - ∇α_y for the class
    j != y whose linearised softmax boundary is closest, with α = softmax(head(h));
    shape of h."""
    # attacks.adv_alpha's direction, without its check that h lies in [0, 1]: h may
    # be a hidden activation.
    return closest_boundary(head, h, y, probs=True)[2]


def loss_direction(head, h, y):
    """§3.1.1's L2 direction at h: ∇_h CE(head(h), y), the direction of Adv_Loss;
    shape of h."""
    return input_grad(head, h, y)[0]


def pseudo_sample(head, h, y, *, c, direction, relative_c=False):
    """h + c r / ||r||_2 per example, r = direction(head, h, y) (Algorithm 2 line 5,
    Algorithm 3 line 7). r is held fixed (Proposition 3.1: the gradient is taken at the
    maximiser), but h keeps its graph, so a loss on the pseudo-sample still trains the
    representation network that made h. With `relative_c` the step is c ||h||_2 (a
    reading of Algorithm 3's c that growing features cannot escape)."""
    r = c * l2_direction(direction(head, h.detach(), y))
    if relative_c:
        r = r * per_sample(h.detach().flatten(1).norm(dim=1), h)
    return h + r.detach()


def train_lwa(
    rep,
    head,
    batches,
    *,
    epochs,
    optimizer,
    c,
    direction,
    relative_c=False,
    after_epoch=None,
    progress=False,
    desc="LWA",
):
    """Algorithms 2 and 3: each batch, one optimizer step on CE(head(pseudo-samples of
    rep(x))) only, no clean term (rep = nn.Identity() perturbs the input). `c` is a
    number, or on a stack one number per member (a sweep over c as one stacked model);
    `relative_c`: c is a fraction of each sample's ||h||_2 (see pseudo_sample).
    Returns the mean loss of each epoch; after_epoch(loss) runs after each one."""
    stacked = members(rep, head)
    if not isinstance(c, (int, float)) and (stacked is None or len(c) != stacked):
        raise ValueError(
            f"c must be a number, or one number per member of a stack, got {c!r}"
        )

    def magnitude(h):
        """c, or each member's c repeated over its block of h's rows, shaped to
        broadcast against h."""
        if isinstance(c, (int, float)):
            return c
        rows = torch.as_tensor(c, dtype=h.dtype, device=h.device).repeat_interleave(
            len(h) // stacked
        )
        return rows.view(-1, *[1] * (h.dim() - 1))

    def step(x, y):
        h = rep(x)
        x_hat = pseudo_sample(
            head, h, y, c=magnitude(h), direction=direction, relative_c=relative_c
        )
        loss = member_loss(F.cross_entropy, head(x_hat), y, stacked)
        optimizer.zero_grad(set_to_none=True)
        total(loss).backward()
        optimizer.step()
        return {"loss": loss}

    return fit(
        step,
        batches,
        epochs=epochs,
        modules=(rep, head),
        after_epoch=last_value_hook(after_epoch, "loss"),
        progress=progress,
        desc=desc,
        state=resumable(optimizer, after_epoch=after_epoch),
    ).get("loss", [])

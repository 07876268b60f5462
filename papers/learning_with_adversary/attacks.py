"""Huang et al. (2015)'s one-step L2 attacks: Adv_Loss, Adv_Loss_Sign and Adv_Alpha."""

import torch.nn.functional as F

from lib.attacks import check_inputs, closest_boundary, input_grad, l2_direction


def adv_loss(model, x, y, *, eps, clip=True, loss_fn=F.cross_entropy):
    """Huang et al. (2015)'s Adv_Loss: x + eps ∇x loss / ||∇x loss||_2, an L2 step of
    length eps (then clipped to [0, 1] with clip)."""
    check_inputs(x, y, eps=eps)
    x = x.detach()
    grad, _ = input_grad(model, x, y, loss_fn)
    x_adv = x + eps * l2_direction(grad)
    return x_adv.clamp(0, 1) if clip else x_adv


def adv_loss_sign(model, x, y, *, eps, clip=True, loss_fn=F.cross_entropy):
    """Huang et al. (2015)'s Adv_Loss_Sign: the FGSM direction sign(∇x loss) rescaled to
    L2 norm eps."""
    check_inputs(x, y, eps=eps)
    x = x.detach()
    grad, _ = input_grad(model, x, y, loss_fn)
    x_adv = x + eps * l2_direction(grad.sign())
    return x_adv.clamp(0, 1) if clip else x_adv


def adv_alpha(model, x, y, *, eps, clip=True):
    """Huang et al. (2015)'s Adv_Alpha (Algorithm 1): one DeepFool step on the softmax
    outputs α toward the class j != y with the smallest |α_y - α_j| / ||∇α_j - ∇α_y||_2,
    along ∇α_j - ∇α_y rescaled to L2 norm eps."""
    check_inputs(x, y, eps=eps)
    x = x.detach()
    # The paper's r_j carries the sign of α_y - α_j; we always push away from y, which
    # is the same for a correctly classified x and keeps a misclassified one from being
    # pushed back to y.
    direction = closest_boundary(model, x, y, probs=True)[2]
    x_adv = x + eps * l2_direction(direction)
    return x_adv.clamp(0, 1) if clip else x_adv

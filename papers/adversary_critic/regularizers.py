"""The baselines of Matyasko & Chau (2018) as losses and step functions for
lib.train.fit: adversarial training (Goodfellow et al. 2015), virtual adversarial
training (Miyato et al. 2016) and L2 margin maximization (Matyasko & Chau 2017), each as
the author's margin_maximization code computes it."""

import torch
import torch.nn.functional as F

from lib.attacks import jacobian
from papers.adversary_critic.attacks import VAT_XI, vat


def at_loss(model, x, y, *, eps, weight=1.0):
    """CE(f(x), y) + weight CE(f(x + eps sign ∇x CE), y): the FGSM perturbation is a
    constant, made with the true labels and not clipped to [0, 1], as the author's code.
    Returns (loss, logits of x)."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    ce = F.cross_entropy(logits, y, reduction="none")
    # The summed loss gives each example its own gradient; the clean graph is kept for
    # the loss below.
    grad = torch.autograd.grad(ce.sum(), x, retain_graph=True)[0]
    logits_adv = model(x.detach() + eps * grad.sign())
    return ce.mean() + weight * F.cross_entropy(logits_adv, y), logits


def vat_loss(model, x, y, *, eps, xi=VAT_XI, weight=1.0, seed=None):
    """CE(f(x), y) + weight KL(p(x) || p(x + r_vadv)), with p(x) a constant and r_vadv
    the virtual adversarial perturbation of L2 norm eps from one power iteration
    (unclipped). Returns (loss, logits of x)."""
    x_adv = vat(model, x, eps=eps, xi=xi, seed=seed, clip=False)
    logits, logits_adv = model(torch.cat([x, x_adv])).chunk(2)
    log_p = logits.detach().log_softmax(1)
    kl = (log_p.exp() * (log_p - logits_adv.log_softmax(1))).sum(1).mean()
    return F.cross_entropy(logits, y) + weight * kl, logits


def multiclass_hinge(logits, y, delta=1.0):
    """mean of max(0, delta + max_{j != y} z_j - z_y) (Lasagne's
    multiclass_hinge_loss)."""
    rows = torch.arange(len(y), device=y.device)
    other = logits.scatter(1, y.unsqueeze(1), float("-inf")).amax(1)
    return (delta + other - logits[rows, y]).clamp_min(0).mean()


def margin_penalty(model, x, y):
    """mean over the batch of ||∇x z_y - ∇x z_l||²_2 with l = argmax_j ||∇x z_j - ∇x
    z_y||² held constant (the sensitivity of the author's L2 margin maximization);
    differentiable in the model's parameters. Returns (penalty, logits of x)."""
    rows = torch.arange(len(y), device=y.device)
    _, jac = jacobian(model, x)  # the class choice needs no gradient
    far = (jac - jac[rows, y].unsqueeze(1)).flatten(2).pow(2).sum(2).argmax(1)
    x = x.detach().requires_grad_(True)
    logits = model(x)
    grad = torch.autograd.grad(
        (logits[rows, y] - logits[rows, far]).sum(), x, create_graph=True
    )[0]
    return grad.flatten(1).pow(2).sum(1).mean(), logits


def mm_loss(model, x, y, *, lam):
    """Margin maximization: the multiclass hinge loss + lam × margin_penalty. Returns
    (loss, logits of x)."""
    penalty, logits = margin_penalty(model, x, y)
    return multiclass_hinge(logits, y) + lam * penalty, logits


def ce_loss(model, x, y):
    """Plain cross-entropy (the Reference network). Returns (loss, logits of x)."""
    logits = model(x)
    return F.cross_entropy(logits, y), logits


def regularized_step(loss_fn, model, x, y, *, optimizer):
    """One optimizer step of the model on loss_fn(model, x, y) -> (loss, logits);
    returns the loss and the batch's training error (for lib.train.fit)."""
    loss, logits = loss_fn(model, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=list(model.parameters()))
    optimizer.step()
    return {
        "loss": loss.detach(),
        "err": (logits.detach().argmax(1) != y).float().mean(),
    }

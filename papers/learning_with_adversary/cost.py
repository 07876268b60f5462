"""§4.1's cost of Adv_Alpha against Adv_Loss counted in floating-point operations, as
well as timed. The paper's "d times the computation complexity" counts gradients:
∂α/∂x is d of them (one a class) where ∂ℓ/∂x is one. A wall time also counts the
forward pass both share, and a backward pass to the input costs about what a forward
pass does, so it cannot show d. Here each operator's operations come from PyTorch's
formula for it (`torch.utils.flop_counter`), those of the backward passes apart."""

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map
from torch.utils.flop_counter import flop_registry

from lib.data import load_mnist
from papers.learning_with_adversary.attacks import adv_alpha, adv_loss
from papers.learning_with_adversary.models import caffe_lenet


class FlopCount(TorchDispatchMode):
    """Within it, `total` and `gradients` (those run by the autograd engine) count
    the floating-point operations of every operator PyTorch has a formula for."""

    def __init__(self):
        super().__init__()
        self.total = self.gradients = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            n = formula(*shapes(args), **shapes(kwargs), out_val=shapes(out))
            self.total += n
            # ≥ 0 only while the autograd engine runs a backward pass (private, but
            # the one way to tell; torch is pinned)
            if torch._C._current_graph_task_id() >= 0:
                self.gradients += n
        return out


def shapes(tree):
    return tree_map(lambda t: t.shape if isinstance(t, torch.Tensor) else t, tree)


def counted(attack, model, x, y, **kwargs):
    """(all, gradients): the floating-point operations of one call of attack."""
    with FlopCount() as count:
        attack(model, x, y, **kwargs)
    return count.total, count.gradients


def ratios(model, x, y, slow, fast, **kwargs):
    """{"all": ..., "gradients": ...}: slow's operations over fast's, on the same
    model and images (counts depend on the architecture, not on the weights)."""
    (slow_all, slow_grad), (fast_all, fast_grad) = (
        counted(a, model, x, y, **kwargs) for a in (slow, fast)
    )
    return {"all": slow_all / fast_all, "gradients": slow_grad / fast_grad}


def readings(seeds, device="cpu", n=100):
    """The cost claim's readings, (name, ratio a seed), on a LeNet and n test images:
    Adv_Alpha's operations over Adv_Loss's, all of them and the gradients' alone (the
    paper's count). The same on every seed: counts depend on the layers and the batch's
    shape, not on the weights or the pixels."""
    x, y = load_mnist("test", device=device)
    measured = ratios(
        caffe_lenet().to(device), x[:n], y[:n], adv_alpha, adv_loss, eps=1.0
    )
    return [
        ("counted in operations, all of them", [measured["all"]] * len(seeds)),
        (
            "counted in the gradients' operations, as the paper counts",
            [measured["gradients"]] * len(seeds),
        ),
    ]

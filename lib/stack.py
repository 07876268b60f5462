"""Many same-architecture models trained as one: a stack (PyTorch's model-ensembling
idea, as plain layers).

A stack of E members is the members' own module tree in which every Linear, Conv2d and
BatchNorm layer holds the E members' parameters along a leading dimension. It is a plain
batched model: its batch is E equal blocks, block e holding member e's examples, so
attacks and the library's step functions run on it unchanged. The helpers below (join,
halves, member_mean, member_loss) keep each member's numbers its own; with
`members=None` (a plain model) they are the plain operations.
"""

import copy
import ctypes
import ctypes.util
import functools
import sys

import torch
import torch.nn.functional as F
from torch import nn

from lib.runtime import seed_everything


def _stacked(layers, name, transpose=False):
    """The E layers' tensor `name` stacked along a new first dimension (each transposed
    if asked), as a parameter when it is one."""
    tensors = [getattr(layer, name) for layer in layers]
    value = torch.stack([t.detach().T if transpose else t.detach() for t in tensors])
    if isinstance(tensors[0], nn.Parameter):
        return nn.Parameter(value, requires_grad=tensors[0].requires_grad)
    return value


def _check_same_settings(layers):
    """Raise ValueError unless the layers agree on every setting (eps, momentum, stride,
    squash, ...): a stack runs all its members with the first one's."""
    settings = [
        {
            k: v
            for k, v in vars(layer).items()
            if not k.startswith("_") and k != "training"
        }
        for layer in layers
    ]
    if any(other != settings[0] for other in settings[1:]):
        raise ValueError(
            f"cannot stack {type(layers[0]).__name__}s "
            f"whose settings differ: {settings}"
        )


def _blocks(x, members):
    """(E*B, C, ...) member-major -> (B, E*C, ...): each member's channels side by side,
    for a grouped layer."""
    return x.unflatten(0, (members, -1)).transpose(0, 1).flatten(1, 2)


def _unblocks(x, members):
    """The inverse of _blocks: (B, E*C, ...) -> (E*B, C, ...)."""
    return x.unflatten(1, (members, -1)).transpose(0, 1).flatten(0, 1)


class _StackedLayer(nn.Module):
    """A layer holding E members' tensors; `member(e)` gives back member e as the
    original plain layer."""

    TENSORS = ()
    TRANSPOSED = ()  # tensors held transposed, each member's as its .T

    def __init__(self, layers):
        super().__init__()
        _check_same_settings(layers)
        # a tuple: kept out of the module tree
        self._template = (copy.deepcopy(layers[0]),)
        for name in self.TENSORS:
            value = _stacked(layers, name, name in self.TRANSPOSED)
            if isinstance(value, nn.Parameter):
                self.register_parameter(name, value)
            else:
                self.register_buffer(name, value)
        self.train(layers[0].training)

    @property
    def members(self):
        return len(getattr(self, self.TENSORS[0]))

    def member(self, e):
        layer = copy.deepcopy(self._template[0])
        layer.load_state_dict(
            {
                name: value[e].T if name in self.TRANSPOSED else value[e]
                for name, value in self.state_dict().items()
            }
        )
        return layer.train(self.training)


class StackedLinear(_StackedLayer):
    """E linear layers as one batched matmul; the weights are held (E, in, out), so that
    their gradient comes out of the matmul in their own layout (no copy)."""

    TENSORS = ("weight", "bias")
    TRANSPOSED = ("weight",)

    def forward(self, x):
        h = x.unflatten(0, (self.members, -1))
        return torch.baddbmm(self.bias.unsqueeze(1), h, self.weight).flatten(0, 1)


class StackedConv2d(_StackedLayer):
    """E convolutions as one grouped convolution."""

    TENSORS = ("weight", "bias")

    def forward(self, x):
        conv = self._template[0]
        out = F.conv2d(
            _blocks(x, self.members),
            self.weight.flatten(0, 1),
            self.bias.flatten(),
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups * self.members,
        )
        return _unblocks(out, self.members)


class StackedBatchNorm(_StackedLayer):
    """E batch norms as one over the E members' channels side by side: each member's
    statistics are its own."""

    TENSORS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")

    def forward(self, x):
        norm = self._template[0]
        if self.training:
            self.num_batches_tracked.add_(1)
        # The flat views share the buffers' memory, so batch_norm updates every
        # member's running statistics.
        out = F.batch_norm(
            _blocks(x, self.members),
            self.running_mean.view(-1),
            self.running_var.view(-1),
            self.weight.view(-1),
            self.bias.view(-1),
            self.training,
            norm.momentum,
            norm.eps,
        )
        return _unblocks(out, self.members)


def _stacked_layer(layer):
    """The stacked class of a layer type, or None for a layer without tensors
    of its own."""
    if type(layer) is nn.Linear and layer.bias is not None:
        return StackedLinear
    if (
        type(layer) is nn.Conv2d
        and layer.bias is not None
        and layer.padding_mode == "zeros"
    ):
        return StackedConv2d
    if (
        type(layer) in (nn.BatchNorm1d, nn.BatchNorm2d)
        and layer.affine
        and layer.track_running_stats
        and layer.momentum is not None
    ):
        return StackedBatchNorm
    if (
        next(layer.parameters(recurse=False), None) is None
        and next(layer.buffers(recurse=False), None) is None
    ):
        return None
    raise ValueError(
        f"cannot stack {layer!r}: only Linear and Conv2d with a bias, "
        "affine BatchNorm with running statistics and a momentum, and layers "
        "without tensors of their own"
    )


@functools.cache
def reuse_freed_memory():
    """Make glibc keep freed memory for reuse. It maps each allocation above 32 MB
    afresh and unmaps it when freed, and a stack's tensors are that large: on this kind
    of virtual machine the page faults then cost more than the arithmetic (a 40 MB
    product takes 160 ms instead of 25 ms). Other C libraries are left as they are."""
    if not sys.platform.startswith("linux") or not ctypes.util.find_library("c"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if hasattr(libc, "mallopt"):
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 1 << 30)
        libc.mallopt(m_trim_threshold, 1 << 30)


def stack(models):
    """One module of the models' common architecture, holding all of them (see
    the module docstring)."""
    if not models:
        raise ValueError(
            "models must be a non-empty list of modules of one architecture"
        )
    reuse_freed_memory()

    def build(layers):
        kind = _stacked_layer(layers[0])
        if kind is not None:
            return kind(layers)
        _check_same_settings(layers)
        # Its own attributes (eps, squash, ...); children replaced below
        module = copy.copy(layers[0])
        module._parameters, module._buffers = {}, {}
        module._modules = {
            name: build([layer._modules[name] for layer in layers])
            for name in layers[0]._modules
        }
        return module

    return build(list(models))


def stack_seeds(make, seeds):
    """make() once per seed, each under seed_everything(seed), stacked: one stack per
    module that make returns (a tuple of stacks when it returns a tuple), member e being
    what make() gives under seeds[e]."""
    if not seeds:
        raise ValueError("seeds must be a non-empty list of integers")
    built = []
    for seed in seeds:
        seed_everything(seed)
        made = make()
        built.append(made if isinstance(made, tuple) else (made,))
    stacks = tuple(stack(list(modules)) for modules in zip(*built, strict=True))
    return stacks if len(stacks) > 1 else stacks[0]


def _stacked_layers(module):
    return [m for m in module.modules() if isinstance(m, _StackedLayer)]


def members(*modules):
    """The number of members of the stack(s) among `modules`, or None when they
    are plain models."""
    counts = {layer.members for module in modules for layer in _stacked_layers(module)}
    if len(counts) > 1:
        raise ValueError(f"stacks of different sizes: {sorted(counts)}")
    return counts.pop() if counts else None


def unstack(stacked):
    """The members of a stack as E ordinary modules with their own trained tensors, in
    the stack's mode."""
    layers = _stacked_layers(stacked)
    # deepcopy's memo swaps each stacked layer for its plain member and copies the rest
    # of the tree.
    return [
        copy.deepcopy(stacked, memo={id(layer): layer.member(e) for layer in layers})
        for e in range(members(stacked))
    ]


def join(a, b, members):
    """Each member's block of a followed by its block of b (torch.cat([a, b]) for
    a plain model)."""
    if members is None:
        return torch.cat([a, b])
    return torch.cat(
        [a.unflatten(0, (members, -1)), b.unflatten(0, (members, -1))], 1
    ).flatten(0, 1)


def halves(t, members):
    """The inverse of join: (a, b) from each member's block of t (t.chunk(2) for
    a plain model)."""
    if members is None:
        return t.chunk(2)
    return tuple(
        half.flatten(0, 1) for half in t.unflatten(0, (members, -1)).chunk(2, 1)
    )


def member_mean(values, members):
    """The mean of per-example values over each member's block: (E,), or the
    plain 0-dim mean."""
    return (
        values.mean() if members is None else values.unflatten(0, (members, -1)).mean(1)
    )


def member_loss(loss_fn, out, target, members):
    """loss_fn's mean over each member's examples: (E,), or loss_fn(out, target) for
    a plain model."""
    if members is None:
        return loss_fn(out, target)
    return member_mean(loss_fn(out, target, reduction="none"), members)


def total(loss):
    """What to differentiate: the sum of the members' losses, so that each member gets
    its own gradient."""
    return loss if loss.dim() == 0 else loss.sum()


def member_histories(history, members):
    """fit's history of a stack ({name: [per-epoch list of E values]}) as E
    histories {name: [per-epoch]}."""
    for name, values in history.items():
        if any(not isinstance(v, list) or len(v) != members for v in values):
            raise ValueError(
                f"history[{name!r}] must hold one list of {members} member values "
                "per epoch"
            )
    return [
        {name: [v[e] for v in values] for name, values in history.items()}
        for e in range(members)
    ]

"""Matyasko & Chau (2018)'s networks, initialised as their models.py: LeNet-5 and the
fully-connected net, He (fan-in, truncated normal) weights; or, as the baselines' own
code (margin_maximization's Lasagne models), Glorot uniform weights."""

from torch import nn

from lib.models import mlp


def lenet(init="he"):
    """LeNet-5 as in Matyasko & Chau (2018)'s models.py: conv5x5 32 (valid) + ReLU,
    maxpool 2, conv5x5 64 (valid) + ReLU, maxpool 2, FC 1024 -> 512 + ReLU, FC 512 ->
    10; zero biases, weights by `init` (see INITS)."""
    net = nn.Sequential(
        nn.Conv2d(1, 32, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1024, 512),
        nn.ReLU(),
        nn.Linear(512, 10),
    )
    return initialised(net, init)


def he_init_(net):
    """Re-initialise every Conv2d and Linear of `net` in place as TF-slim's
    variance_scaling_initializer does (MSRA/He: fan-in, factor 2, truncated normal),
    with zero biases; returns `net`."""
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            fan_in = layer.weight[0].numel()
            # TF's truncated normal cuts at 2 std; dividing by 0.8796 restores the
            # variance 2 / fan_in.
            std = (2.0 / fan_in) ** 0.5 / 0.87962566103423978
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
            nn.init.zeros_(layer.bias)
    return net


def glorot_init_(net):
    """Re-initialise every Conv2d and Linear of `net` in place as Lasagne's default
    (the baselines' margin_maximization/mnist/models.py): GlorotUniform weights,
    U(±sqrt(6 / (fan_in + fan_out))), and zero biases; returns `net`."""
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return net


INITS = {"he": he_init_, "glorot": glorot_init_}


def initialised(net, init):
    """`net` re-initialised by the rule named `init` in INITS."""
    if init not in INITS:
        raise ValueError(f"init must be one of {tuple(INITS)}, got {init!r}")
    return INITS[init](net)


def fc_net(hidden=(1200, 1200, 1200), init="he"):
    """Matyasko & Chau (2018)'s fully-connected net: 784 -> 1200 -> 1200 -> 1200 -> 10
    with ReLU, no BN or dropout, zero biases, weights by `init`: He (fan-in, truncated
    normal) as their models.py, or Glorot as their baselines' code."""
    return initialised(mlp([784, *hidden, 10]), init)

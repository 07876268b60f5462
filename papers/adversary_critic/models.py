"""Matyasko & Chau (2018)'s networks, initialised as their models.py: LeNet-5 and the
fully-connected net, He (fan-in, truncated normal) weights."""

from torch import nn

from lib.models import mlp


def lenet():
    """LeNet-5 as in Matyasko & Chau (2018)'s models.py: conv5x5 32 (valid) + ReLU,
    maxpool 2, conv5x5 64 (valid) + ReLU, maxpool 2, FC 1024 -> 512 + ReLU, FC 512 ->
    10; He (fan-in, truncated normal) weights, zero biases."""
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
    return he_init_(net)


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


def fc_net(hidden=(1200, 1200, 1200)):
    """Matyasko & Chau (2018)'s fully-connected net: 784 -> 1200 -> 1200 -> 1200 -> 10
    with ReLU, no BN or dropout, He (fan-in, truncated normal) weights and zero biases,
    as their models.py."""
    return he_init_(mlp([784, *hidden, 10]))

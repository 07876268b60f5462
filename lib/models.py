"""Small model factories. Classifiers output logits: the softmax lives in the loss."""

import torch
from torch import nn

SCALE_FLOOR = 1e-12  # a constant output's scale is 0: dividing by this keeps it finite


def mlp(sizes, *, batch_norm=False, activation=nn.ReLU, dropout=0.0):
    """Flatten, then Linear(+BatchNorm)+activation(+Dropout) per hidden layer, and a
    linear last layer."""
    layers = [nn.Flatten()]
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers.append(nn.Linear(n_in, n_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(activation())
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def squash_tanh(o):
    """Map raw outputs to [-1, 1] pixel by pixel (Dhillon & Pavse §3.1,
    the tanh method)."""
    return torch.tanh(o)


def squash_scaled(o):
    """Centre each sample's outputs on 0, then scale them so that max |o| = 1 (Dhillon &
    Pavse, the scaled method)."""
    o = o - o.mean(dim=1, keepdim=True)
    return o / o.abs().amax(dim=1, keepdim=True).clamp_min(SCALE_FLOOR)


def squash_minmax(o):
    """Rescale each sample's outputs linearly onto [-1, 1], min to -1 and max to +1:
    another reading of the scaled method, under which pixels at both extremes reach
    the full budget."""
    low, high = o.amin(dim=1, keepdim=True), o.amax(dim=1, keepdim=True)
    return 2 * (o - low) / (high - low).clamp_min(SCALE_FLOOR) - 1


class Perturber(nn.Module):
    """A network that maps x to x_adv = clip(x + eps * squash(net(x)), 0, 1): an
    L∞-bounded learned adversary."""

    def __init__(self, net, *, eps, squash):
        super().__init__()
        self.net, self.eps, self.squash = net, eps, squash

    def forward(self, x):
        delta = self.eps * self.squash(self.net(x)).view_as(x)
        return (x + delta).clamp(0, 1)


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


def caffe_lenet():
    """Caffe's MNIST LeNet: conv5x5 20 (valid), maxpool 2, conv5x5 50 (valid), maxpool
    2, FC 800 -> 500 + ReLU, FC 500 -> 10 (no activation after the convolutions);
    Caffe's "xavier" weights U(±sqrt(3 / fan_in)), zero biases."""
    net = nn.Sequential(
        nn.Conv2d(1, 20, 5),
        nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(800, 500),
        nn.ReLU(),
        nn.Linear(500, 10),
    )
    for layer in net:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            bound = (3.0 / layer.weight[0].numel()) ** 0.5
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)
    return net

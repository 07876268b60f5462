"""Caffe's MNIST LeNet, the convolutional network of Huang et al. (2015)."""

from torch import nn


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

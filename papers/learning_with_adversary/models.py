"""Huang et al. (2015)'s networks: Caffe's MNIST LeNet, and the MLP with the readings
of its representation network."""

from torch import nn

from lib.models import mlp
from lib.stack import StackedLinear


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


UNITS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def lwa_mlp(hidden, *, dropout=0.0, input_dropout=0.0, units="relu", rep_layers=1):
    """§4's MLP, 784-hidden-10 (lib.models.mlp: ReLU, `dropout` after each hidden
    layer). Readings: `input_dropout` on the pixels (Srivastava et al.'s 0.2), and
    `units` (relu, tanh, sigmoid) in the first rep_layers hidden layers, LWA_Rep's h."""
    if units not in UNITS:
        raise ValueError(f"units must be one of {tuple(UNITS)}, got {units!r}")
    if not 1 <= rep_layers <= len(hidden):
        raise ValueError(f"rep_layers must be in [1, {len(hidden)}], got {rep_layers}")
    if not (0 <= dropout < 1 and 0 <= input_dropout < 1):
        raise ValueError(
            f"dropout and input_dropout must be in [0, 1), got {dropout}, "
            f"{input_dropout}"
        )
    layers = list(mlp([784, *hidden, 10], dropout=dropout))
    # Activations hold no weights: swapping them keeps every seed's initial weights.
    relus = [i for i, layer in enumerate(layers) if isinstance(layer, nn.ReLU)]
    for i in relus[:rep_layers]:
        layers[i] = UNITS[units]()
    if input_dropout:
        layers.insert(1, nn.Dropout(input_dropout))
    return nn.Sequential(*layers)


def representation_split(model, rep_layers=1):
    """(representation, classifier) of an MLP: h is the input of its Linear layer
    number rep_layers + 1 (Algorithm 3; rep_layers=1: the first hidden layer's
    output, a deeper representation network above it). Plain or stacked."""
    linears = [
        i
        for i, layer in enumerate(model)
        if isinstance(layer, (nn.Linear, StackedLinear))
    ]
    if not 1 <= rep_layers < len(linears):
        raise ValueError(
            f"rep_layers must be in [1, {len(linears) - 1}], got {rep_layers}"
        )
    return model[: linears[rep_layers]], model[linears[rep_layers] :]

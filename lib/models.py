"""Small model factories. Classifiers output logits: the softmax lives in the loss. A
paper's own networks live in its package (papers/<slug>/models.py)."""

from torch import nn


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

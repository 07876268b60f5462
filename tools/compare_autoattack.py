"""AutoAttack's three versions side by side on small MLPs trained here: robust accuracy
and seconds, at the book's threat models on the first n MNIST test points.

Usage: python tools/compare_autoattack.py [--n 500] [--smoke-n 20]
One FGSM-trained MLP (robust enough that the versions can differ) at --n points, and
one MLP trained as a smoke page trains its models, at --smoke-n points: the cost the
published version adds to a smoke page, per model.
"""

import argparse
import time

import torch
from torch import nn

from lib.autoattack import VERSIONS, common_evaluation
from lib.data import load_mnist


def trained_mlp(x, y, *, epochs, eps, seed=0):
    """A 784-256-10 MLP, Adam 1e-3, batch 128; FGSM at L∞ eps on half of each batch's
    loss where eps > 0 (Goodfellow et al.'s adversarial training)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for i in torch.randperm(len(x)).split(128):
            xb, yb = x[i], y[i]
            loss = loss_fn(model(xb), yb)
            if eps > 0:
                xr = xb.clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(loss_fn(model(xr), yb), xr)
                x_adv = (xb + eps * grad.sign()).clamp(0, 1)
                loss = (loss + loss_fn(model(x_adv), yb)) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def compare(name, model, x, y, n):
    """Each version's record for one model, with its wall time."""
    for version in VERSIONS:
        started = time.perf_counter()
        record = common_evaluation({name: model}, x, y, n=n, version=version)
        seconds = time.perf_counter() - started
        row = record["defenses"][name]
        print(
            f"{name:>8} n={n:<4} {version:<17} clean {row['clean']:5.1f}  "
            f"Linf 0.1 {row['Linf']:5.1f}  L2 1.5 {row['L2']:5.1f}  {seconds:7.1f} s",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--smoke-n", type=int, default=20)
    args = parser.parse_args()
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    print(f"torch threads: {torch.get_num_threads()}")
    smoke = trained_mlp(x_train[:2000], y_train[:2000], epochs=1, eps=0.0)
    compare("smoke", smoke, x_test, y_test, args.smoke_n)
    robust = trained_mlp(x_train[:20_000], y_train[:20_000], epochs=3, eps=0.1)
    compare("fgsm-at", robust, x_test, y_test, args.n)


if __name__ == "__main__":
    main()

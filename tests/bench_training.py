"""Training throughput of the library's loop against a plain DataLoader loop: same model, batch 100, one epoch.

Run with `make bench`. Both loops run side by side in this one process; the median of a few repeats is quoted.
"""
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lib.data import Batches, load_mnist
from lib.models import Perturber, mlp, squash_tanh
from lib.train import train, train_game

REPEATS = 3
BATCH = 100


def defender():
    return mlp([784, 128, 64, 10], batch_norm=True, activation=nn.LeakyReLU)


def adversary():
    return Perturber(mlp([784, 512, 512, 784], batch_norm=True, activation=nn.LeakyReLU), eps=0.1, squash=squash_tanh)


def sgd(model):
    # The same optimizer on both sides, so that the ratio measures the loop and its data path alone.
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=4e-4, foreach=False)


def plain_epoch(model, loader, step):
    """The textbook loop: a DataLoader over a TensorDataset, one step per batch."""
    for x, y in loader:
        step(x, y)


def bench(name, library_epoch, plain):
    library, baseline = [], []
    for _ in range(REPEATS):
        start = time.perf_counter(); library_epoch(); library.append(time.perf_counter() - start)
        start = time.perf_counter(); plain(); baseline.append(time.perf_counter() - start)
    n = 60_000
    ours, theirs = n / statistics.median(library), n / statistics.median(baseline)
    print(f"{name:<28}{ours:>12,.0f}{theirs:>14,.0f}{ours / theirs:>9.2f}x")


def main():
    torch.manual_seed(0)
    x, y = load_mnist("train")
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    print(f"one epoch of MNIST (60,000 images), batch {BATCH}, {torch.get_num_threads()} threads, "
          f"median of {REPEATS}")
    print(f"{'model':<28}{'library /s':>12}{'DataLoader /s':>14}{'ratio':>10}")

    ours, theirs = defender(), defender()
    ours_opt, theirs_opt = sgd(ours), sgd(theirs)

    def plain_defender_step(xb, yb):
        loss = F.cross_entropy(theirs(xb), yb)
        theirs_opt.zero_grad(); loss.backward(); theirs_opt.step()

    bench("defender 784-128-64-10",
          lambda: train(ours, Batches(x, y, batch_size=BATCH), epochs=1, optimizer=ours_opt),
          lambda: plain_epoch(theirs, loader, plain_defender_step))

    target = defender().eval().requires_grad_(False)
    ours, theirs = adversary(), adversary()
    ours_opt, theirs_opt = sgd(ours), sgd(theirs)

    def plain_adversary_step(xb, yb):
        loss = -F.cross_entropy(target(theirs(xb)), yb)
        theirs_opt.zero_grad(); loss.backward(); theirs_opt.step()

    bench("adversary 784-512-512-784",
          lambda: train_game(ours, target, Batches(x, y, batch_size=BATCH), epochs=1, adversary_optimizer=ours_opt),
          lambda: plain_epoch(theirs, loader, plain_adversary_step))

    # Why the ratio is what it is: the data path alone, without any training step.
    bench("data path alone (no step)",
          lambda: [None for _ in Batches(x, y, batch_size=BATCH)],
          lambda: [None for _ in loader])


if __name__ == "__main__":
    main()

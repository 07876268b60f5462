"""Training throughput of each paper's main job: one model at a time against many seeds
as one stacked model.

Run with `make bench` (add `--cores` for the two-core comparison). Both paths run the
library's own trainers side by side in this one process, on the same number of steps;
the median of a few repeats is quoted, as model-epochs per second (an epoch being the
job's training set at its batch size) and as a fraction of the fp32 matmul roofline,
measured just before each job (other work on the machine moves both). The load average
is printed, as timings taken while other processes run are slower and noisier.
"""

import argparse
import copy
import os
import statistics
import sys
import time
from dataclasses import dataclass

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from lib.attacks import fgsm
from lib.data import Batches, load_mnist
from lib.models import mlp
from lib.stack import reuse_freed_memory, stack
from lib.stack_optim import StackedAdam, StackedBatches, StackedSGD
from lib.train import train
from papers.a3t.game import train_a3t
from papers.gan_adversarial_training.game import train_game
from papers.gan_adversarial_training.models import Perturber, squash_tanh
from papers.learning_with_adversary.lwa import alpha_direction, train_lwa
from papers.learning_with_adversary.models import caffe_lenet

REPEATS = 3


def leaky_relu():
    return nn.LeakyReLU(0.01)


def defender():
    return mlp([784, 128, 64, 10], batch_norm=True, activation=leaky_relu)


def adversary():
    return Perturber(
        mlp([784, 512, 512, 784], batch_norm=True, activation=leaky_relu),
        eps=0.1,
        squash=squash_tanh,
    )


def a3t_players():
    encoder = nn.Sequential(*mlp([784, 512, 256], activation=leaky_relu), leaky_relu())
    return nn.Sequential(encoder, mlp([256, 128, 10], activation=leaky_relu)), mlp(
        [256, 128, 1], dropout=0.5
    )


def sgd(params, stacked):
    kind = StackedSGD if stacked else torch.optim.SGD
    return kind(params, lr=0.01, momentum=0.9, weight_decay=4e-4)


def adam(params, stacked):
    return (StackedAdam if stacked else torch.optim.Adam)(params, lr=1e-3)


def fgsm_perturb(model, x, y):
    return fgsm(model, x, y, eps=0.1)


def gan_defender(players, batches, stacked):
    (model,) = players
    return train(
        model,
        batches,
        epochs=1,
        optimizer=sgd(model.parameters(), stacked),
        perturb=fgsm_perturb,
    )


def gan_game(players, batches, stacked):
    attacker, model = players
    return train_game(
        attacker,
        model,
        batches,
        epochs=1,
        adversary_optimizer=sgd(attacker.parameters(), stacked),
        defender_optimizer=sgd(model.parameters(), stacked),
    )


def a3t(players, batches, stacked):
    classifier, discriminator = players
    return train_a3t(
        classifier,
        discriminator,
        batches,
        epochs=1,
        eps=0.25,
        alpha=0.5,
        beta=1.0,
        classifier_optimizer=adam(classifier.parameters(), stacked),
        discriminator_optimizer=adam(discriminator.parameters(), stacked),
    )


def lwa(players, batches, stacked):
    (model,) = players
    return train_lwa(
        nn.Identity(),
        model,
        batches,
        epochs=1,
        optimizer=adam(model.parameters(), stacked),
        c=1.5,
        direction=alpha_direction,
    )


@dataclass(frozen=True)
class Job:
    name: str
    make: callable  # () -> tuple of the job's modules
    run: callable  # (players, batches, stacked) -> history: one epoch over the batches
    batch_size: int
    epoch_size: int  # the paper's training set: what one model-epoch means
    members: int  # models trained at once on the stacked path
    steps: int  # steps timed per repeat


JOBS = [
    Job(
        "GAN defender, FGSM training",
        lambda: (defender(),),
        gan_defender,
        100,
        60_000,
        16,
        30,
    ),
    Job("GAN game", lambda: (adversary(), defender()), gan_game, 100, 60_000, 8, 15),
    Job("A3T", a3t_players, a3t, 128, 50_000, 8, 15),
    Job(
        "LWA MLP 784-1000-1000-10",
        lambda: (mlp([784, 1000, 1000, 10]),),
        lwa,
        100,
        50_000,
        4,
        5,
    ),
    Job("LWA Caffe LeNet", lambda: (caffe_lenet(),), lwa, 100, 50_000, 4, 3),
]


def models(job, members):
    """The job's modules for `members` seeds, each from its own seed."""
    out = []
    for seed in range(members):
        torch.manual_seed(seed)
        out.append(job.make())
    return out


def one_at_a_time(job, x, y, members):
    """The current path: each model trained by itself, one after the other. Returns
    the training seconds."""
    players = models(job, members)
    start = time.perf_counter()
    for seed, modules in enumerate(players):
        job.run(modules, Batches(x, y, batch_size=job.batch_size, seed=seed), False)
    return time.perf_counter() - start


def stacked_path(job, x, y, members):
    """The new path: the members as one stacked model, each on its own batches. Returns
    the training seconds."""
    players = [
        stack(list(modules)) for modules in zip(*models(job, members), strict=True)
    ]
    start = time.perf_counter()
    job.run(
        players,
        StackedBatches(x, y, batch_size=job.batch_size, seeds=list(range(members))),
        True,
    )
    return time.perf_counter() - start


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def roofline(size=1024):
    """fp32 matmul GFLOP/s on this process's threads: the median of a
    few square products."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    a @ b
    return (
        2 * size**3 / statistics.median(timed(torch.mm, a, b) for _ in range(9)) / 1e9
    )


class FlopCount(TorchDispatchMode):
    """Counts the matmul and convolution FLOPs of what runs inside it, by torch's own
    FLOP formulas (FlopCounterMode's module tracking cannot follow torch.autograd.grad,
    which the attacks use)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func._overloadpacket in flop_registry:
            self.total += flop_registry[func._overloadpacket](
                *args, **(kwargs or {}), out_val=out
            )
        return out


def step_flops(job, x, y):
    """Matmul and convolution FLOPs of one training step of one model (forward, backward
    and attack passes)."""
    with FlopCount() as counter:
        job.run(
            models(job, 1)[0],
            Batches(
                x[: job.batch_size], y[: job.batch_size], batch_size=job.batch_size
            ),
            False,
        )
    return counter.total


def epochs_per_second(job, seconds, members):
    return members * job.steps * job.batch_size / job.epoch_size / seconds


def load():
    return (
        "load average "
        + " ".join(f"{value:.1f}" for value in os.getloadavg())
        + f" on {os.cpu_count()} cores"
    )


def main_table(x_all, y_all):
    print(f"{torch.get_num_threads()} thread(s), median of {REPEATS}; {load()}")
    print(
        f"{'job':<30}{'E':>4}{'one at a time':>15}{'stacked':>10}{'ratio':>8}"
        f"{'roofline':>10}{'fraction of it':>17}"
    )
    print(
        f"{'':<30}{'':>4}{'model-epochs/s':>15}{'':>10}{'':>8}"
        f"{'GFLOP/s':>10}{'1 / stacked':>17}"
    )
    for job in JOBS:
        x, y = x_all[: job.steps * job.batch_size], y_all[: job.steps * job.batch_size]
        flops = step_flops(job, x, y)
        peak = roofline()
        single, stacked = [], []
        for _ in range(REPEATS):
            single.append(one_at_a_time(job, x, y, job.members))
            stacked.append(stacked_path(job, x, y, job.members))
        ours, theirs = (
            epochs_per_second(job, statistics.median(t), job.members)
            for t in (stacked, single)
        )
        fraction = [
            rate * job.epoch_size / job.batch_size * flops / 1e9 / peak
            for rate in (theirs, ours)
        ]
        print(
            f"{job.name:<30}{job.members:>4}{theirs:>15.3f}{ours:>10.3f}"
            f"{ours / theirs:>7.2f}x{peak:>10.0f}"
            f"{fraction[0]:>10.0%} / {fraction[1]:.0%}",
            flush=True,
        )
    print(load())


def vmap_comparison(x_all, y_all, members=16, steps=30):
    """The GAN defender's plain step as torch.func's ensembling (stack_module_state +
    vmap) vs lib.stack."""
    from torch.func import functional_call, stack_module_state, vmap

    x, y = (
        x_all[: members * 100].view(members, 100, -1),
        y_all[: members * 100].view(members, 100),
    )
    torch.manual_seed(0)
    nets = [defender() for _ in range(members)]
    params, buffers = stack_module_state(nets)
    params = {name: nn.Parameter(p.detach()) for name, p in params.items()}
    template = copy.deepcopy(nets[0]).to("meta")
    forward = vmap(lambda p, b, xb: functional_call(template, (p, b), (xb,)))
    optimizer = StackedSGD(params.values(), lr=0.01, momentum=0.9, weight_decay=4e-4)

    def vmap_steps():
        for _ in range(steps):
            loss = F.cross_entropy(
                forward(params, buffers, x).flatten(0, 1), y.flatten(), reduction="none"
            )
            optimizer.zero_grad()
            loss.view(members, -1).mean(1).sum().backward()
            optimizer.step()

    stacked = stack(nets)
    stacked_optimizer = StackedSGD(
        stacked.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-4
    )

    def stack_steps():
        batches = [(x.flatten(0, 1), y.flatten())] * steps
        train(stacked, batches, epochs=1, optimizer=stacked_optimizer)

    times = {"vmap": [], "stack": []}
    for _ in range(REPEATS):
        times["vmap"].append(timed(vmap_steps))
        times["stack"].append(timed(stack_steps))
    per_step = {
        name: statistics.median(t) / steps / members * 1e3 for name, t in times.items()
    }
    print(
        f"GAN defender, plain step, E={members}: "
        f"torch.func vmap {per_step['vmap']:.2f} ms, "
        f"lib.stack {per_step['stack']:.2f} ms per member-step"
    )


def _worker(job_index, members, barrier, queue, x, y):
    torch.set_num_threads(1)
    job = JOBS[job_index]
    stacked_path(job, x, y, members)  # warm-up
    barrier.wait()
    queue.put(stacked_path(job, x, y, members))


def two_workers(job_index, x, y):
    """Two processes of one thread, each training half the members as its own stack, at
    the same time."""
    job = JOBS[job_index]
    context = mp.get_context("spawn")
    barrier, queue = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=_worker, args=(job_index, job.members // 2, barrier, queue, x, y)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    seconds = max(queue.get() for _ in workers)
    for worker in workers:
        worker.join()
    return seconds


def cores_table(x_all, y_all):
    """The same stacked work on one thread, on two intra-op threads, and as two
    one-thread worker processes."""
    print(
        f"stacked path, the same work three ways, median of {REPEATS} "
        f"(model-epochs/s); {load()}"
    )
    print(f"{'job':<30}{'E':>4}{'1 thread':>10}{'2 threads':>11}{'2 processes':>13}")
    for index, job in enumerate(JOBS):
        x, y = x_all[: job.steps * job.batch_size], y_all[: job.steps * job.batch_size]
        times = {"1": [], "2": [], "p": []}
        for _ in range(REPEATS):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                times[str(threads)].append(stacked_path(job, x, y, job.members))
            torch.set_num_threads(1)
            times["p"].append(two_workers(index, x, y))
        rate = {
            k: epochs_per_second(job, statistics.median(t), job.members)
            for k, t in times.items()
        }
        print(
            f"{job.name:<30}{job.members:>4}{rate['1']:>10.3f}{rate['2']:>11.3f}{rate['p']:>13.3f}",
            flush=True,
        )
    print(load())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cores",
        action="store_true",
        help="also compare 1 thread, 2 threads, 2 processes",
    )
    parser.add_argument(
        "--only-cores", action="store_true", help="only that comparison"
    )
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    # stack() does it anyway; here both paths run with the same allocator settings
    reuse_freed_memory()
    x, y = load_mnist("train")
    if not args.only_cores:
        torch.set_num_threads(1)
        main_table(x, y)
        vmap_comparison(x, y)
    if args.cores or args.only_cores:
        cores_table(x, y)


if __name__ == "__main__":
    sys.exit(main())

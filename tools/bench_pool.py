"""A real page's job list, the Learning with Adversary page's models at a reduced size,
trained three ways on this machine: the pool of lib/jobs.py (two one-thread workers)
against today's one process, on one thread and on two, each into an empty cache.

Run with `make bench` (about 20 minutes on two idle cores). Wall times include the
workers' start; each repeat runs the three ways back to back and gives its own ratios,
and the medians are quoted. Per job: its training time and its fraction of this CPU's
one-thread fp32 matmul roofline, as tools/bench_training.py prints them. The load
average is printed: other processes on the machine take cores from the pool first.
"""

import argparse
import statistics
import sys
import tempfile
import time

import torch
from bench_training import FlopCount, load, roofline

from lib.cache import cached
from lib.jobs import Job, run
from papers.learning_with_adversary.training import train_stack

SLUG = "learning_with_adversary"
# The page's stacks (Tables 1 and 2, three seeds, Normal one more), the longest first:
# the pool hands them out in order, so the last one to start is a short one.
ROWS = [
    ("LeNet", "LWA", 3),
    ("MLP", "undefended", 4),
    ("MLP", "LWA", 3),
    ("MLP", "LWA_Rep", 3),
    ("LeNet", "undefended", 4),
    ("MLP", "Goodfellow", 3),
    ("MLP", "LWA (Adv_Loss)", 3),
    ("MLP", "Dropout", 3),
]


def jobs(n_train, epochs):
    return [
        Job(
            SLUG,
            train_stack,
            {
                "arch": arch,
                "method": method,
                "seeds": list(range(seeds)),
                "epochs": epochs,
                "n_train": n_train,
            },
        )
        for arch, method, seeds in ROWS
    ]


def one_process(job_list, threads):
    """Today's path: every job through the cache in this process, one after the other.
    Returns (wall seconds, each job's train_s)."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        infos = [
            cached(
                job.slug, job.spec, job.make(torch.device("cpu")), root, with_info=True
            )[1]
            for job in job_list
        ]
    return time.perf_counter() - started, [info["train_s"] for info in infos]


def pool(job_list, workers):
    """The pool: (wall seconds, each job's train_s in its worker)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        results = run(job_list, workers=workers, device="cpu", root=root)
    return time.perf_counter() - started, [info["train_s"] for _, info in results]


def job_flops(job):
    """Matmul and convolution FLOPs of the whole job: one step counted, times its
    steps (every member of the stack in each)."""
    spec = job.spec | {"n_train": 100, "epochs": 1}
    torch.set_num_threads(1)
    with FlopCount() as counter:
        job.fn(**spec, device=torch.device("cpu"))
    steps = job.spec["epochs"] * -(-job.spec["n_train"] // 100)
    return counter.total * steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Jobs of 10-60 s, as a page's: at 2,000 or 5,000 images the workers' start (torch's
    # import) is a fifth of the wall time and the pool measured 1.7x; at 20,000, 1.9x.
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # as the pool's workers do
    job_list = jobs(args.n_train, args.epochs)
    print(
        f"{len(job_list)} jobs of the {SLUG} page, {args.n_train} training images, "
        f"{args.epochs} epoch(s), median of {args.repeats}; {load()}",
        flush=True,
    )
    walls, per_job = {"1x1": [], "1x2": [], "pool": []}, {"1x1": [], "pool": []}
    for _ in range(args.repeats):
        for name, measure in (
            ("1x1", lambda: one_process(job_list, 1)),
            ("1x2", lambda: one_process(job_list, 2)),
            ("pool", lambda: pool(job_list, 2)),
        ):
            wall, train_s = measure()
            walls[name].append(wall)
            if name in per_job:
                per_job[name].append(train_s)
        print(
            f"  wall s: 1 process 1 thread {walls['1x1'][-1]:.1f}, 1 process 2 threads "
            f"{walls['1x2'][-1]:.1f}, pool 2x1 {walls['pool'][-1]:.1f}; {load()}",
            flush=True,
        )
    report(job_list, walls, per_job)


def report(job_list, walls, per_job):
    ratios = {
        base: statistics.median(
            b / p for b, p in zip(walls[base], walls["pool"], strict=True)
        )
        for base in ("1x1", "1x2")
    }
    median = {name: statistics.median(times) for name, times in walls.items()}
    print(
        f"wall time, median: 1 process 1 thread {median['1x1']:.1f} s, 1 process 2 "
        f"threads {median['1x2']:.1f} s, pool of 2 one-thread workers "
        f"{median['pool']:.1f} s"
    )
    print(
        f"pool speed-up (median of the per-repeat ratios): {ratios['1x1']:.2f}x over "
        f"1 thread, {ratios['1x2']:.2f}x over 2 threads"
    )
    torch.set_num_threads(1)
    peak = roofline()
    print(f"per job; one-thread roofline {peak:.0f} GFLOP/s")
    print(f"{'job':<32}{'GFLOP':>8}{'train s':>16}{'fraction of roofline':>24}")
    print(f"{'':<32}{'':>8}{'1 thread / pool':>16}{'1 thread / pool':>24}")
    for index, job in enumerate(job_list):
        gflop = job_flops(job) / 1e9
        seconds = [
            statistics.median(run_[index] for run_ in per_job[name])
            for name in ("1x1", "pool")
        ]
        fractions = [gflop / s / peak for s in seconds]
        label = f"{job.spec['arch']} {job.spec['method']} x{len(job.spec['seeds'])}"
        print(
            f"{label:<32}{gflop:>8.1f}{seconds[0]:>8.1f} /{seconds[1]:>6.1f}"
            f"{fractions[0]:>15.0%} / {fractions[1]:.0%}"
        )
    print(load())


if __name__ == "__main__":
    sys.exit(main())

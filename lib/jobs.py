"""A page's models as a job list, trained in parallel through the cache: in a pool of
one-thread worker processes here (lib/pool.py), or on a Ray cluster (lib/cluster.py).

A Job names a module-level function and the JSON-able spec that decides its result.
`run` loads every finished entry and hands the rest to the workers, each of which calls
lib.cache.cached: the key covers spec and code, so nothing finished trains again.
"""

import functools
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lib import DATA, pool
from lib.cache import cache_key, cached, entry_info, read_entry, spec_text
from lib.cluster import connect
from lib.runtime import pick_device


@dataclass(frozen=True)
class Job:
    """One cache entry: fn(**spec, device=torch.device) returns the result (tensors,
    numbers, lists, dicts); fn is module-level so that a worker imports it by name."""

    slug: str
    fn: Callable
    spec: dict
    # As cached's `code`: functions, classes or version strings that fn reaches
    # dynamically (a module does not pickle: name a function of it)
    code: tuple = field(default=())

    def __post_init__(self):
        name = getattr(self.fn, "__qualname__", "")
        if not callable(self.fn) or "<" in name or self.fn.__module__ == "__main__":
            raise ValueError(
                "a Job's fn must be a module-level function of an importable module "
                "(lib/, papers/<slug>/), which a worker imports by name; got "
                f"{self.fn!r}"
            )
        spec_text(self.spec)  # a spec holding an object fails here, before any work

    def make(self, device):
        return functools.partial(self.fn, **self.spec, device=device)


def run(jobs, *, workers=None, device="auto", cluster=None, root=DATA / "cache"):
    """Each job's (result, info), in order: finished entries loaded here, the others
    trained in parallel; results on the CPU, as a loaded entry; info as cached's (the
    entry's path, trained, train_s).

    `workers`: the local pool's size (default: one per core, or one per GPU).
    `cluster`: None (Ray where RAY_ADDRESS is set, else the local pool), "local",
    "ray" (the running cluster) or a Ray address; a cluster's cache `root` must be on
    storage every node shares, at the same path."""
    jobs = list(jobs)
    trainer = backend(workers, device, cluster)
    root = Path(root).resolve()
    results, todo = [None] * len(jobs), {}
    for index, job in enumerate(jobs):
        key = cache_key(job.spec, job.make(torch.device("cpu")), job.code)
        path = root / job.slug / f"{key}.pt"
        entry = read_entry(path, key)
        if entry is not None:
            results[index] = (entry["result"], entry_info(path, False, entry))
        else:  # a job listed twice trains once
            todo.setdefault(path, []).append(index)
    tasks = [(path, jobs[indices[0]]) for path, indices in todo.items()]
    for path, (payload, info) in trainer(tasks, root, work).items():
        result = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        for index in todo[path]:
            results[index] = (result, info)
    return results


def backend(workers, device, cluster):
    """trainer(tasks, root, work) -> {path: (payload, info)}; every bad parameter is a
    ValueError here, before any work."""
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(
            "workers must be a positive integer, or None for one per core (one per "
            f"GPU), got {workers!r}"
        )
    if cluster is None:
        cluster = os.environ.get("RAY_ADDRESS") or "local"
    if cluster == "local":
        return functools.partial(pool.train, devices=local_devices(device, workers))
    return connect(cluster, device)


def local_devices(device, workers):
    """One device a worker: all on the CPU, or one per GPU in turn."""
    chosen = pick_device(str(device))
    if chosen.type == "cuda" and chosen.index is None:  # "auto" or "cuda": every GPU
        gpus = [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
        return [gpus[i % len(gpus)] for i in range(workers or len(gpus))]
    count = workers or (1 if chosen.type == "cuda" else cores())
    return [chosen] * count


def cores():
    """The cores this process may run on (all of the machine's where the OS cannot
    say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def work(job, root, device):
    """In a worker: the job's entry computed (or loaded) through the cache; its result
    as torch.save bytes, and cached's info."""
    # One thread a worker: the workers, not the threads, fill the cores. Denormal
    # floats make CPU arithmetic many times slower; flushing them changes no number
    # that matters.
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    result, info = cached(
        job.slug,
        job.spec,
        job.make(torch.device(device)),
        root,
        code=job.code,
        with_info=True,
    )
    buffer = io.BytesIO()
    torch.save(result, buffer)
    return buffer.getvalue(), info


def result(job, device="cpu", root=DATA / "cache"):
    """The job's result through the cache, here: loaded, or computed in this process
    (on `device`) when missing. For a job that needs another job's result (an
    evaluation of a trained model)."""
    return cached(
        job.slug, job.spec, job.make(torch.device(device)), root, code=job.code
    )

"""The job list on a Ray cluster: one task an entry, one CPU each (and one GPU where the
device is CUDA), every worker writing the cache on storage the nodes share. Ray runs a
task again when its worker dies; the entry then resumes from its checkpoint.
"""

import functools
import socket

RETRIES = 2  # as the local pool's
DEVICES = ("auto", "cpu", "cuda")
CLUSTERS = "None, 'local', 'ray' or a Ray address (host:port, ray://host:port)"


def connect(cluster, device):
    """A trainer(tasks, root, work) on the Ray cluster `cluster`: "ray" (the one this
    process or RAY_ADDRESS names) or an address, host:port or ray://host:port."""
    if not isinstance(cluster, str) or not cluster:
        raise ValueError(f"cluster must be {CLUSTERS}, got {cluster!r}")
    if device not in DEVICES:
        raise ValueError(
            f"device must be one of {DEVICES} on a cluster (a worker's GPU is its "
            f"own 'cuda'), got {device!r}"
        )
    # Imported only here: a second to load, and no page needs it without a cluster
    import ray

    if not ray.is_initialized():
        if cluster != "ray":
            check_reachable(cluster)
        try:
            ray.init(address="auto" if cluster == "ray" else cluster)
        except ConnectionError as error:
            raise ValueError(
                f"cluster={cluster!r}: no Ray cluster to join ({error}); start one "
                "(ray start --head), set RAY_ADDRESS, or use cluster='local'"
            ) from error
    gpus = ray.cluster_resources().get("GPU", 0)
    if device == "cuda" and not gpus:
        raise ValueError("device='cuda', but the Ray cluster has no GPU")
    gpu = device == "cuda" or (device == "auto" and gpus > 0)
    return functools.partial(train, ray=ray, gpu=gpu, device="cuda" if gpu else "cpu")


def train(tasks, root, work, *, ray, gpu, device):
    """{path: work(job, root, device)} for the tasks [(path, job)], as Ray tasks."""
    remote = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=RETRIES)(work)
    pending = {path: remote.remote(job, str(root), device) for path, job in tasks}
    return dict(zip(pending, ray.get(list(pending.values())), strict=True))


def check_reachable(address, timeout=5):
    """A ValueError, at once, for an address with no server listening: ray.init would
    retry it for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"cluster must be {CLUSTERS}, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as error:
        raise ValueError(
            f"cluster={address!r} is unreachable ({error}): start the cluster, or "
            "give its head node's address"
        ) from error

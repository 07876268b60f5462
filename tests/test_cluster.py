"""The job list on a Ray cluster: a local one, on loopback only, trains a smoke job list
of a real page with the same results as the local pool, bit for bit on one thread, into
the cache that the pool then loads."""

import pytest
import ray
import torch

from lib.jobs import Job, run
from papers.learning_with_adversary.training import train_stack


@pytest.fixture
def local_ray(monkeypatch):
    """A two-CPU Ray cluster in this machine, reachable from it alone."""
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no report leaves the machine
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray.init(
        num_cpus=2,
        num_gpus=0,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    yield
    ray.shutdown()


def smoke_jobs():
    """The Learning with Adversary page's MLP rows at a smoke size."""
    return [
        Job(
            "learning_with_adversary",
            train_stack,
            {
                "arch": "MLP",
                "method": method,
                "seeds": [0, 1],
                "epochs": 2,
                "n_train": 200,
                "hidden": [32, 32],
            },
        )
        for method in ("undefended", "Goodfellow", "LWA")
    ]


def test_ray_trains_what_the_pool_trains_into_the_shared_cache(tmp_path, local_ray):
    on_ray = run(smoke_jobs(), cluster="ray", device="auto", root=tmp_path / "ray")
    on_pool = run(smoke_jobs(), workers=2, cluster="local", root=tmp_path / "pool")
    for (ours, info), (theirs, _) in zip(on_ray, on_pool, strict=True):
        assert info["trained"] and ours["losses"] == theirs["losses"]
        for member, other in zip(ours["states"], theirs["states"], strict=True):
            assert all(torch.equal(member[k], other[k]) for k in member)
    # Ray's workers wrote the entries where the cache root said: nothing trains again
    again = run(smoke_jobs(), workers=1, cluster="local", root=tmp_path / "ray")
    assert [info["trained"] for _, info in again] == [False] * 3

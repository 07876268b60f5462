"""The job list and the local pool: bad parameters fail before any work; jobs train in
one-thread worker processes and load once done; a worker killed by SIGKILL loses only
its entry, which resumes at its last epoch and ends with the weights of an
uninterrupted run."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from lib.cache import cache_key
from lib.data import Batches
from lib.jobs import Job, result, run
from lib.models import mlp
from lib.runtime import seed_everything
from lib.train import HalveEvery, train


class SlowHalving(HalveEvery):
    """HalveEvery(epochs=2) that waits `delay` s after each epoch (a longer training)
    and logs the epoch it ends, so that a test sees where a run resumed."""

    def __init__(self, optimizer, log, delay):
        super().__init__(optimizer, epochs=2)
        self.log, self.delay = log, delay

    def __call__(self, loss=None):
        time.sleep(self.delay)
        super().__call__(loss)
        with open(self.log, "a") as handle:
            handle.write(f"{self.epoch}\n")


def toy_job(*, width, epochs, delay, log, device):
    """A dropout MLP on two blobs, SGD with momentum; its weights, losses, and where
    and on how many threads it trained."""
    Path(log).with_suffix(".pid").write_text(str(os.getpid()))
    seed_everything(width)
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (256,), generator=generator)
    x = (
        0.3
        + 0.4 * y.view(-1, 1, 1, 1)
        + 0.2 * torch.rand(256, 1, 4, 4, generator=generator)
    )
    model = mlp([16, width, 2], dropout=0.2).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    losses = train(
        model,
        Batches(x.to(device), y.to(device), batch_size=32, seed=width),
        epochs=epochs,
        optimizer=optimizer,
        after_epoch=SlowHalving(optimizer, log, delay),
    )
    return {
        "state": model.state_dict(),
        "losses": losses,
        "pid": os.getpid(),
        "threads": [torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")],
    }


def job(tmp_path, name, width, epochs=3, delay=0.0):
    log = str(tmp_path / f"{name}.log")
    return Job(
        "toy", toy_job, {"width": width, "epochs": epochs, "delay": delay, "log": log}
    )


def logged(tmp_path, name):
    return (tmp_path / f"{name}.log").read_text().split()


def same_weights(a, b):
    return all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"workers": 0}, "workers must be a positive integer"),
        ({"workers": -2}, "workers must be a positive integer"),
        ({"workers": 1.5}, "workers must be a positive integer"),
        ({"device": "tpu"}, "device must be 'auto', 'cpu' or an available"),
        ({"cluster": "127.0.0.1:1"}, "cluster='127.0.0.1:1' is unreachable"),
        (
            {"cluster": "nowhere"},
            "cluster must be None, 'local', 'ray' or a Ray address",
        ),
        ({"cluster": "ray", "device": "cuda:3"}, "device must be one of"),
    ],
)
def test_bad_parameters_fail_before_any_work(tmp_path, kwargs, says):
    with pytest.raises(ValueError, match=says):
        run([job(tmp_path, "a", 8)], root=tmp_path / "cache", **kwargs)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "a.pid").exists()


def test_a_job_names_an_importable_function_and_a_spec_of_values():
    with pytest.raises(ValueError, match="module-level function"):
        Job("toy", lambda device: {}, {})
    with pytest.raises(ValueError, match="memory address"):
        Job("toy", toy_job, {"model": object()})


def test_the_pool_trains_in_one_thread_workers_and_loads_what_is_done(tmp_path):
    jobs = [job(tmp_path, "a", 8), job(tmp_path, "b", 12), job(tmp_path, "a", 8)]
    results = run(jobs, workers=2, device="cpu", root=tmp_path / "cache")
    (a, a_info), (b, b_info), (again, _) = results
    assert a["pid"] != os.getpid() and a["threads"] == [1, "1"]
    assert a_info["trained"] and b_info["trained"] and again is a  # listed twice, one
    assert a_info["path"] == tmp_path / "cache" / "toy" / (
        cache_key(jobs[0].spec, jobs[0].make("cpu")) + ".pt"
    )
    assert logged(tmp_path, "a") == ["1", "2", "3"]  # trained once
    loaded = run(jobs, workers=1, root=tmp_path / "cache")
    assert [info["trained"] for _, info in loaded] == [False] * 3
    assert loaded[0][1]["train_s"] == a_info["train_s"] and same_weights(
        loaded[0][0], a
    )
    assert logged(tmp_path, "a") == ["1", "2", "3"]  # loaded, not trained again


def kill_when_saved(tmp_path, ckpt, finished, seen):
    """SIGKILL the worker of `ckpt` once it holds an epoch and `finished` is written;
    note the epoch the checkpoint holds then."""
    deadline = time.time() + 120
    while not (ckpt.exists() and finished.exists()) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(int((tmp_path / "slow.pid").read_text()), signal.SIGKILL)
    seen.append(torch.load(ckpt, weights_only=True)["stages"][0]["epoch"])


def test_a_killed_worker_loses_only_its_entry_which_resumes_at_its_last_epoch(
    tmp_path, capfd
):
    epochs = 8
    slow, quick = (
        job(tmp_path, "slow", 16, epochs, delay=0.4),
        job(tmp_path, "quick", 8),
    )
    # The same training, uninterrupted, on the third worker (its log is its own)
    reference = job(tmp_path, "reference", 16, epochs)
    root = tmp_path / "cache"
    key = cache_key(slow.spec, slow.make("cpu"))
    ckpt = root / "toy" / f"{key}.ckpt"
    finished = root / "toy" / f"{cache_key(quick.spec, quick.make('cpu'))}.pt"
    seen = []
    killer = threading.Thread(
        target=kill_when_saved, args=(tmp_path, ckpt, finished, seen)
    )
    killer.start()
    (resumed, info), (_, quick_info), (uninterrupted, _) = run(
        [slow, quick, reference], workers=3, root=root
    )
    killer.join()
    assert 0 < seen[0] < epochs and info["trained"] and quick_info["trained"]
    assert "died (exit code -9" in capfd.readouterr().err
    log = logged(tmp_path, "slow")
    # A fresh worker went on from the last saved epoch, not from the first
    assert log[-(epochs - seen[0]) :] == [
        str(e) for e in range(seen[0] + 1, epochs + 1)
    ]
    assert len(log) <= epochs + 1 and logged(tmp_path, "quick") == ["1", "2", "3"]
    assert same_weights(resumed, uninterrupted)
    assert resumed["losses"] == uninterrupted["losses"]
    assert not ckpt.exists()


def failing_job(*, device):
    raise ArithmeticError("no such model")


def test_a_failing_job_raises_with_its_traceback(tmp_path):
    with pytest.raises(
        RuntimeError, match="(?s)failing_job.*ArithmeticError: no such model"
    ):
        run([Job("toy", failing_job, {})], workers=1, root=tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_cuda_one_worker_per_gpu_trains_on_its_gpu(tmp_path):
    jobs = [job(tmp_path, f"g{i}", 8 + i) for i in range(torch.cuda.device_count())]
    results = run(jobs, device="cuda", root=tmp_path / "cache")
    assert all(info["trained"] for _, info in results)
    assert all(r["state"]["1.weight"].device.type == "cpu" for r, _ in results)


def test_a_job_built_on_another_loads_its_result_through_the_cache(tmp_path):
    toy = job(tmp_path, "a", width=4, epochs=1)
    first = result(toy, root=tmp_path)
    again = result(toy, root=tmp_path)  # loaded: the job's log is not written again
    assert same_weights(first, again) and logged(tmp_path, "a") == ["1"]
    assert len(list((tmp_path / "toy").glob("*.pt"))) == 1
    ((loaded, info),) = run([toy], workers=1, root=tmp_path)
    assert not info["trained"] and same_weights(loaded, first)

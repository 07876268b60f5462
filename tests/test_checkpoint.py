"""Resume inside a model, in this process: a training stopped mid-way in the cache
resumes at its last finished epoch, stage by stage, and ends where an uninterrupted
one ends; a checkpoint of other code is ignored in one line and the model retrained."""

import time

import pytest
import torch

from lib import checkpoint
from lib.cache import cache_key, cached
from lib.data import Batches
from lib.models import mlp
from lib.stack import stack_seeds
from lib.stack_optim import StackedAdam, StackedBatches
from lib.train import HalveEvery, HalveOnIncrease, fit, train


class Stop(Exception):
    """A run stopped from outside (Ctrl-C, a kill) at the end of an epoch."""


class StopOnce:
    """A learning-rate rule that stops the run once (while STOPS holds a token) at the
    end of epoch `at`, before that epoch is saved."""

    def __init__(self, rule, at):
        self.rule, self.at, self.epoch = rule, at, 0

    def __call__(self, loss):
        self.rule(loss)
        self.epoch += 1
        if self.epoch == self.at and STOPS:
            STOPS.pop()
            raise Stop

    def state_dict(self):
        return {"rule": self.rule.state_dict(), "epoch": self.epoch}

    def load_state_dict(self, state):
        self.rule.load_state_dict(state["rule"])
        self.epoch = state["epoch"]


STOPS = []


def toy(n=192, seed=0):
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = (0.3 + 0.4 * y.view(-1, 1, 1, 1) + 0.2 * torch.rand(n, 1, 4, 4)).clamp(0, 1)
    return x, y


def two_stages(steps):
    """make() of an entry trained in two fits: a pre-training, then a training with
    dropout (the global generator), momentum and a halving rule that may stop it."""

    def make():
        torch.manual_seed(0)
        x, y = toy()
        first = mlp([16, 8, 2])
        optimizer = torch.optim.SGD(first.parameters(), lr=0.3)

        def step(xb, yb):
            steps.append("first")
            loss = torch.nn.functional.cross_entropy(first(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return {"loss": loss.detach()}

        before = fit(
            step,
            Batches(x, y, batch_size=64),
            epochs=3,
            modules=(first,),
            state=(optimizer,),
        )
        second = mlp([16, 32, 2], dropout=0.3)
        second_optimizer = torch.optim.SGD(second.parameters(), lr=0.5, momentum=0.9)
        after = train(
            second,
            Batches(x, y, batch_size=32, seed=1),
            epochs=5,
            optimizer=second_optimizer,
            after_epoch=StopOnce(HalveEvery(second_optimizer, epochs=2), at=3),
        )
        return {
            "first": first.state_dict(),
            "second": second.state_dict(),
            "losses": [before, after],
        }

    return make


def assert_same(a, b):
    assert a["losses"] == b["losses"]
    for name in ("first", "second"):
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), (name, key)


def test_a_stopped_training_resumes_stage_by_stage_and_ends_the_same(tmp_path):
    reference = cached("toy", {"run": 1}, two_stages([]), root=tmp_path / "reference")
    steps = []
    make = two_stages(steps)
    ckpt = tmp_path / "toy" / f"{cache_key({'run': 1}, make)}.ckpt"
    STOPS.append(True)
    with pytest.raises(Stop):
        cached("toy", {"run": 1}, make, root=tmp_path)
    saved = torch.load(ckpt, weights_only=True)["stages"]
    # The pre-training finished; the training stopped at the end of its third epoch,
    # before that epoch was saved
    assert [saved[0]["epoch"], saved[1]["epoch"]] == [3, 2]
    steps.clear()
    resumed = cached("toy", {"run": 1}, make, root=tmp_path)
    assert steps == []  # the finished stage was restored, not trained again
    assert_same(resumed, reference)
    assert not ckpt.exists()  # removed once the entry is complete


def test_an_entrys_training_time_counts_every_sitting(tmp_path):
    """A model resumed in a second sitting records the first sitting's time too (up
    to its last saved epoch), not the second's alone."""
    inner = two_stages([])

    def slow_first_sitting():
        if STOPS:  # the sitting that will be stopped takes 0.5 s longer
            time.sleep(0.5)
        return inner()

    STOPS.append(True)
    with pytest.raises(Stop):
        cached("toy", {"run": 2}, slow_first_sitting, root=tmp_path)
    ckpt = next((tmp_path / "toy").glob("*.ckpt"))
    first = torch.load(ckpt, weights_only=True)["seconds"]
    started = time.perf_counter()
    _, info = cached(
        "toy", {"run": 2}, slow_first_sitting, root=tmp_path, with_info=True
    )
    second = time.perf_counter() - started
    assert first >= 0.5
    assert first < info["train_s"] <= first + second


def test_the_random_state_batches_and_rules_come_back(tmp_path):
    """A stack (StackedBatches, StackedAdam, HalveOnIncrease on member losses) under
    a stop: every state that decides the rest of the training is in the checkpoint."""

    def make():
        model = stack_seeds(lambda: mlp([16, 8, 2], dropout=0.2), [0, 1])
        optimizer = StackedAdam(model.parameters(), lr=0.05)
        x, y = toy(seed=3)
        losses = train(
            model,
            StackedBatches(x, y, batch_size=32, seeds=[0, 1]),
            epochs=4,
            optimizer=optimizer,
            after_epoch=StopOnce(HalveOnIncrease(optimizer), at=2),
        )
        return {"state": model.state_dict(), "losses": losses}

    reference = cached("stack", {}, make, root=tmp_path / "reference")
    STOPS.append(True)
    with pytest.raises(Stop):
        cached("stack", {}, make, root=tmp_path)
    torch.manual_seed(123)  # the global generator elsewhere: restored from the file
    resumed = cached("stack", {}, make, root=tmp_path)
    assert reference["losses"] == resumed["losses"]
    assert all(
        torch.equal(reference["state"][k], v) for k, v in resumed["state"].items()
    )


@pytest.mark.parametrize(
    "foreign, says",
    [
        (
            {"format": checkpoint.FORMAT, "key": "0123456789abcdef", "stages": {}},
            "written for the entry 0123456789abcdef by other code",
        ),
        (b"not a checkpoint", "ignoring the unreadable"),
    ],
)
def test_a_checkpoint_of_other_code_is_ignored_in_one_line(
    tmp_path, capfd, foreign, says
):
    reference = cached("toy", {"run": 2}, two_stages([]), root=tmp_path / "reference")
    make = two_stages([])
    ckpt = tmp_path / "toy" / f"{cache_key({'run': 2}, make)}.ckpt"
    ckpt.parent.mkdir(parents=True)
    if isinstance(foreign, bytes):
        ckpt.write_bytes(foreign)
    else:
        torch.save(foreign, ckpt)
    capfd.readouterr()
    assert_same(cached("toy", {"run": 2}, make, root=tmp_path), reference)
    (line,) = capfd.readouterr().err.strip().splitlines()
    assert line.startswith("checkpoint: ") and says in line
    assert "training this model from its first epoch" in line
    assert not ckpt.exists()


def test_fit_outside_the_cache_or_without_state_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = toy()
    model = mlp([16, 8, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train(model, Batches(x, y, batch_size=64), epochs=2, optimizer=optimizer)

    def make():
        # an after_epoch without state: fit cannot save all that decides the run
        train(
            model,
            Batches(x, y, batch_size=64),
            epochs=2,
            optimizer=optimizer,
            after_epoch=lambda loss: None,
        )
        assert not list(tmp_path.rglob("*.ckpt"))
        return {}

    cached("toy", {"run": 3}, make, root=tmp_path)
    assert not list(tmp_path.rglob("*.ckpt"))


def test_state_without_state_dict_is_refused():
    with pytest.raises(ValueError, match="state_dict and load_state_dict"):
        fit(lambda: {}, [], epochs=1, state=(object(),))

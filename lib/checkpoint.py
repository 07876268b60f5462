"""Resume inside a model: a checkpoint at the end of every epoch of lib.train.fit while
the cache computes an entry, data/cache/<slug>/<key>.ckpt beside <key>.pt.

The cache names the checkpoint in a context variable (`resuming`); fit hands over what
decides the rest of its training: its modules, the state its caller names (optimizers,
learning-rate rules), the batches' generators and every random state. One make() may
call fit several times (pre-training, then the game): each call is a stage, numbered in
order, and a finished stage is restored whole, not trained again.
"""

import contextlib
import contextvars
import os
import random
import sys
import time
import uuid

import numpy as np
import torch

FORMAT = 1  # the layout of a checkpoint; a change makes older ones read as foreign
_ACTIVE = contextvars.ContextVar("checkpoint", default=None)


class Resume:
    """The checkpoint of one cache entry: the states of its stages, by number, and
    the training time of the sittings before this one."""

    def __init__(self, path, key):
        self.path, self.key, self.stages = path, key, 0
        self.saved, self.earlier_s = read(path, key)
        self.started = time.perf_counter()

    def next_stage(self):
        self.stages += 1
        return self.stages - 1

    def elapsed(self):
        """Seconds of training so far: this sitting's, and each earlier one's up to
        its last saved epoch (what it trained after that was trained again)."""
        return self.earlier_s + time.perf_counter() - self.started


@contextlib.contextmanager
def resuming(path, key):
    """Checkpoint every fit inside the block at `path`, for the cache entry `key`,
    resuming from what a killed run left there; yields the Resume (its elapsed())."""
    resume = Resume(path, key)
    token = _ACTIVE.set(resume)
    try:
        yield resume
    finally:
        _ACTIVE.reset(token)


def stage(modules, batches, state):
    """The Stage of the fit about to run, or None outside a cache computation or
    where the caller names no state (fit cannot know all that decides its training)."""
    stateless = [s for s in state or () if not has_state(s)]
    if stateless:
        raise ValueError(
            "fit's state holds objects without state_dict and load_state_dict "
            f"({', '.join(type(s).__name__ for s in stateless)}): name optimizers "
            "and rules that have them, or pass state=None to train unresumable"
        )
    resume = _ACTIVE.get()
    if resume is None:
        return None
    number = resume.next_stage()
    if state is None:
        return None
    return Stage(resume, number, [*modules, *state, batches])


class Stage:
    """One fit's share of the checkpoint: restore it, or save it after an epoch."""

    def __init__(self, resume, number, objects):
        self.resume, self.number = resume, number
        # A list of batches has no state; Batches' generators have
        self.objects = [obj for obj in objects if has_state(obj)]

    def restore(self):
        """(first epoch to run, history so far): (0, {}) when nothing was saved."""
        saved = self.resume.saved.get(self.number)
        if saved is None:
            return 0, {}
        for target, state in zip(self.objects, saved["objects"], strict=True):
            target.load_state_dict(state)
        set_random_state(saved["random"])
        return saved["epoch"], cpu_copy(saved["history"])

    def save(self, epoch, history):
        """Keep this stage's state after `epoch` epochs, then write every stage."""
        self.resume.saved[self.number] = cpu_copy(
            {
                "epoch": epoch,
                "history": history,
                "objects": [target.state_dict() for target in self.objects],
                "random": random_state(),
            }
        )
        checkpoint = {
            "format": FORMAT,
            "key": self.resume.key,
            "seconds": self.resume.elapsed(),
        }
        try:
            save_atomic(checkpoint | {"stages": self.resume.saved}, self.resume.path)
        except (OSError, RuntimeError) as error:
            warn(f"could not write {shown(self.resume.path)} ({error}); training on")


def cpu_copy(obj):
    """A copy of nested dicts, lists and tuples whose tensors are copied to the CPU:
    a finished stage's state stays as it was, and takes no device memory."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {key: cpu_copy(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(value) for value in obj)
    return obj  # numbers, strings, None: immutable


def has_state(obj):
    return hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")


def read(path, key):
    """(stages, seconds): the stages saved at `path` for the entry `key` and the
    training time they took; ({}, 0.0) (with a one-line warning when a file is there)
    when there are none for it."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return {}, 0.0
    except Exception as error:  # a torn or foreign file: train from the start
        warn(
            f"ignoring the unreadable {shown(path)} ({type(error).__name__}); " + AGAIN
        )
        return {}, 0.0
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        warn(f"ignoring {shown(path)}, in another format; " + AGAIN)
        return {}, 0.0
    if checkpoint.get("key") != key:
        warn(
            f"ignoring {shown(path)}, written for the entry {checkpoint.get('key')} "
            f"by other code; " + AGAIN
        )
        return {}, 0.0
    # written before checkpoints kept time: its earlier sittings count as none
    return checkpoint["stages"], float(checkpoint.get("seconds", 0.0))


AGAIN = "training this model from its first epoch"


def random_state():
    """Every generator a training step may draw from: Python's, NumPy's, torch's."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss),
        "numpy_gauss": gauss,
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state):
    random.setstate(state["python"])
    name, keys, position, has_gauss = state["numpy"]
    np.random.set_state(
        (
            name,
            keys.numpy().astype(np.uint32),
            position,
            has_gauss,
            state["numpy_gauss"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def save_atomic(obj, path):
    """torch.save to a unique temp file, flushed to disk, then renamed into place:
    readers see the old file or the whole new one, never a torn one."""
    partial = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):  # there may be no folder to hold it
            partial.unlink(missing_ok=True)
        raise


def shown(path):
    """The checkpoint as <slug>/<key>.ckpt: enough to find it in the cache."""
    return f"{path.parent.name}/{path.name}"


def warn(message):
    print(f"checkpoint: {message}", file=sys.stderr, flush=True)

"""A cache of trained models, data/cache/<slug>/<key>.pt: never stale, never torn, never
fatal when damaged.

The key hashes what decides a model: the spec (its values), the code that `make` reaches
(see lib/fingerprint.py), and the torch version. Entries are written to a unique temp
file and renamed into place, one run at a time per entry (a file lock); a damaged entry
is moved aside, named, and retrained. A training killed mid-way resumes from its last
epoch's checkpoint, <key>.ckpt (lib/checkpoint.py).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from lib import DATA, checkpoint
from lib.fingerprint import code_fingerprint

FORMAT = 1  # the layout of an entry; a change makes every older entry read as damaged


def spec_key(spec):
    """A short stable hash of a JSON-able spec (the config and whatever else
    decides the result)."""
    return hashlib.sha256(spec_text(spec).encode()).hexdigest()[:16]


def spec_text(spec):
    text = json.dumps(spec, sort_keys=True, default=str)
    if " at 0x" in text:
        raise ValueError(
            "the cache spec holds an object whose text is a memory address "
            f"({text[:120]}...): put its name or its numbers in the spec instead "
            "(its code is in the key already)"
        )
    return text


def cache_key(spec, make, code=()):
    """The entry's key: the spec, the code reachable from `make` (and from `code`), and
    the torch version."""
    text = (
        f"{spec_text(spec)}\0{code_fingerprint(make, *code)}\0torch {torch.__version__}"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached(slug, spec, make, root=DATA / "cache", *, code=(), with_info=False):
    """Return make()'s result (tensors, numbers, lists, dicts), computed once per key
    and then loaded.

    `code`: more functions, classes or modules whose code decides the result but
    that `make` reaches only dynamically (through an attribute of an object, say),
    or a version string to bump by hand. With `with_info`, return (result, info)
    where info holds the entry's path, whether this call trained it, and its
    training time in seconds.
    """
    key = cache_key(spec, make, code)
    path = Path(root) / slug / f"{key}.pt"
    entry, trained = read_entry(path, key), False
    if entry is None:
        with locked(Path(root) / ".locks" / f"{slug}-{key}.lock", path):
            # Another run may have written it while we waited
            entry = read_entry(path, key, repair=True)
            if entry is None:
                entry, trained = compute(path, key, spec, make), True
    if not with_info:
        return entry["result"]
    return entry["result"], entry_info(path, trained, entry)


def entry_info(path, trained, entry):
    """What `with_info` adds: the entry's path, whether this call trained it, and its
    training time in seconds."""
    return {"path": path, "trained": trained, "train_s": entry["train_s"]}


def compute(path, key, spec, make):
    """Run make() and store its result with the time it took (every sitting's, where a
    checkpoint resumed it); a failed write costs the next run, not this one. A fit
    inside checkpoints at <key>.ckpt, removed once the entry is written."""
    # Left by a killed run: we hold the entry's lock
    for stale in path.parent.glob(f"{path.stem}.*.part"):
        stale.unlink(missing_ok=True)
    resume = path.with_suffix(".ckpt")
    with checkpoint.resuming(resume, key) as sitting:
        result = make()
    entry = {
        "format": FORMAT,
        "key": key,
        "spec": spec_text(spec),
        "result": result,
        "train_s": round(sitting.elapsed(), 3),  # the sittings before this one too
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "devices": devices(result),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        checkpoint.save_atomic(entry, path)
        resume.unlink(missing_ok=True)
    except (OSError, RuntimeError) as error:
        warn(
            f"could not save the cache entry {shown(path)} ({one_line(error)}); this "
            "run goes on with the model in memory, the next will train it again: "
            "free disk space or fix the folder's permissions"
        )
    return entry


def devices(result):
    """The devices of the tensors in a result: with the thread count, what its last
    bits depend on."""
    if isinstance(result, torch.Tensor):
        return [str(result.device)]
    parts = (
        result.values()
        if isinstance(result, dict)
        else result
        if isinstance(result, (list, tuple))
        else ()
    )
    return sorted({device for part in parts for device in devices(part)})


def read_entry(path, key, repair=False):
    """The entry at `path`, or None when there is none or it is damaged (moved aside and
    named, with `repair`)."""
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        return None
    except (PermissionError, NotADirectoryError, IsADirectoryError) as error:
        # The path cannot be opened at all: not damage, and not ours to move. (A
        # truncated zip raises an OSError too, EINVAL from torch's reader, and that one
        # is damage: it falls through below.)
        raise OSError(
            f"cannot read the cache entry {shown(path)} ({one_line(error)}): fix its "
            "permissions, or move it out of the folder to train the model again"
        ) from error
    except Exception as error:
        # A truncated zip, an empty file, a foreign pickle: all mean "train again"
        reason = (
            f"{one_line(error)}; {path.stat().st_size if path.exists() else 0} bytes"
        )
    else:
        missing = (
            sorted({"format", "key", "result", "train_s"} - set(entry))
            if isinstance(entry, dict)
            else ["all"]
        )
        if not missing and entry["format"] == FORMAT and entry["key"] == key:
            return entry
        reason = (
            f"missing {', '.join(missing)}"
            if missing
            else f"format {entry['format']}, key {entry['key']} "
            f"(expected format {FORMAT}, key {key})"
        )
    if repair and path.exists():
        aside = path.with_name(
            f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        )
        if aside.exists():
            aside = aside.with_name(f"{aside.name}-{os.getpid()}")
        os.replace(path, aside)
        warn(
            f"damaged cache entry {shown(path)} ({reason}): moved aside to "
            f"{aside.name} for inspection (delete it when done), training this "
            "model again"
        )
    return None


@contextlib.contextmanager
def locked(lock_path, path):
    """Hold an exclusive lock on one entry; the kernel drops it when the process dies,
    even by SIGKILL."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            warn(
                f"another run is computing {shown(path)}; waiting to load it (stop "
                "that run to train it here)"
            )
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def warn(message):
    print(f"cache: {message}", file=sys.stderr, flush=True)


def one_line(error):
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def shown(path):
    """The path as the reader knows it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(DATA.parent))
    except ValueError:
        return str(path)

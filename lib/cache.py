"""A cache of trained models, data/cache/<slug>/<key>.pt: never stale, never torn, never
fatal when damaged.

The key hashes what decides a model: the spec (its values), the code that `make` reaches
(see `code_fingerprint`), and the torch version. Entries are written to a unique temp
file and renamed into place, one run at a time per entry (a file lock); a damaged entry
is moved aside, named, and retrained.
"""

import contextlib
import dis
import fcntl
import functools
import hashlib
import json
import os
import sys
import sysconfig
import time
import types
import uuid
import weakref
from pathlib import Path

import numpy as np
import torch

from lib import DATA

FORMAT = 1  # the layout of an entry; a change makes every older entry read as damaged
INSTALLED = tuple(
    sorted(
        {
            sysconfig.get_paths()[name]
            for name in ("stdlib", "platstdlib", "purelib", "platlib")
        }
    )
)
LIBRARY = Path(__file__).resolve().parent
SIMPLE = (type(None), bool, int, float, complex, str, bytes)


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
    return entry["result"], {
        "path": path,
        "trained": trained,
        "train_s": entry["train_s"],
    }


def compute(path, key, spec, make):
    """Run make() and store its result with the time it took; a failed write costs the
    next run, not this one."""
    # Left by a killed run: we hold the entry's lock
    for stale in path.parent.glob(f"{path.name}.*.part"):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    result = make()
    entry = {
        "format": FORMAT,
        "key": key,
        "spec": spec_text(spec),
        "result": result,
        "train_s": round(time.perf_counter() - started, 3),
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "devices": devices(result),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    partial = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(entry, partial)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        # atomic: readers see the old state or the whole entry, never a torn one
        os.replace(partial, path)
    except (OSError, RuntimeError) as error:
        with contextlib.suppress(OSError):  # there may be no folder to hold it
            partial.unlink(missing_ok=True)
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


# ---- The code in the key
# ---------------------------------------------------------------------------- A model
# is decided by its spec, its data and the code that trains it. The key follows the code
# from `make`: a notebook's (or a test's) functions one by one, through the globals they
# read (editing an evaluation cell retrains nothing); a module of the library, lib/, as
# a whole (it is reached through methods and tables a static walk may miss), and so is
# any module named directly; installed packages not at all (the torch version stands for
# them). Code is compared compiled, so comments, blank lines and docstrings never
# retrain; the tensors the code reads (the training data) count by content.


def code_fingerprint(*objects):
    """A hash of the code reachable from `objects` (functions, classes, modules) and of
    the tensors it reads."""
    walk = _Walk()
    for obj in objects:
        if isinstance(obj, SIMPLE):  # a version string given by hand
            walk.add(repr(obj))
        walk.visit(obj)
    return walk.hash.hexdigest()[:16]


class _Walk:
    def __init__(self):
        self.hash, self.seen, self.modules = hashlib.sha256(), set(), set()

    def add(self, *parts):
        for part in parts:
            self.hash.update(part if isinstance(part, bytes) else str(part).encode())
            self.hash.update(b"\0")

    def visit(self, obj, depth=0):
        # values belong in the spec; the walk follows code and data
        if isinstance(obj, SIMPLE) or depth > 8:
            return
        if isinstance(obj, types.ModuleType):
            return self.module(obj)
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        if isinstance(obj, types.FunctionType):
            self.function(obj)
        elif isinstance(obj, type):
            self.cls(obj)
        elif isinstance(obj, functools.partial):
            for part in (obj.func, *obj.args, *obj.keywords.values()):
                self.visit(part, depth + 1)
        elif isinstance(obj, types.MethodType):
            self.visit(obj.__func__, depth + 1)
            self.visit(obj.__self__, depth + 1)
        elif isinstance(obj, (staticmethod, classmethod)):
            self.visit(obj.__func__, depth + 1)
        elif isinstance(obj, property):
            for part in (obj.fget, obj.fset, obj.fdel):
                self.visit(part, depth + 1)
        elif isinstance(obj, torch.Tensor):
            self.add("tensor", tensor_digest(obj))
        elif isinstance(obj, np.ndarray):
            self.add(
                "array",
                obj.dtype,
                obj.shape,
                np.ascontiguousarray(obj).tobytes() if obj.dtype != object else "",
            )
        elif isinstance(obj, dict):
            for value in obj.values():
                self.visit(value, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for value in obj:
                self.visit(value, depth + 1)
        elif is_ours(type(obj)):
            # An instance of a class of ours: its code, and its weights if it is a model
            self.visit(type(obj), depth + 1)
            if isinstance(obj, torch.nn.Module):
                for name, tensor in obj.state_dict().items():
                    self.add(name, tensor_digest(tensor))

    def function(self, f):
        if is_installed(f.__code__.co_filename):
            # A decorator's wrapper: follow what it wraps
            return self.visit(getattr(f, "__wrapped__", None))
        self.add("function", f.__qualname__, code_digest(f.__code__, f.__doc__))
        self.add(constant_text(f.__defaults__), constant_text(f.__kwdefaults__))
        for value in (*(f.__defaults__ or ()), *(f.__kwdefaults__ or {}).values()):
            self.visit(value)
        for cell in f.__closure__ or ():
            # A cell not yet filled has no contents to hash
            with contextlib.suppress(ValueError):
                self.visit(cell.cell_contents)
        module = sys.modules.get(f.__module__)
        if in_library(module):
            self.module(module)
        else:  # a notebook's (or a test's) function: follow the globals it reads
            for name in global_names(f.__code__):
                if name in f.__globals__:
                    self.visit(f.__globals__[name])

    def cls(self, c):
        if not is_ours(c):
            return
        self.add("class", c.__qualname__)
        for base in c.__bases__:
            self.visit(base)
        for name, value in sorted(vars(c).items()):
            if isinstance(value, SIMPLE) and not name.startswith("__"):
                self.add(name, repr(value))
            else:
                self.visit(value)
        module = sys.modules.get(c.__module__)
        if in_library(module):
            self.module(module)

    def module(self, module):
        if not is_module_file(module) or module.__name__ in self.modules:
            return
        self.modules.add(module.__name__)
        self.add("module", module.__name__)
        for name, value in sorted(vars(module).items()):
            if name.startswith("__") or (
                isinstance(value, types.ModuleType)
                and value.__name__.startswith(module.__name__ + ".")
            ):
                # A package's submodules depend on what was imported, not on its code
                continue
            if isinstance(value, (*SIMPLE, tuple, frozenset)):
                self.add(name, constant_text(value))
            self.visit(value)


def is_installed(filename):
    return filename.startswith(INSTALLED) or filename.startswith("<frozen")


def is_module_file(module):
    """A module of ours with a file (lib/..., a test): hashed whole. A notebook's
    __main__ is not one."""
    return (
        module is not None
        and module.__name__ != "__main__"
        and getattr(module, "__file__", None) is not None
        and not is_installed(module.__file__)
    )


def in_library(module):
    """A module of the book's library, lib/: hashed whole wherever the
    walk enters it."""
    return is_module_file(module) and Path(module.__file__).resolve().parent == LIBRARY


def is_ours(c):
    module = sys.modules.get(getattr(c, "__module__", None))
    return c.__module__ == "__main__" or is_module_file(module)


def global_names(code):
    """The global names a code object (and the functions nested in it) reads, in order
    of first use."""
    names = [
        i.argval
        for i in dis.get_instructions(code)
        if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")
    ]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += global_names(const)
    return list(dict.fromkeys(names))


def code_digest(code, doc=None):
    """A hash of compiled code: its bytecode, names and constants, not its line
    numbers or comments."""
    consts = list(code.co_consts)
    if doc is not None and consts and consts[0] == doc:
        consts[0] = None  # a docstring says what the code does; it does not change it
    parts = [
        code.co_code.hex(),
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        (
            code.co_argcount,
            code.co_posonlyargcount,
            code.co_kwonlyargcount,
            code.co_flags,
        ),
    ]
    parts += [
        code_digest(c) if isinstance(c, types.CodeType) else constant_text(c)
        for c in consts
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def constant_text(value):
    """repr, but stable across processes (sets are sorted) and blind to memory
    addresses."""
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(sorted(constant_text(v) for v in value)) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(constant_text(v) for v in value) + ")"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{constant_text(k)}: {constant_text(v)}" for k, v in value.items()
            )
            + "}"
        )
    if isinstance(value, SIMPLE):
        return repr(value)
    # An object: its type only (its repr may hold an address)
    return type(value).__qualname__


# id -> (version, digest): the training data is hashed once, not at every call
_TENSOR_DIGESTS = {}


def tensor_digest(tensor):
    known = _TENSOR_DIGESTS.get(id(tensor))
    if known is not None and known[0] == tensor._version:
        return known[1]
    data = tensor.detach().cpu().contiguous().reshape(-1)
    digest = hashlib.sha256(f"{tensor.dtype} {tuple(tensor.shape)}".encode())
    if data.numel():
        digest.update(memoryview(data.view(torch.uint8).numpy()))
    digest = digest.hexdigest()
    if id(tensor) not in _TENSOR_DIGESTS:
        weakref.finalize(tensor, _TENSOR_DIGESTS.pop, id(tensor), None)
    _TENSOR_DIGESTS[id(tensor)] = (tensor._version, digest)
    return digest

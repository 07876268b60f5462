"""The code in a cache key: a hash of the code that decides a model, and of the data it
reads.

A model is decided by its spec, its data and the code that trains it. The walk follows
the code from `make`: a notebook's (or a test's) functions one by one, through the
globals they read (editing an evaluation cell retrains nothing); a module of the book's
own code (lib/, papers/<slug>/) as a whole (it is reached through methods and tables a
static walk may miss), and so is any module named directly; installed packages not at
all (the torch version stands for them). Code is compared compiled, so comments, blank
lines and docstrings never retrain; the tensors the code reads (the training data) count
by content. A paper's package reaches lib/ but no other paper's package, so editing one
paper retrains that paper alone.
"""

import contextlib
import dis
import functools
import hashlib
import sys
import sysconfig
import types
import weakref
from pathlib import Path

import numpy as np
import torch

INSTALLED = tuple(
    sorted(
        {
            sysconfig.get_paths()[name]
            for name in ("stdlib", "platstdlib", "purelib", "platlib")
        }
    )
)
ROOT = Path(__file__).resolve().parent.parent
# The book's own code: hashed module by module, whole
PROJECT_CODE = (ROOT / "lib", ROOT / "papers")
SIMPLE = (type(None), bool, int, float, complex, str, bytes)


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
        elif isinstance(obj, (torch.Tensor, np.ndarray)):
            self.data(obj)
        else:
            for part in parts(obj):
                self.visit(part, depth + 1)
            if isinstance(obj, torch.nn.Module) and is_ours(type(obj)):
                for name, tensor in obj.state_dict().items():
                    self.add(name, tensor_digest(tensor))

    def data(self, obj):
        if isinstance(obj, torch.Tensor):
            return self.add("tensor", tensor_digest(obj))
        raw = np.ascontiguousarray(obj).tobytes() if obj.dtype != object else ""
        self.add("array", obj.dtype, obj.shape, raw)

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


def parts(obj):
    """What the walk follows inside an object that is neither code nor data."""
    if isinstance(obj, functools.partial):
        return (obj.func, *obj.args, *obj.keywords.values())
    if isinstance(obj, types.MethodType):
        return (obj.__func__, obj.__self__)
    if isinstance(obj, (staticmethod, classmethod)):
        return (obj.__func__,)
    if isinstance(obj, property):
        return (obj.fget, obj.fset, obj.fdel)
    if isinstance(obj, dict):
        return tuple(obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return tuple(obj)
    if is_ours(type(obj)):
        # An instance of a class of ours: its code (and its weights, if it is a model)
        return (type(obj),)
    return ()


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
    """A module of the book's own code (lib/, papers/<slug>/): hashed whole wherever
    the walk enters it."""
    return is_module_file(module) and any(
        Path(module.__file__).resolve().is_relative_to(code) for code in PROJECT_CODE
    )


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

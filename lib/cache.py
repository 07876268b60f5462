"""A cache of trained models: data/cache/<slug>/<hash of the spec>.pt, written atomically."""
import hashlib
import json
import os
from pathlib import Path

import torch

from lib import DATA


def spec_key(spec):
    """A short stable hash of a JSON-able spec (the config and whatever else decides the result)."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached(slug, spec, make, root=DATA / "cache"):
    """Return make()'s result (tensors, numbers, lists, dicts), computed once per spec and then loaded."""
    path = Path(root) / slug / f"{spec_key(spec)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=True)
    result = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    torch.save(result, partial)
    os.replace(partial, path)  # atomic: an interrupted run leaves a stray .part, never a corrupt .pt
    return result

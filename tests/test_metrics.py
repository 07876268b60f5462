"""Accuracy, robust accuracy, rho and calibration on models whose answers are known."""

import pytest
import torch
from torch import nn

from lib.metrics import (
    accuracy,
    calibration_bins,
    expected_calibration_error,
    rho,
    robust_accuracy,
)


class Fixed(nn.Module):
    """Predicts class 1 when the first pixel is above 0.5, else class 0,
    with confident logits."""

    def forward(self, x):
        first = x.flatten(1)[:, :1]
        return torch.cat([(0.5 - first) * 20, (first - 0.5) * 20], 1)


def test_accuracy_and_robust_accuracy():
    x = torch.tensor([0.1, 0.2, 0.9, 0.8]).view(4, 1, 1, 1)
    y = torch.tensor([0, 0, 1, 0])
    assert accuracy(Fixed(), x, y, batch_size=3) == 0.75

    def flip(model, xb, yb):  # an "attack" that flips every prediction
        return 1 - xb

    assert robust_accuracy(Fixed(), flip, x, y, batch_size=3) == 0.25


def test_rho_is_the_mean_relative_l2_norm():
    x = torch.ones(2, 1, 2, 2)
    x_adv = x.clone()
    x_adv[0] += 0.5
    assert rho(x, x_adv) == pytest.approx((0.5 * 2 / 2) / 2)


def test_calibration_of_a_perfectly_calibrated_predictor():
    # Confidence 0.75 everywhere and right on 3 of 4: calibrated, ECE 0.
    probs = torch.tensor([[0.75, 0.25]] * 4)
    y = torch.tensor([0, 0, 0, 1])
    confidence, bin_accuracy, count = calibration_bins(probs, y, n_bins=10)
    assert count.sum() == 4 and count[7] == 4
    assert confidence[7] == pytest.approx(0.75) and bin_accuracy[7] == pytest.approx(
        0.75
    )
    assert expected_calibration_error(probs, y) == pytest.approx(0.0)


def test_calibration_error_of_an_overconfident_predictor():
    probs = torch.tensor([[0.95, 0.05]] * 4)
    y = torch.tensor([0, 1, 0, 1])
    assert expected_calibration_error(probs, y) == pytest.approx(0.45)

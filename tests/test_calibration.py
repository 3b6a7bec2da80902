"""Calibrated stacking: the offset and its choice on held-out seen pixels."""
import pytest
import torch

from zs3core.calibration import apply_gamma, calibration_gammas, choose_gamma, unseen_rate


def test_apply_gamma_only_touches_seen_classes():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    out = apply_gamma(logits, seen=[0, 2], gamma=0.5)
    assert out.tolist() == [[0.5, 2.0, 2.5]]


def test_choose_gamma_is_the_largest_within_the_bound():
    # 10 held-out seen pixels; class 2 is unseen. The margin of seen over unseen is 0..9.
    margins = torch.arange(10.0)
    logits = torch.stack([margins, torch.full((10,), -50.0), torch.zeros(10)], dim=1)
    # with gamma g, pixels with margin < g flip to unseen: rate = #{m < g} / 10
    grid = [0, 0.5, 1.5, 2.5, 3.5]
    gamma, sweep = choose_gamma(logits, seen=[0, 1], grid=grid, max_unseen_rate=0.2)
    assert [s["unseen_rate"] for s in sweep] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert gamma == 1.5
    assert unseen_rate(logits, [0, 1], gamma) <= 0.2


def test_gamma_falls_back_to_zero_when_already_unseen_biased():
    logits = torch.tensor([[0.0, 1.0]])  # class 1 unseen wins already
    gamma, _ = choose_gamma(logits, seen=[0], grid=[0, 1, 2], max_unseen_rate=0.05)
    assert gamma == 0.0


def test_every_classifier_records_both_rules_and_refuses_a_rule_without_its_gamma():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 2.0, 1.5]])  # both rows seen; unseen class 2 wins from gamma 1
    calibration = {"gammas": [0, 0.5, 1, 2], "max_unseen_rate": 0.0, "rule": "cv"}
    gammas, _ = calibration_gammas(logits, [0, 1], calibration, cv_gamma=2)
    assert gammas == {"rate": 0.5, "cv": 2.0}
    with pytest.raises(ValueError, match="classifier.calibration.rule is 'cv'"):
        calibration_gammas(logits, [0, 1], calibration)

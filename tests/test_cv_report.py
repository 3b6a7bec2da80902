"""results/cv_{dataset}: the cross-validation's choices beside the test rows they gave."""
import json

import pandas as pd
import pytest

from zs3core.cv_report import cv_markdown, cv_summary, sweep_table


def write_split(tmp_path, K, hiou):
    """A split's CV files (hIoU fractions) and results CSVs; `hiou`: {model: (raw, cv, rate)} in percent."""
    split = {"seed": 0, "K": K}
    for model, (raw, cv_h, rate) in hiou.items():
        sweep = [{"gamma": 0.0, "seen_miou": 0.5, "unseen_miou": 0.1, "hiou": 0.2, "hiou_se": 0.01},
                 {"gamma": 1.0, "seen_miou": 0.5, "unseen_miou": 0.3, "hiou": 0.4, "hiou_se": 0.05},
                 {"gamma": 2.0, "seen_miou": 0.4, "unseen_miou": 0.4, "hiou": 0.4, "hiou_se": 0.02}]
        split[f"gamma_{model}"] = tmp_path / f"k{K}_{model}.json"
        split[f"gamma_{model}"].write_text(json.dumps({"gamma": 1.0, "choice": "one_standard_error",
                                                         "pseudo_unseen": ["cat", "dog"]}))
        split[f"sweep_{model}"] = tmp_path / f"k{K}_{model}.csv"
        pd.DataFrame(sweep).to_csv(split[f"sweep_{model}"], index=False)
        split[f"results_{model}"] = tmp_path / f"k{K}_{model}_results.csv"
        pd.DataFrame({"calibration": ["raw", "calibrated", "calibrated_rate"], "gamma": [0.0, 1.0, 4.0],
                      "gamma_rule": ["none", "cv", "rate"], "hiou": [raw, cv_h, rate]}).to_csv(
            split[f"results_{model}"], index=False)
    return split


def test_summary_reads_each_rule_row_and_the_ratio_to_the_ceiling(tmp_path):
    splits = [write_split(tmp_path, 2, {"zs3": (20, 30, 25), "ceiling": (50, 60, 40)})]
    summary = cv_summary(splits)
    zs3 = summary[summary["model"] == "zs3"].iloc[0]
    assert (zs3["test_hiou_raw"], zs3["test_hiou_cv"], zs3["test_hiou_rate"]) == pytest.approx((20, 30, 25))
    assert zs3["rate_gamma"] == 4.0 and zs3["cv_gamma"] == 1.0 and zs3["applied_rule"] == "cv"
    assert zs3["pseudo_hiou_gamma0"] == pytest.approx(20) and zs3["pseudo_hiou_cv"] == pytest.approx(40)
    assert zs3["zs3_over_ceiling_cv"] == pytest.approx(0.5)
    # the best of two equal maxima is the smaller gamma, with its standard error
    assert zs3["best_gamma"] == 1.0 and zs3["pseudo_hiou_best"] == pytest.approx(40) and zs3["pseudo_hiou_se"] == 5
    assert pd.isna(summary[summary["model"] == "ceiling"].iloc[0]["zs3_over_ceiling_cv"])
    sweeps = sweep_table({(0, 2, m): pd.read_csv(splits[0][f"sweep_{m}"]) for m in ("zs3", "ceiling")})
    assert list(sweeps.columns) == ["gamma", "K=2 ceiling", "K=2 zs3"] and list(sweeps["K=2 zs3"]) == [20, 40, 40]
    md = cv_markdown("synthvoc", summary, sweeps)
    assert "| 0 | 2 | zs3 | cat dog | 1 | 40.0 ± 5.0 | 1 | 20.0 | 40.0 | 4 | 20.0 | 30.0 | 25.0 | cv | 0.50 |" in md


def test_a_skipped_split_is_reported_with_its_reason(tmp_path):
    split = write_split(tmp_path, 2, {"zs3": (20, 20, 25), "ceiling": (50, 50, 40)})
    split["gamma_zs3"].write_text(json.dumps({"gamma": 0.0, "pseudo_unseen": [], "skipped": "too few classes"}))
    pd.DataFrame([{"gamma": 0.0, "seen_miou": None, "unseen_miou": None, "hiou": None}]).to_csv(split["sweep_zs3"],
                                                                                              index=False)
    zs3 = cv_summary([split]).iloc[0]
    assert zs3["pseudo_unseen"] == "skipped: too few classes" and pd.isna(zs3["pseudo_hiou_cv"])


def test_no_ratio_to_a_ceiling_of_zero(tmp_path):
    summary = cv_summary([write_split(tmp_path, 2, {"zs3": (20, 30, 25), "ceiling": (50, 0, 40)})])
    assert summary["zs3_over_ceiling_cv"].isna().all()

"""The generator's own zero-shot cross-validation: its grid, its choice, what it records."""
import json

import numpy as np
import pytest

from fixtures import config_section
from test_cv import CLASSIFIER, CV_CFG, HOLDOUT, write_toy
from zs3core import cv, cv_generator, generator_grid, provenance
from zs3core.config import ConfigError, check_config
from zs3core.calibration import choose_by_hiou


def test_grid_points_are_every_combination_in_listed_order():
    grid = {"hidden": [256, 512], "bandwidths": [None, [1, 2]]}
    assert generator_grid.grid_points(grid) == [{"hidden": 256, "bandwidths": None}, {"hidden": 256, "bandwidths": [1, 2]},
                                                {"hidden": 512, "bandwidths": None}, {"hidden": 512, "bandwidths": [1, 2]}]
    assert generator_grid.grid_points({"n_critic": [5, 1]}) == [{"n_critic": 5}, {"n_critic": 1}]  # any key, as listed


def test_the_grid_is_per_section_and_off_when_disabled():
    cfg = {"enabled": True, "grids": {"generator": {"hidden": [256]}, "gan": {"n_critic": [1, 5]}, "gc": None}}
    assert generator_grid.section_grid(cfg, "gan") == {"n_critic": [1, 5]}
    assert generator_grid.section_grid(cfg, "gc") == {} and generator_grid.section_grid(cfg, "other") == {}
    assert generator_grid.section_grid(cfg | {"enabled": False}, "generator") == {}


def test_scaled_budget_scales_the_section_steps_in_its_own_unit():
    assert generator_grid.scaled_budget({"iterations": 401, "epochs": None}, 0.5)["iterations"] == 201
    assert generator_grid.scaled_budget({"iterations": 1}, 0.1)["iterations"] == 1
    assert generator_grid.scaled_budget({"iterations": None, "epochs": 30}, 0.5) == {"iterations": None, "epochs": 15}


def brute_force_choice(sweep, choice):
    """The choice by hand: the best pseudo hIoU (earliest on ties), or the earliest point whose hIoU
    is at least the best's minus the best's standard error."""
    best_hiou = max(s["hiou"] for s in sweep)
    best = [s for s in sweep if s["hiou"] == best_hiou][0]
    if choice == "best":
        return best["point"]
    return [s["point"] for s in sweep if s["hiou"] >= best["hiou"] - best["hiou_se"]][0]


@pytest.mark.parametrize("seed", range(20))
def test_the_choice_on_constructed_sweeps_matches_the_hand_rule(seed):
    rng = np.random.default_rng(seed)
    hiou = rng.choice([0.2, 0.3, 0.35, 0.4], size=4)  # ties happen
    sweep = [{"point": i, "hiou": float(h), "hiou_se": float(rng.choice([0.0, 0.04, 0.12]))} for i, h in enumerate(hiou)]
    for choice in ("best", "one_standard_error"):
        assert choose_by_hiou(sweep, "point", choice) == brute_force_choice(sweep, choice)


def test_one_standard_error_keeps_the_first_point_unless_another_beats_it_by_more_than_the_noise():
    sweep = [{"point": 0, "hiou": 0.30}, {"point": 1, "hiou": 0.34}, {"point": 2, "hiou": 0.29}, {"point": 3, "hiou": 0.2}]
    within = [s | {"hiou_se": 0.05} for s in sweep]  # 0.30 >= 0.34 - 0.05
    beyond = [s | {"hiou_se": 0.03} for s in sweep]  # 0.30 < 0.31: point 1 earns the move
    assert choose_by_hiou(within, "point", "one_standard_error") == 0
    assert choose_by_hiou(beyond, "point", "one_standard_error") == 1
    assert choose_by_hiou(within, "point", "best") == 1


def test_the_sweep_trains_each_point_and_records_the_chosen_one(tmp_path, monkeypatch):
    path = tmp_path / "train.h5"
    write_toy(path)
    data = cv.load_cv_data(path, HOLDOUT, CV_CFG, seed=0, K=2)
    embeddings = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    section = {**config_section("generator"), "bandwidth_mode": "relative", "iterations": 4, "noise_dim": 4,
               "hidden": 8, "device": "cpu"}
    grid = {"hidden": [8, 16], "bandwidths": [None, [0.5, 2]]}
    trained = []

    real_pseudo_bank = cv.pseudo_bank

    def spy(data_, embeddings_, cfg, n, **kw):
        trained.append(cfg)
        return real_pseudo_bank(data_, embeddings_, cfg, n, **kw)

    monkeypatch.setattr(cv_generator, "pseudo_bank", spy)
    record, sweep = cv_generator.cross_validate_settings(
        "generator", data, embeddings, section, grid, CLASSIFIER, CV_CFG, choice="best", budget=0.5,
        n_per_class=6, dropout_at_generation=True, seed=0)
    # each point: the section with the point's values, at half its steps
    assert [(c["hidden"], c["bandwidths"], c["iterations"]) for c in trained] == [
        (8, None, 2), (8, [0.5, 2], 2), (16, None, 2), (16, [0.5, 2], 2)]
    assert [s["point"] for s in sweep] == [0, 1, 2, 3] and all("values" not in s for s in sweep)
    assert sweep[1]["settings"] == "hidden=8 bandwidths=0.5 2"
    # the point scored at its own CV gamma (the same procedure as the zs3 gamma file)
    again = cv.cross_validate("zs3", data, CLASSIFIER, CV_CFG, seed=0,
                              bank=cv.pseudo_bank(data, embeddings, trained[2], 6, dropout_at_generation=True, seed=0))
    assert sweep[2]["gamma"] == again["gamma"]
    assert sweep[2]["hiou"] == pytest.approx(next(s["hiou"] for s in again["sweep"] if s["gamma"] == again["gamma"]))
    chosen = brute_force_choice(sweep, "best")
    assert record["point"] == chosen and record["chosen"] == generator_grid.grid_points(grid)[chosen]
    assert record["columns"] == provenance.generator_settings_record(section | record["chosen"], "cv", keys=grid)
    assert record["columns"]["generator_settings"] == "cv"
    assert record["columns"]["generator_hidden"] == record["chosen"]["hidden"]
    # the file the generator, the gamma CV and the evaluation read
    out = tmp_path / "settings_generator.json"
    out.write_text(json.dumps(record))
    assert generator_grid.with_chosen(section, out, "generator") == section | record["chosen"]
    assert generator_grid.with_chosen(section, [], "generator") == section
    with pytest.raises(ValueError, match="settings of `gan`"):
        generator_grid.read_settings(out, "gan")


def test_the_gan_grid_trains_each_point_with_its_critic_steps_and_records_them(tmp_path, monkeypatch):
    path = tmp_path / "train.h5"
    write_toy(path)
    data = cv.load_cv_data(path, HOLDOUT, CV_CFG, seed=0, K=2)
    embeddings = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    section = {**config_section("gan"), "iterations": 4, "noise_dim": 4, "hidden": 8, "critic_hidden": 8,
               "classifier_steps": 3, "real_per_class": 8, "checkpoint_every": None, "device": "cpu"}
    grid = {"n_critic": [5, 2]}
    trained = []

    real_pseudo_bank = cv.pseudo_bank

    def spy(data_, embeddings_, cfg, n, **kw):
        trained.append((kw["section"], cfg))
        return real_pseudo_bank(data_, embeddings_, cfg, n, **kw)

    monkeypatch.setattr(cv_generator, "pseudo_bank", spy)
    record, sweep = cv_generator.cross_validate_settings(
        "gan", data, embeddings, section, grid, CLASSIFIER, CV_CFG, choice="one_standard_error", budget=0.5,
        n_per_class=6, dropout_at_generation=False, seed=0)
    # each point: the GAN (not the GMMN) with the point's critic steps, at half its generator steps
    assert [(s, c["n_critic"], c["iterations"]) for s, c in trained] == [("gan", 5, 2), ("gan", 2, 2)]
    assert all(c | {"n_critic": 5, "iterations": 4} == section for _, c in trained)  # nothing else moves
    assert [s["settings"] for s in sweep] == ["n_critic=5", "n_critic=2"]
    chosen = brute_force_choice(sweep, "one_standard_error")
    assert record["section"] == "gan" and record["point"] == chosen and record["chosen"] == {"n_critic": [5, 2][chosen]}
    # the rows built from it: the GAN has no kernel, so no bandwidth columns; its hidden size and critic steps
    assert record["columns"] == {"generator_settings": "cv", "generator_hidden": 8, "generator_n_critic": [5, 2][chosen]}
    out = tmp_path / "settings_gan.json"
    out.write_text(json.dumps(record))
    cfg, columns = generator_grid.trained_settings(section, out, "gan")
    assert cfg == section | {"n_critic": [5, 2][chosen]} and columns == record["columns"]


def test_a_section_without_a_pseudo_split_trainer_is_refused_by_name():
    with pytest.raises(ValueError, match="generator_cv.grids.gc: no pseudo-split trainer"):
        cv_generator.cross_validate_settings("gc", None, None, {}, {"hidden": [1]}, {}, {}, choice="best", budget=1,
                                             n_per_class=1, dropout_at_generation=False, seed=0)


def test_a_split_too_small_keeps_the_first_point_and_says_why():
    section = config_section("generator")
    record, sweep = cv_generator.skipped_settings("generator", section, {"hidden": [256, 512]}, "1 candidate")
    assert record["chosen"] == {"hidden": 256} and record["skipped"] == "1 candidate" and len(sweep) == 1


def test_rows_of_a_configured_generator_say_so_and_carry_its_hidden_size():
    section = config_section("generator") | {"hidden": 384, "bandwidth_mode": "relative", "bandwidths": None}
    record = provenance.generator_settings_record(section)
    assert record == {"bandwidth_mode": "relative", "bandwidths": "0.25 0.5 1 2 4", "generator_hidden": 384,
                      "generator_settings": "configured"}
    gan_like = provenance.generator_settings_record(section | {"n_critic": 5}, "cv", keys=["n_critic", "hidden"])
    assert gan_like["generator_n_critic"] == 5 and gan_like["generator_settings"] == "cv"


def test_a_grid_naming_a_missing_key_or_section_is_a_config_error():
    config = {"generator": {"hidden": 1}, "datasets": {"synthvoc": {"generator_cv": {"grids": {"gan": {"n": [1]}}}}},
              "generator_cv": {"grids": {"generator": {"hiden": [1]}}}}
    assert generator_grid.grid_problems(config) == [
        "generator_cv.grids.generator.hiden: `generator` has no key `hiden`",
        "datasets.synthvoc.generator_cv.grids.gan: no config section `gan` to cross-validate"]

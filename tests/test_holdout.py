"""The calibration hold-out: a seeded, order-free choice of training images, and its record."""
import numpy as np
import pytest

from zs3core.holdout import choose_holdout, excluded_from, image_mask, read_holdout, write_holdout


def test_the_choice_depends_on_the_ids_and_seed_not_their_order():
    ids = [f"im{i:03d}" for i in range(200)]
    a = choose_holdout(ids, 0.1, seed=0)
    assert len(a) == 20 and set(a) <= set(ids) and a == sorted(a)
    assert choose_holdout(ids[::-1], 0.1, seed=0) == a
    assert choose_holdout(ids, 0.1, seed=1) != a


def test_at_least_one_image_and_the_fraction_checked():
    assert len(choose_holdout(["a", "b", "c"], 0.01, seed=0)) == 1
    with pytest.raises(ValueError, match="holdout.fraction"):
        choose_holdout(["a", "b"], 1.0, seed=0)
    with pytest.raises(ValueError, match="too few"):
        choose_holdout(["a"], 0.5, seed=0)


def test_file_round_trip_and_mask(tmp_path):
    write_holdout(tmp_path / "holdout.txt", ["b", "d"])
    held = read_holdout(tmp_path / "holdout.txt")
    assert held == {"b", "d"}
    assert image_mask(np.array(["a", "b", "c", "d"]), held).tolist() == [False, True, False, True]


def test_the_record_names_the_stages_that_left_it_out():
    assert excluded_from("all_stages") == "step0+generator+classifier"
    assert excluded_from("all_stages", step0_trained_here=False) == "generator+classifier"
    assert excluded_from("classifier_only") == "classifier"
    with pytest.raises(ValueError, match="holdout.scope"):
        excluded_from("everywhere")

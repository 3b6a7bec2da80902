"""The mechanisms bench: grid datasets from config, verdicts per grid point, paragraphs from them."""
import numpy as np
import pandas as pd
import pytest

from zs3core.mechanisms import grid_datasets, grid_points, judge_grid, mechanisms_markdown
from zs3core.tables import RESULT_METRICS


def _config(base_config, **mech):
    return dict(base_config, mechanisms=dict(base_config["mechanisms"], **mech))


def test_grid_names_and_worlds(base_config):
    cfg = _config(base_config, predictability=[1.0, 0.5], context=[0.0, 1.0])
    names = [pt.dataset for pt in grid_points(cfg)]
    assert names == ["synthcontext", "synthcontext_p100_c100", "synthcontext_p50_c0", "synthcontext_p50_c100"]
    added = grid_datasets(cfg)
    assert set(added) == set(names[1:])  # the base's own point is the base itself
    assert added["synthcontext_p50_c100"]["world"]["semantic_predictability"] == 0.5
    assert added["synthcontext_p50_c100"]["world"]["context_dependence"] == 1.0
    assert base_config["datasets"]["synthcontext"]["world"]["context_dependence"] == 0.0  # not modified


def test_grid_refuses_a_split_the_base_lacks(base_config):
    with pytest.raises(ValueError, match="mechanisms.ks"):
        grid_points(_config(base_config, ks=[3]))


def _rows(dataset, method, calibration, values):
    return [dict({m: 50.0 for m in RESULT_METRICS}, dataset=dataset, K=2, method=method, calibration=calibration,
                 seed=s, unseen_miou=v) for s, v in enumerate(values)]


def test_verdicts_and_paragraphs_follow_the_margins(base_config):
    cfg = _config(base_config, predictability=[1.0], context=[0.0, 1.0], ks=[2])
    points = grid_points(cfg)
    rows = []
    for ds, gc_gain in (("synthcontext", -5.0), ("synthcontext_p100_c100", 5.0)):
        rows += _rows(ds, "baseline", "raw", [10.0, 11.0, 12.0])
        for cal, zs3 in (("raw", [20.0, 22.0, 21.0]), ("calibrated", [30.0, 31.0, 33.0])):
            rows += _rows(ds, "zs3", cal, zs3) + _rows(ds, "zs3gc", cal, list(np.add(zs3, gc_gain) + [0, 1, -1]))
    df = judge_grid(pd.DataFrame(rows), points, [2], alpha=0.05)
    verdict = df.set_index(["dataset", "method", "calibration"])["verdict"]
    assert (verdict.xs("zs3", level="method") == "holds").all()  # calibrated too: the baseline's one output
    assert verdict["synthcontext_p100_c100", "zs3gc", "raw"] == "holds"
    assert verdict["synthcontext", "zs3gc", "calibrated"] == "does not hold"
    md = mechanisms_markdown(df, base="synthcontext", alpha=0.05, n_seeds=3,
                             gc={"adjacency": "self_and_neighbours", "node_term": "per_graph"})
    assert "`gc.adjacency: self_and_neighbours`, `gc.node_term: per_graph`" in md
    assert "It holds at every K and calibration exactly at p = 1, c = 1." in md
    assert "it **does not hold** in 2 of 4 comparisons (p = 1, c = 0, K = 2, raw; p = 1, c = 0, K = 2, calibrated)" in md
    assert "It holds at every K and calibration exactly at p = 1, c = 0, p = 1, c = 1." in md

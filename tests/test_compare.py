"""The main run and its variants side by side, from tables written by zs3core.tables itself."""
import math

import pandas as pd
import pytest

from zs3core import compare, tables


def results_csv(path, method, K, hiou, seed=0):
    """A results CSV of one method: a raw row whose metrics are all `hiou` (enough for a table)."""
    row = {"dataset": "synthvoc", "K": K, "method": method, "seed": seed, "protocol": "strict",
           "calibration": "raw", "gamma": 0.0} | {m: hiou for m in tables.RESULT_METRICS}
    pd.DataFrame([row]).to_csv(path, index=False)
    return path


def write_table1(folder, zs3_hiou):
    """results/table1_synthvoc.csv of a run whose ZS3Net scores `zs3_hiou` at K=2 (baseline: 10)."""
    folder.mkdir(parents=True, exist_ok=True)
    inputs = [results_csv(folder / "b.csv", "baseline", 2, 10.0), results_csv(folder / "z.csv", "zs3", 2, zs3_hiou)]
    df = tables.table1(inputs, dataset="synthvoc", ks=[2], calibrations=("raw",))
    path = folder / "table1_synthvoc.csv"
    tables.write_table(df, path, folder / "table1_synthvoc.md", "Table 1")
    return path


def test_run_name_reads_the_folder():
    assert compare.run_name("results/table1_voc.csv") == "main"
    assert compare.run_name("/x/y/results/table1_voc.csv") == "main"
    assert compare.run_name("runs/lr_small/results/table1_voc.csv") == "lr_small"
    with pytest.raises(ValueError, match="runs/<name>/results"):
        compare.run_name("runs/lr_small/table1_voc.csv")


def test_each_cell_has_one_column_per_run_main_first(tmp_path):
    paths = [write_table1(tmp_path / "runs/b_run/results", 30.0), write_table1(tmp_path / "results", 20.0),
             write_table1(tmp_path / "runs/a_run/results", 25.0)]
    df = compare.compare(paths)
    assert list(df.columns) == ["table", "row", "metric", "main", "a_run", "b_run"]
    zs3 = df[(df["row"] == "K=2 ZS3Net") & (df["metric"] == "hiou")].iloc[0]
    assert (zs3["main"], zs3["a_run"], zs3["b_run"]) == (20.0, 25.0, 30.0)
    baseline = df[(df["row"] == "K=2 Baseline") & (df["metric"] == "hiou")].iloc[0]
    assert (baseline["main"], baseline["a_run"], baseline["b_run"]) == (10.0, 10.0, 10.0)
    # every metric of the table, for both rows, in the table's own row order
    assert len(df) == 2 * len(tables.METRICS) and list(df["row"].unique()) == ["K=2 Baseline", "K=2 ZS3Net"]
    md = compare.to_markdown(df)
    assert "| K=2 ZS3Net | hIoU | 20.0 | 25.0 | 30.0 |" in md and "## table1_synthvoc" in md


def test_a_cell_one_run_lacks_is_empty(tmp_path):
    main = write_table1(tmp_path / "results", 20.0)
    folder = tmp_path / "runs/only_baseline/results"
    folder.mkdir(parents=True)
    df = tables.table1([results_csv(folder / "b.csv", "baseline", 2, 12.0)], dataset="synthvoc", ks=[2],
                       calibrations=("raw",))
    tables.write_table(df, folder / "table1_synthvoc.csv", folder / "table1_synthvoc.md", "Table 1")
    out = compare.compare([main, folder / "table1_synthvoc.csv"])
    zs3 = out[(out["row"] == "K=2 ZS3Net") & (out["metric"] == "hiou")].iloc[0]
    assert zs3["main"] == 20.0 and math.isnan(zs3["only_baseline"])
    assert "| K=2 ZS3Net | hIoU | 20.0 | \u2013 |" in compare.to_markdown(out)


def test_a_file_that_is_no_table_is_refused(tmp_path):
    (tmp_path / "results").mkdir()
    path = tmp_path / "results/table1_synthvoc.csv"
    pd.DataFrame({"x": [1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="table1_synthvoc.csv"):
        compare.compare([path])

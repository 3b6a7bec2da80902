"""Tables 1-4 from metrics CSVs: layout, paper numbers, seeds, errors; the paper transcription."""
import csv
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from zs3core import tables

PAPER_TEXT = Path("/work/shared/paper/zs3net_paper.txt")
if not PAPER_TEXT.exists():  # a checkout with shared/ inside the repository
    PAPER_TEXT = Path(__file__).resolve().parents[1] / "shared" / "paper" / "zs3net_paper.txt"

COLUMNS = ["dataset", "K", "method", "seed", "protocol", "calibration", "gamma", "backbone", "unseen_pixels",
           "embedding_source", "absent_as_zero", "seen_pa", "seen_ma", "seen_miou", "unseen_pa", "unseen_ma",
           "unseen_miou", "all_pa", "all_ma", "all_miou", "hiou", "vanilla_unseen_miou"]
METRICS = COLUMNS[11:]
NAN = float("nan")


def row(dataset, K, method, values, *, seed=0, calibration="raw", gamma=0.0):
    """A results row; `values` = the 11 metrics in CSV order (seen PA..hIoU, vanilla)."""
    meta = dict(dataset=dataset, K=K, method=method, seed=seed, protocol="strict", calibration=calibration,
                gamma=gamma, backbone="resnet101", unseen_pixels="drop", embedding_source="w2v",
                absent_as_zero=False)
    return dict(meta, **dict(zip(METRICS, values)))


def write(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return str(path)


def metrics(base):
    """11 distinct, recognisable values: base + 0.01 * i (i = column index)."""
    return [base + 0.01 * i for i in range(11)]


SUP = [NAN] * 6 + [94.71, 87.23, 76.94, NAN, NAN]  # supervised oracle: only overall metrics defined


@pytest.fixture
def voc_files(tmp_path):
    """VOC results: supervised, K=2 and K=4 baseline / zs3 (raw+calibrated), K=2 seen-only and ceiling."""
    f = {}
    f["sup"] = write(tmp_path / "voc_supervised.csv", [row("voc", 0, "supervised", SUP)])
    f["b2"] = write(tmp_path / "voc_k2_baseline.csv", [row("voc", 2, "baseline", metrics(10))])
    f["z2"] = write(tmp_path / "voc_k2_zs3.csv", [row("voc", 2, "zs3", metrics(20)),
                                                  row("voc", 2, "zs3", metrics(30), calibration="calibrated",
                                                      gamma=1.25)])
    f["b4"] = write(tmp_path / "voc_k4_baseline.csv", [row("voc", 4, "baseline", metrics(40))])
    f["z4"] = write(tmp_path / "voc_k4_zs3.csv", [row("voc", 4, "zs3", metrics(50)),
                                                  row("voc", 4, "zs3", metrics(60), calibration="calibrated",
                                                      gamma=0.5)])
    f["s2"] = write(tmp_path / "voc_k2_seenonly.csv", [row("voc", 2, "seenonly", metrics(70))])
    f["c2"] = write(tmp_path / "voc_k2_ceiling.csv", [row("voc", 2, "ceiling", metrics(80))])
    return f


# ----------------------------------------------------------------------------- Table 1
def test_table1_rows_cells_and_paper_columns(voc_files):
    # dict input, shuffled order: the layout must not depend on input order
    t = tables.table1({k: voc_files[k] for k in reversed(list(voc_files))}, "voc", ks=(2, 4))
    assert list(t["Model"]) == ["Supervised", "Baseline", "ZS3Net", "ZS3Net (calibrated)", "Seen-only",
                                "Real-feature ceiling (diagnostic)", "Baseline", "ZS3Net", "ZS3Net (calibrated)"]
    assert list(t["K"]) == [0, 2, 2, 2, 2, 2, 4, 4, 4]
    assert list(t["calibration"]) == ["raw", "raw", "raw", "calibrated", "raw", "raw", "raw", "raw", "calibrated"]
    # supervised: overall only
    sup = t.iloc[0]
    assert sup["all_miou"] == pytest.approx(76.94) and sup["all_pa"] == pytest.approx(94.71)
    assert all(math.isnan(sup[m]) for m in ("seen_pa", "unseen_miou", "hiou"))
    assert sup["all_miou_paper"] == 76.9 and math.isnan(sup["seen_pa_paper"])
    # measured cells: metrics(base)[i] = base + 0.01 i; unseen_miou is column 5, hiou 9
    z2 = t.iloc[2]
    assert z2["unseen_miou"] == pytest.approx(20.05) and z2["hiou"] == pytest.approx(20.09)
    assert z2["unseen_miou_paper"] == 35.4 and z2["hiou_paper"] == 47.5 and z2["seen_pa_paper"] == 93.6
    cal4 = t.iloc[8]
    assert cal4["seen_pa"] == pytest.approx(60.0) and cal4["gamma"] == 0.5
    assert math.isnan(cal4["unseen_miou_paper"])  # the paper has no calibrated row
    b4 = t.iloc[6]
    assert b4["all_miou"] == pytest.approx(40.08) and b4["unseen_miou_paper"] == 2.9
    assert math.isnan(t.iloc[4]["unseen_miou_paper"]) and math.isnan(t.iloc[5]["hiou_paper"])
    assert t["n_seeds"].eq(1).all() and t["seen_pa_std"].isna().all()


def test_table1_only_raw_and_missing_rows_left_out(voc_files):
    t = tables.table1([voc_files["sup"], voc_files["z2"], voc_files["b4"]], "voc", ks=(2, 4, 6),
                      calibrations=("raw",))
    assert list(zip(t["K"], t["Model"])) == [(0, "Supervised"), (2, "ZS3Net"), (4, "Baseline")]


def test_markdown_voc_shows_paper_numbers(voc_files, tmp_path):
    t = tables.table1(list(voc_files.values()), "voc", ks=(2, 4))
    csv_path, md_path = tmp_path / "out" / "table1.csv", tmp_path / "out" / "table1.md"
    tables.write_table(t, csv_path, md_path, "Table 1: Pascal-VOC", notes="generalized evaluation over all classes")
    md = md_path.read_text().splitlines()
    assert md[0] == "# Table 1: Pascal-VOC"
    assert "generalized evaluation over all classes" in md
    header = [c.strip() for c in md[next(i for i, l in enumerate(md) if l.startswith("| K"))].strip("|").split("|")]
    assert header == ["K", "Model", "Seen PA", "Seen MA", "Seen mIoU", "Unseen PA", "Unseen MA", "Unseen mIoU",
                      "Overall PA", "Overall MA", "Overall mIoU", "hIoU"]
    body = [[c.strip() for c in l.strip("|").split("|")] for l in md if l.startswith("| ") and "---" not in l][1:]
    assert body[0] == ["", "Supervised"] + ["\u2013"] * 6 + ["94.7 (paper 94.7)", "87.2 (paper 87.2)",
                                                            "76.9 (paper 76.9)", "\u2013"]
    assert body[2][:2] == ["2", "ZS3Net"]
    assert body[2][7] == "20.1 (paper 35.4)"     # unseen mIoU 20.05 -> 20.1 (one decimal)
    assert body[2][11] == "20.1 (paper 47.5)"    # hIoU 20.09
    assert body[3][1] == "ZS3Net (calibrated)" and body[3][2] == "30.0"  # no paper number
    assert body[4][1] == "Seen-only" and "paper" not in " ".join(body[4])
    assert "\u00b1" not in "\n".join(md)
    # CSV: full precision, paper and std columns, 'nan' for undefined
    back = pd.read_csv(csv_path)
    assert back.loc[2, "unseen_miou"] == pytest.approx(20.05, abs=1e-12)
    assert back.loc[2, "unseen_miou_paper"] == 35.4
    assert {"seen_pa_std", "hiou_paper", "gamma", "n_seeds"} <= set(back.columns)
    assert "nan" in csv_path.read_text().splitlines()[1]
    assert not list((tmp_path / "out").glob(".*tmp*"))  # atomic writes leave no temporaries


def test_synthetic_dataset_has_no_paper_numbers(tmp_path):
    files = [write(tmp_path / "synthvoc_supervised.csv", [row("synthvoc", 0, "supervised", SUP)]),
             write(tmp_path / "synthvoc_k2_zs3.csv", [row("synthvoc", 2, "zs3", metrics(20)),
                                                      row("synthvoc", 2, "zs3", metrics(25),
                                                          calibration="calibrated")])]
    t = tables.table1(files, "synthvoc", ks=(2,))
    assert list(t["Model"]) == ["Supervised", "ZS3Net", "ZS3Net (calibrated)"]
    assert not any(c.endswith("_paper") for c in t.columns)
    md = tables.to_markdown(t, title="Table 1 (synthvoc)")
    assert "paper" not in md
    assert "| 2 | ZS3Net | 20.0 | 20.0 | 20.0 | 20.0 | 20.0 | 20.1 | 20.1 | 20.1 | 20.1 | 20.1 |" in md


# ----------------------------------------------------------------------------- Tables 2, 3, 4
def test_table2_generalized_vs_vanilla(tmp_path):
    files = [write(tmp_path / "voc_k10_baseline.csv", [row("voc", 10, "baseline", [0] * 5 + [2.5] + [0] * 4 + [40.0])]),
             write(tmp_path / "voc_k10_zs3.csv", [row("voc", 10, "zs3", [0] * 5 + [17.0] + [0] * 4 + [45.0]),
                                                  row("voc", 10, "zs3", [0] * 5 + [21.0] + [0] * 4 + [45.0],
                                                      calibration="calibrated")]),
             write(tmp_path / "voc_k2_zs3.csv", [row("voc", 2, "zs3", metrics(1))])]  # other K: ignored
    t = tables.table2(files)
    assert list(t["Model"]) == ["Baseline", "ZS3Net", "ZS3Net (calibrated)"]
    assert list(t["unseen_miou"]) == [2.5, 17.0, 21.0]
    assert list(t["vanilla_unseen_miou"]) == [40.0, 45.0, 45.0]
    assert list(t["unseen_miou_paper"][:2]) == [1.9, 18.1] and list(t["vanilla_unseen_miou_paper"][:2]) == [41.7, 46.2]
    md = tables.to_markdown(t)
    assert "| 10 | Baseline | 2.5 (paper 1.9) | 40.0 (paper 41.7) |" in md
    assert "| 10 | ZS3Net (calibrated) | 21.0 | 45.0 |" in md
    assert "Unseen mIoU | Vanilla eval." in md


def test_table3_context_with_gc(tmp_path):
    files = [write(tmp_path / "context_supervised.csv", [row("context", 0, "supervised", SUP)]),
             write(tmp_path / "context_k2_baseline.csv", [row("context", 2, "baseline", metrics(10))]),
             write(tmp_path / "context_k2_zs3gc.csv", [row("context", 2, "zs3gc", metrics(31)),
                                                       row("context", 2, "zs3gc", metrics(32), calibration="calibrated")]),
             write(tmp_path / "context_k2_zs3.csv", [row("context", 2, "zs3", metrics(21)),
                                                     row("context", 2, "zs3", metrics(22), calibration="calibrated")])]
    t = tables.table3(files, "context", ks=(2,))
    assert list(t["Model"]) == ["Supervised", "Baseline", "ZS3Net", "ZS3Net (calibrated)", "ZS3Net + GC",
                                "ZS3Net + GC (calibrated)"]
    assert t.loc[0, "all_miou_paper"] == 42.2
    assert t.loc[4, "unseen_miou_paper"] == 30.0 and t.loc[4, "hiou_paper"] == 34.8
    assert t.loc[2, "seen_miou_paper"] == 41.6 and t.loc[1, "unseen_pa_paper"] == 9.5
    assert t.loc[4, "seen_pa"] == pytest.approx(31.0)


def test_authors_models_beside_the_paper_numbers_of_their_method(tmp_path):
    """The authors' published models, evaluated here, follow our rows with the paper's numbers."""
    files = [write(tmp_path / "context_k4_zs3.csv", [row("context", 4, "zs3", metrics(21))]),
             write(tmp_path / "context_k4_authorszs3gc.csv", [row("context", 4, "authorszs3gc", metrics(41))]),
             write(tmp_path / "context_k4_authorszs3.csv", [row("context", 4, "authorszs3", metrics(31))])]
    t = tables.table3(files, "context", ks=(4,))
    assert list(t["Model"]) == ["ZS3Net", "ZS3Net (authors' model)", "ZS3Net + GC (authors' model)"]
    zs3_paper, gc_paper = (tables.paper_value(3, "context", 4, m, "unseen_miou") for m in ("zs3", "zs3gc"))
    assert list(t["unseen_miou_paper"]) == [zs3_paper, zs3_paper, gc_paper] and gc_paper > zs3_paper
    voc = tables.table1([write(tmp_path / "voc_k2_authorszs3.csv", [row("voc", 2, "authorszs3", metrics(5))])],
                        "voc", ks=(2,))
    assert list(voc["Model"]) == ["ZS3Net (authors' model)"] and voc.loc[0, "unseen_miou_paper"] == 35.4


def test_rows_at_the_authors_resolution_say_so(tmp_path):
    path = tmp_path / "voc_k2_authorszs3.csv"
    pd.DataFrame([dict(row("voc", 2, "authorszs3", metrics(5)), eval_short_side=513)]).to_csv(path, index=False)
    t = tables.table1([path, write(tmp_path / "voc_k2_zs3.csv", [row("voc", 2, "zs3", metrics(20))])], "voc", ks=(2,))
    assert list(t["eval_short_side"].fillna(0)) == [0, 513]
    assert "short side of 513 pixels" in tables.to_markdown(t)
    assert "short side" not in tables.to_markdown(tables.table1([path.with_name("voc_k2_zs3.csv")], "voc", ks=(2,)))


def test_markdown_names_the_iou_rule(tmp_path, voc_files):
    md = tables.to_markdown(tables.table1(voc_files, "voc", ks=(2,)))
    assert "IoU rule: standard" in md and "authors'" not in md.split("IoU rule")[1].split("\n")[0]
    authors = write(tmp_path / "voc_k2_zs3a.csv", [dict(row("voc", 2, "zs3", metrics(20)), absent_as_zero=True)])
    md = tables.to_markdown(tables.table1([authors], "voc", ks=(2,)))
    assert "IoU rule: the authors' (absent_as_zero)" in md and "IoU rule: standard" not in md


def test_non_strict_rows_are_marked_and_named(tmp_path):
    rows = [dict(row("synthvoc", 2, "zs3", metrics(20)), protocol="authors"),
            dict(row("synthvoc", 2, "zs3", metrics(30), calibration="calibrated"), protocol="authors"),
            dict(row("synthvoc", 2, "zs3gc", metrics(40)), protocol="unseen_masks"),
            dict(row("synthvoc", 2, "ceiling", metrics(50)), protocol="real_unseen"),
            row("synthvoc", 2, "baseline", metrics(10))]
    t = tables.table3([write(tmp_path / "r.csv", rows)], "synthvoc", ks=(2,))
    lines = tables.to_markdown(t).splitlines()
    model = {line.split(" | ")[1]: line for line in lines if line.startswith("| 2 |")}
    assert set(model) == {"Baseline", "ZS3Net\u2020", "ZS3Net (calibrated)\u2020", "ZS3Net + GC\u2021",
                          "Real-feature ceiling (diagnostic)\u00a7"}
    footnotes = [line for line in lines if line[:1] in "\u2020\u2021\u00a7" and line]
    assert [f.split(" protocol ")[1].split(":")[0] for f in footnotes] == ["`authors`", "`unseen_masks`", "`real_unseen`"]


def test_rows_whose_backbone_saw_the_unseen_classes_are_marked(tmp_path):
    rows = [dict(row("voc", 2, "zs3", metrics(20)), backbone_saw_unseen="yes", generator_budget="30 epochs"),
            dict(row("voc", 2, "ceiling", metrics(50)), protocol="real_unseen", backbone_saw_unseen="yes"),
            dict(row("voc", 2, "baseline", metrics(10)), backbone_saw_unseen="no"),
            dict(row("voc", 2, "seenonly", metrics(30)), backbone_saw_unseen="unknown")]
    path = tmp_path / "r.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    t = tables.table1([str(path)], "voc", ks=(2,))
    assert dict(zip(t["method"], t["backbone_saw_unseen"])) == {"baseline": "no", "zs3": "yes", "seenonly": "unknown",
                                                                "ceiling": "yes"}
    assert t.loc[t["method"] == "zs3", "generator_budget"].item() == "30 epochs"
    lines = tables.to_markdown(t).splitlines()
    model = {line.split(" | ")[1]: line for line in lines if line.startswith("| 2 |")}
    assert set(model) == {"Baseline", "ZS3Net\u00b6", "Seen-only\u00b6?", "Real-feature ceiling (diagnostic)\u00a7\u00b6"}
    footnotes = [line for line in lines if line and line[0] in "\u00a7\u00b6"]  # in order of first use
    assert [f.split(" ")[0] for f in footnotes] == ["\u00b6", "\u00b6?", "\u00a7"]
    assert "full ImageNet" in footnotes[0] and "segmenter.init: file" in footnotes[1]


def test_other_calibrations_are_ignored(tmp_path, voc_files):
    other = write(tmp_path / "voc_k2_zs3gm.csv", [row("voc", 2, "zs3", metrics(90), calibration="median_gamma")])
    t = tables.table1(list(voc_files.values()) + [other], "voc", ks=(2,))
    assert "median_gamma" not in set(t["calibration"]) and 90.0 not in set(t["seen_pa"])


def test_table4_zs5_per_k_and_dataset(tmp_path):
    files = [write(tmp_path / "voc_k2_zs5.csv", [row("voc", 2, "zs5", metrics(70)),
                                                 row("voc", 2, "zs5", metrics(71), calibration="calibrated")]),
             write(tmp_path / "context_k2_zs5.csv", [row("context", 2, "zs5", metrics(40))]),
             write(tmp_path / "voc_k10_zs5.csv", [row("voc", 10, "zs5", metrics(50))]),
             write(tmp_path / "synthvoc_k2_zs5.csv", [row("synthvoc", 2, "zs5", metrics(60))])]
    t = tables.table4(files, datasets=("voc", "context", "synthvoc"), ks=(2, 10))
    assert list(zip(t["K"], t["Dataset"])) == [(2, "VOC"), (2, "VOC (calibrated)"), (2, "Context"),
                                               (2, "SynthVOC"), (10, "VOC")]
    assert t.loc[0, "unseen_miou_paper"] == 75.8 and t.loc[2, "unseen_miou_paper"] == 55.5
    assert t.loc[4, "hiou_paper"] == 46.7
    assert math.isnan(t.loc[1, "hiou_paper"]) and math.isnan(t.loc[3, "hiou_paper"])
    md = tables.to_markdown(t)
    assert [l for l in md.splitlines() if l.startswith("|")][0].startswith("| K | Dataset | Seen PA")
    assert "| 2 | SynthVOC | 60.0 |" in md


# ----------------------------------------------------------------------------- seeds
def test_two_seeds_mean_and_std(tmp_path, voc_files):
    a = [10.0, 20.0, 30.0, 40.0, 50.0, 30.0, 60.0, 70.0, 80.0, 35.0, 41.0]
    b = [12.0, 20.0, 30.0, 40.0, 50.0, 34.0, 60.0, 70.0, 80.0, 36.0, 41.0]
    files = [voc_files["sup"],
             write(tmp_path / "s0.csv", [row("voc", 2, "zs3", a, seed=0), row("voc", 2, "zs3", a, seed=0,
                                                                              calibration="calibrated", gamma=1.0)]),
             write(tmp_path / "s1.csv", [row("voc", 2, "zs3", b, seed=1), row("voc", 2, "zs3", b, seed=1,
                                                                              calibration="calibrated", gamma=2.0)])]
    t = tables.table1(files, "voc", ks=(2,))
    z = t.iloc[1]
    assert z["Model"] == "ZS3Net" and z["n_seeds"] == 2 and z["seeds"] == "0;1"
    # mean of (30, 34) = 32; sample std = |34 - 30| / sqrt(2) = 2.828...
    assert z["unseen_miou"] == pytest.approx(32.0) and z["unseen_miou_std"] == pytest.approx(2 * math.sqrt(2))
    assert z["seen_pa"] == pytest.approx(11.0) and z["seen_pa_std"] == pytest.approx(math.sqrt(2))
    assert z["seen_ma_std"] == 0.0
    assert t.iloc[2]["gamma"] == pytest.approx(1.5)
    md = tables.to_markdown(t)
    assert "| 2 | ZS3Net | 11.0 \u00b1 1.4 (paper 93.6) | 20.0 \u00b1 0.0 (paper 84.9) |" in md
    assert "32.0 \u00b1 2.8 (paper 35.4)" in md
    assert "mean \u00b1 standard deviation" in md


def test_seeds_with_different_settings_are_refused(tmp_path):
    r1 = row("voc", 2, "zs3", metrics(1), seed=0)
    r2 = dict(row("voc", 2, "zs3", metrics(1), seed=1), backbone="resnet50")
    files = [write(tmp_path / "a.csv", [r1]), write(tmp_path / "b.csv", [r2])]
    with pytest.raises(ValueError, match=r"backbone.*a\.csv, .*b\.csv"):
        tables.table1(files, "voc", ks=(2,))


def test_baseline_settings_reach_the_table_and_must_agree_between_seeds(tmp_path):
    """The baseline's loss, margin (empty for cosine), init and epochs columns, as evaluation writes them."""
    settings = {"baseline_loss": "cosine", "baseline_margin": None, "baseline_init": "scratch", "baseline_epochs": 200}
    rows = [dict(row("voc", 2, "baseline", metrics(s), seed=s), **settings) for s in (0, 1)]
    paths = []
    for i, r in enumerate(rows):
        paths.append(str(tmp_path / f"b{i}.csv"))
        pd.DataFrame([r]).to_csv(paths[-1], index=False)
    t = tables.table1(paths, "voc", ks=(2,))
    b = t[t["Model"] == "Baseline"].iloc[0]
    assert b["baseline_loss"] == "cosine" and b["baseline_init"] == "scratch" and b["baseline_epochs"] == 200
    assert math.isnan(b.get("baseline_margin", NAN)) and b["n_seeds"] == 2
    pd.DataFrame([dict(rows[1], baseline_loss="rank", baseline_margin=0.1)]).to_csv(paths[1], index=False)
    with pytest.raises(ValueError, match="baseline_loss"):
        tables.table1(paths, "voc", ks=(2,))


def test_a_cross_validated_p_may_differ_between_seeds_a_fixed_one_may_not(tmp_path):
    def zs5(path, seed, p, rule):
        pd.DataFrame([dict(row("synthvoc", 2, "zs5", metrics(1), seed=seed), pseudo_p=p, pseudo_p_rule=rule)]).to_csv(
            path, index=False)
        return str(path)

    files = [zs5(tmp_path / f"s{s}.csv", s, p, "cv") for s, p in ((1, 50.0), (0, 25.0), (2, 25.0))]
    t = tables.table4(files, datasets=("synthvoc",), ks=(2,))
    assert t.loc[0, "pseudo_p"] == "25;50;25" and t.loc[0, "pseudo_p_rule"] == "cv"  # in the order of the seeds
    assert tables.p_note(t).endswith("chosen per split by zero-shot cross-validation on seen classes "
                                     "(never the test split): K=2: 25;50;25.")
    same = tables.table4([files[1], files[2]], datasets=("synthvoc",), ks=(2,))
    assert same.loc[0, "pseudo_p"] == 25.0 and "K=2: 25." in tables.p_note(same)
    fixed = [zs5(tmp_path / f"f{s}.csv", s, p, "fixed") for s, p in ((0, 25.0), (1, 50.0))]
    with pytest.raises(ValueError, match="pseudo_p"):
        tables.table4(fixed, datasets=("synthvoc",), ks=(2,))
    one = tables.table4(fixed[:1], datasets=("synthvoc",), ks=(2,))
    assert tables.p_note(one) == ("ZS5Net's p (percent of each image's unseen-predicted pixels kept as "
                                  "pseudo-labels): K=2: 25.")


# ----------------------------------------------------------------------------- errors
def test_duplicate_results_across_files_name_both(tmp_path):
    f1 = write(tmp_path / "voc_k2_zs3.csv", [row("voc", 2, "zs3", metrics(1))])
    f2 = write(tmp_path / "voc_k2_zs3_copy.csv", [row("voc", 2, "zs3", metrics(2))])
    with pytest.raises(ValueError, match="duplicate") as e:
        tables.table1([f1, f2], "voc", ks=(2,))
    assert f1 in str(e.value) and f2 in str(e.value)


def test_duplicate_rows_within_one_file(tmp_path):
    f1 = write(tmp_path / "voc_k2_zs3.csv", [row("voc", 2, "zs3", metrics(1)), row("voc", 2, "zs3", metrics(2))])
    with pytest.raises(ValueError, match=f"duplicate results rows .* in {f1}"):
        tables.table2([f1], k=2)


def test_same_method_raw_and_calibrated_is_not_a_duplicate(tmp_path):
    f1 = write(tmp_path / "voc_k2_zs3.csv", [row("voc", 2, "zs3", metrics(1)),
                                             row("voc", 2, "zs3", metrics(2), calibration="calibrated")])
    assert len(tables.table1([f1], "voc", ks=(2,))) == 2


def test_missing_columns_name_the_file(tmp_path, voc_files):
    bad = tmp_path / "voc_k2_baseline_bad.csv"
    pd.read_csv(voc_files["b2"]).drop(columns=["hiou"]).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"voc_k2_baseline_bad\.csv.*hiou"):
        tables.table1([voc_files["sup"], str(bad)], "voc", ks=(2,))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv"):
        tables.table4([str(empty)])


def test_files_without_calibration_columns_default_to_raw(tmp_path):
    """An older results file (no protocol/calibration/gamma columns) reads as one raw row."""
    path = tmp_path / "synthvoc_supervised.csv"
    pd.DataFrame([row("synthvoc", 0, "supervised", SUP)]).drop(
        columns=["protocol", "calibration", "gamma"]).to_csv(path, index=False)
    t = tables.table1([str(path)], "synthvoc", ks=(2,))
    assert list(t["Model"]) == ["Supervised"] and t.loc[0, "calibration"] == "raw"


# ----------------------------------------------------------------------------- paper transcription
def _parse_paper_tables():
    """Parse Tables 1, 3, 4 (tab-separated blocks), Table 2 and the ALE sentence beside Table 1
    out of the paper text."""
    lines = PAPER_TEXT.read_text(encoding="utf-8").splitlines()
    models = {"Supervised": "supervised", "Baseline": "baseline", "ZS3Net": "zs3", "ZS3Net + GC": "zs3gc"}
    names = ["seen_pa", "seen_ma", "seen_miou", "unseen_pa", "unseen_ma", "unseen_miou",
             "all_pa", "all_ma", "all_miou", "hiou"]
    out = {}
    for table, dataset in ((1, "voc"), (3, "context"), (4, None)):
        i = next(n for n, l in enumerate(lines) if l.startswith(f"Table {table}:"))
        i = next(n for n in range(i, len(lines)) if lines[n].startswith("K\t")) + 2
        K = None
        while lines[i].strip():
            cells = lines[i].split("\t")
            K = int(cells[0]) if cells[0] else K
            if table == 4:
                key = ({"VOC": "voc", "Context": "context"}[cells[1]], K, "zs5")
            else:
                method = models[cells[1]]
                key = (dataset, 0 if method == "supervised" else K, method)
            for name, v in zip(names, cells[2:], strict=True):
                if v != "\u2013":
                    out[(table,) + key + (name,)] = float(v)
            i += 1
    i = next(n for n, l in enumerate(lines) if l.startswith("Models\tGeneralized eval."))
    for l in lines[i + 1:i + 3]:
        model, gen, van = l.split("\t")
        out[(2, "voc", 10, models[model], "unseen_miou")] = float(gen)
        out[(2, "voc", 10, models[model], "vanilla_unseen_miou")] = float(van)
    ale = re.search(r"adapting ALE \[1\] with \$K = (\d+)\$\. They yielded ([\d.]+)% and ([\d.]+)% mIoU for "
                    r"seen and unseen classes \(harmonic mean of ([\d.]+)%\)", "\n".join(lines))
    for name, v in zip(("seen_miou", "unseen_miou", "hiou"), ale.groups()[1:], strict=True):
        out[(1, "voc", int(ale.group(1)), "ale", name)] = float(v)
    return out


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason="paper text not available")
def test_paper_csv_matches_paper_text():
    parsed = _parse_paper_tables()
    shipped = {(int(r.table), r.dataset, int(r.K), r.method, r.metric): float(r.value)
               for r in tables.paper_tables().itertuples(index=False)}
    assert len(parsed) == 363  # T1 3+100 (+3 of ALE's, in the text), T2 4, T3 3+150, T4 100
    assert shipped == parsed


def test_paper_values_spot_checks():
    """Hand-copied from the paper text."""
    checks = [
        (1, "voc", 0, "supervised", "all_miou", 76.9),
        (1, "voc", 2, "zs3", "unseen_miou", 35.4),
        (1, "voc", 2, "baseline", "hiou", 6.1),
        (1, "voc", 6, "zs3", "unseen_pa", 67.3),
        (1, "voc", 10, "zs3", "hiou", 23.6),
        (1, "voc", 8, "baseline", "all_ma", 34.7),
        (1, "voc", 2, "ale", "seen_miou", 68.1),
        (1, "voc", 2, "ale", "unseen_miou", 4.6),
        (1, "voc", 2, "ale", "hiou", 8.6),
        (2, "voc", 10, "baseline", "vanilla_unseen_miou", 41.7),
        (2, "voc", 10, "zs3", "unseen_miou", 18.1),
        (3, "context", 0, "supervised", "all_pa", 73.9),
        (3, "context", 2, "zs3gc", "unseen_miou", 30.0),
        (3, "context", 10, "zs3", "seen_miou", 20.8),
        (3, "context", 6, "zs3gc", "all_ma", 43.7),
        (4, "voc", 2, "zs5", "hiou", 75.7),
        (4, "context", 10, "zs5", "unseen_miou", 20.7),
        (4, "voc", 4, "zs5", "unseen_pa", 57.5),
    ]
    for table, dataset, K, method, metric, value in checks:
        assert tables.paper_value(table, dataset, K, method, metric) == value, (table, dataset, K, method, metric)
    assert math.isnan(tables.paper_value(1, "voc", 0, "supervised", "seen_pa"))
    assert math.isnan(tables.paper_value(1, "synthvoc", 2, "zs3", "hiou"))
    assert math.isnan(tables.paper_value(1, "voc", 2, "ale", "seen_pa"))  # the paper gives ALE's mIoUs only
    assert math.isnan(tables.paper_value(1, "voc", 4, "ale", "hiou"))


def test_paper_hiou_is_harmonic_mean_of_transcribed_mious():
    """Internal consistency of the transcription: hIoU = 2su/(s+u) to the paper's rounding."""
    p = tables.paper_tables()
    w = p[p["table"] != 2].pivot_table(index=["table", "dataset", "K", "method"], columns="metric",
                                       values="value").dropna(subset=["hiou"])
    assert len(w) == 36
    h = 2 * w["seen_miou"] * w["unseen_miou"] / (w["seen_miou"] + w["unseen_miou"])
    assert (h - w["hiou"]).abs().max() < 0.1


def test_paper_csv_is_package_data():
    from importlib import resources
    assert resources.files("zs3core").joinpath("paper_tables.csv").is_file()
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'zs3core = ["paper_tables.csv",' in text


def test_tables_and_claims_read_only_raw_and_calibrated_rows(tmp_path):
    # a CV-calibrated results file also carries the rate rule's row for comparison
    z = write(tmp_path / "voc_k2_zs3.csv", [row("voc", 2, "zs3", metrics(20)),
                                            row("voc", 2, "zs3", metrics(30), calibration="calibrated", gamma=1.0),
                                            row("voc", 2, "zs3", metrics(90), calibration="calibrated_rate", gamma=4.0)])
    c = write(tmp_path / "voc_k2_ceiling.csv", [row("voc", 2, "ceiling", metrics(80)),
                                                row("voc", 2, "ceiling", metrics(40), calibration="calibrated"),
                                                row("voc", 2, "ceiling", metrics(5), calibration="calibrated_rate")])
    t = tables.table1([z, c], dataset="voc", ks=[2])
    assert list(t["calibration"]) == ["raw", "calibrated", "raw", "calibrated"]
    assert list(t["gamma"]) == [0.0, 1.0, 0.0, 0.0]

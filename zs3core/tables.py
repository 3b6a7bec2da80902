"""Assemble the paper's Tables 1-4 from per-model metrics CSVs, beside the paper's own numbers.

Every evaluated model writes `results/{dataset}_k{K}_{method}.csv` (or `{dataset}_supervised.csv`)
with one row per (calibration, seed): meta columns (dataset, K, method, seed, protocol, calibration,
gamma, ...) then percentages (seen/unseen/all PA, MA, mIoU, hIoU, vanilla unseen mIoU).

The table functions read those files (a list of paths, a dict whose values are paths or lists of
paths, or an already loaded DataFrame), group the rows by (dataset, K, method, calibration) and
report the mean over seeds, with the sample standard deviation (ddof=1, NaN for a single seed)
in `<metric>_std`. For the real datasets (`voc`, `context`) a `<metric>_paper` column carries the
paper's number for the rows the paper reports (same method, the paper's raw protocol); calibrated
rows, seen-only and ceiling diagnostics have no paper counterpart.

`write_table` writes the returned DataFrame as CSV (full precision, 'nan' where undefined) and as
Markdown (one decimal, like the paper; `measured (paper X)` cells, `mean ± std` over seeds).
"""
from __future__ import annotations

import math
import os
from functools import lru_cache
from importlib import resources
from typing import Iterable, Mapping, Sequence

import pandas as pd

from zs3core.methods import BY_NAME, METHODS, table_methods
from zs3core.metrics import SUMMARY_KEYS
from zs3core.io import write_text

METRICS = SUMMARY_KEYS  # every metric of a results row but the vanilla one (zs3core/metrics.py)
RESULT_METRICS = METRICS + ["vanilla_unseen_miou"]
REQUIRED_COLUMNS = ["dataset", "K", "method"] + RESULT_METRICS
# Run settings that must agree between the seeds averaged into one table row.
SETTING_COLUMNS = ["protocol", "backbone", "backbone_init", "unseen_pixels", "holdout_excluded_from", "embedding_source",
                   "bandwidth_mode", "bandwidths", "dropout_at_generation", "gc_graphs", "pseudo_p", "pseudo_p_rule",
                   "pseudo_calibrated", "selftrain_mode", "absent_as_zero", "eval_short_side", "backbone_saw_unseen",
                   "generator_budget", "features_per_class", "classifier_epochs", "unseen_weight",
                   "baseline_loss", "baseline_margin", "baseline_init", "baseline_epochs", "ale_margin"]
GROUP_KEY = ["dataset", "K", "method", "calibration"]

PAPER_DATASETS = ("voc", "context")
PAPER_TABLE_OF_DATASET = {"voc": 1, "context": 3}  # where supervised / baseline / zs3 (/ zs3gc) live
DATASET_LABELS = {"voc": "VOC", "context": "Context", "synthvoc": "SynthVOC", "synthcontext": "SynthContext"}
METHOD_LABELS = {m.name: m.label for m in METHODS}
# The authors' published models, evaluated here, sit beside the paper's numbers of their method.
PAPER_METHOD = {m.name: m.paper_method for m in METHODS if m.paper_method}
METRIC_HEADERS = {
    "seen_pa": "Seen PA", "seen_ma": "Seen MA", "seen_miou": "Seen mIoU",
    "unseen_pa": "Unseen PA", "unseen_ma": "Unseen MA", "unseen_miou": "Unseen mIoU",
    "all_pa": "Overall PA", "all_ma": "Overall MA", "all_miou": "Overall mIoU", "hiou": "hIoU",
    "vanilla_unseen_miou": "Vanilla eval.",
}
LABEL_COLUMNS = ["K", "Model", "Dataset"]
DASH = "\u2013"
IOU_RULES = {
    False: "IoU rule: standard (FCN, mmsegmentation, torchmetrics): a class predicted but absent from the "
           "ground truth counts 0, a class neither present nor predicted is left out of the means.",
    True: "IoU rule: the authors' (absent_as_zero): every class absent from the ground truth counts 0 "
          "in MA and mIoU, predicted or not.",
}
# Rows not trained under the strict protocol are marked, each protocol with its own sign.
PROTOCOL_MARKS = {
    "authors": ("\u2020", "the authors' protocol: unseen ground-truth masks of training images place the "
                           "generated features"),
    "unseen_masks": ("\u2021", "the generated bank comes from the unseen classes' true masks of training images"),
    "real_unseen": ("\u00a7", "trained on real unseen features (an oracle, not zero-shot)"),
}
UNMARKED_PROTOCOLS = ("strict", "supervised", "none", "nan", "")  # the Supervised row's label says it
# Rows whose backbone's pretraining saw (or may have seen) the unseen classes (`backbone_saw_unseen`).
BACKBONE_MARKS = {
    "yes": ("\u00b6", "the backbone was pretrained on torchvision's full ImageNet, whose classes include unseen ones "
                       "(cow, cat, motorbike, ...): not zero-shot for them; the paper's backbone saw no Pascal class "
                       "(segmenter.init: authors_imagenet)"),
    "unknown": ("\u00b6?", "the backbone came from a user's file (segmenter.init: file): whether its pretraining "
                            "saw the unseen classes is not recorded"),
}
DEFAULT_KS = (2, 4, 6, 8, 10)


# ----------------------------------------------------------------------------- paper numbers
@lru_cache(maxsize=1)
def _paper_frame() -> pd.DataFrame:
    with resources.files("zs3core").joinpath("paper_tables.csv").open("r", encoding="utf-8") as f:
        df = pd.read_csv(f)
    df["K"] = df["K"].astype(int)
    df["table"] = df["table"].astype(int)
    return df


def paper_tables() -> pd.DataFrame:
    """The paper's Tables 1-4 in long format: table, dataset, K, method, metric, value (percent).

    Supervised rows have K=0 and only all_pa / all_ma / all_miou. Table 2 holds unseen_miou
    (generalized) and vanilla_unseen_miou (vanilla) for baseline and zs3 at VOC K=10. ALE
    (method `ale`, table 1, VOC K=2) has the seen_miou, unseen_miou and hiou that the text
    beside Table 1 gives.
    """
    return _paper_frame().copy()


@lru_cache(maxsize=8)
def _paper_lookup(table: int) -> dict:
    df = _paper_frame()
    df = df[df["table"] == table]
    return {(r.dataset, int(r.K), r.method, r.metric): float(r.value) for r in df.itertuples(index=False)}


def paper_value(table: int, dataset: str, K: int, method: str, metric: str) -> float:
    """One number of the paper (NaN when the paper does not report it)."""
    return _paper_lookup(int(table)).get((dataset, int(K), method, metric), math.nan)


# ----------------------------------------------------------------------------- reading results
def _flatten_paths(results) -> list[str]:
    if isinstance(results, (str, os.PathLike)):
        return [os.fspath(results)]
    if isinstance(results, Mapping):
        results = list(results.values())
    paths: list[str] = []
    for item in results:
        paths.extend(_flatten_paths(item))
    return paths


def _read_one(path: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, keep_default_na=True)
    except pd.errors.EmptyDataError as e:
        raise ValueError(f"results file {path} is empty") from e
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"results file {path} lacks required column(s) {missing}")
    if df.empty:
        raise ValueError(f"results file {path} has no rows")
    df = df.copy()
    if "seed" not in df.columns:
        df["seed"] = 0
    if "calibration" not in df.columns:
        df["calibration"] = "raw"
    if "gamma" not in df.columns:
        df["gamma"] = 0.0
    try:
        for c in RESULT_METRICS + ["gamma"]:
            df[c] = pd.to_numeric(df[c]).astype(float)
        df["K"] = pd.to_numeric(df["K"]).astype(int)
        df["seed"] = pd.to_numeric(df["seed"]).astype(int)
    except (ValueError, TypeError) as e:
        raise ValueError(f"results file {path} has a non-numeric value: {e}") from e
    for c in ("dataset", "method", "calibration"):
        df[c] = df[c].astype(str)
    df["source"] = str(path)
    return df


def load_results(results) -> pd.DataFrame:
    """Read and concatenate results CSVs; check columns and duplicates.

    `results`: a path, a list of paths, a dict whose values are paths (or lists of paths), or a
    DataFrame (returned after the same checks). Raises ValueError naming the file(s) when a file
    lacks a required column or when two rows share (dataset, K, method, calibration, seed).
    Missing `seed` / `calibration` / `gamma` columns default to 0 / 'raw' / 0.
    """
    if isinstance(results, pd.DataFrame):
        df = results.copy()
        if "source" not in df.columns:
            df["source"] = "<DataFrame>"
        missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"results table lacks required column(s) {missing}")
        for c, default in (("seed", 0), ("calibration", "raw"), ("gamma", 0.0)):
            if c not in df.columns:
                df[c] = default
    else:
        paths = _flatten_paths(results)
        if not paths:
            raise ValueError("no results files given")
        df = pd.concat([_read_one(p) for p in paths], ignore_index=True)
    key = GROUP_KEY + ["seed"]
    dup = df[df.duplicated(key, keep=False)]
    if not dup.empty:
        first, g = next(iter(dup.groupby(key, sort=True)))
        files = sorted(set(g["source"]))
        what = {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(key, first)}
        if len(files) == 1:
            raise ValueError(f"duplicate results rows for {what} in {files[0]}")
        raise ValueError(f"duplicate results for {what} in files: {', '.join(files)}")
    return df


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, K, method, calibration): mean over seeds, `<metric>_std` (ddof=1).

    A metric that is NaN for any seed is NaN in the mean. Also `n_seeds`, `seeds` ('0;1;2'),
    `gamma` (mean), and the run settings (which must agree between seeds: ValueError otherwise;
    but a cross-validated `pseudo_p` is chosen per seed: '25;50;25' in the order of `seeds`).
    """
    rows = []
    for key, g in df.groupby(GROUP_KEY, sort=False):
        row = dict(zip(GROUP_KEY, key))
        row["n_seeds"] = len(g)
        row["seeds"] = ";".join(str(s) for s in sorted(g["seed"]))
        row["gamma"] = float(g["gamma"].mean())
        for c in SETTING_COLUMNS:
            if c in g.columns:
                values = g[c].astype(str).unique()
                if len(values) > 1 and c == "pseudo_p" and _cross_validated_p(g):
                    row[c] = ";".join(f"{float(v):g}" for v in g.sort_values("seed")[c])
                    continue
                if len(values) > 1:
                    raise ValueError(f"seeds of {row['dataset']} K={row['K']} {row['method']} "
                                     f"({row['calibration']}) disagree on {c} ({sorted(values)}): "
                                     f"{', '.join(sorted(set(g['source'])))}")
                row[c] = g[c].iloc[0]
        for m in RESULT_METRICS:
            values = g[m].to_numpy(dtype=float)
            row[m] = float(values.mean())  # NaN if any seed is NaN
            row[f"{m}_std"] = float(pd.Series(values).std(ddof=1, skipna=False)) if len(values) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _cross_validated_p(rows: pd.DataFrame) -> bool:
    return "pseudo_p_rule" in rows.columns and set(rows["pseudo_p_rule"].astype(str)) == {"cv"}


def p_note(df: pd.DataFrame) -> str | None:
    """Table 4's line on ZS5Net's p per K, from the rows' provenance: cross-validated or fixed."""
    if "pseudo_p" not in df.columns or df.empty:
        return None
    per_k = df.drop_duplicates(["dataset", "K"])
    values = ", ".join(f"K={int(r['K'])}: {_p_text(r['pseudo_p'])}" for _, r in per_k.iterrows())
    rules = set(per_k["pseudo_p_rule"].astype(str)) if "pseudo_p_rule" in per_k.columns else {"fixed"}
    if rules == {"cv"}:
        return ("ZS5Net's p (percent of each image's unseen-predicted pixels kept as pseudo-labels), chosen per "
                f"split by zero-shot cross-validation on seen classes (never the test split): {values}.")
    return f"ZS5Net's p (percent of each image's unseen-predicted pixels kept as pseudo-labels): {values}."


def _p_text(value) -> str:
    return value if isinstance(value, str) else f"{float(value):g}"


# ----------------------------------------------------------------------------- table assembly
def _model_label(method: str, calibration: str) -> str:
    label = METHOD_LABELS.get(method, method)
    return label if calibration == "raw" else f"{label} ({calibration})"


def _table_row(agg_row: Mapping, label_cols: dict, metrics: Sequence[str], paper_table: int | None,
               blank: Sequence[str] = ()) -> dict:
    row = dict(label_cols)
    row.update(dataset=agg_row["dataset"], method=agg_row["method"], calibration=agg_row["calibration"],
               n_seeds=int(agg_row["n_seeds"]), seeds=agg_row["seeds"], gamma=agg_row["gamma"])
    for c in SETTING_COLUMNS:
        if c in agg_row and not (isinstance(agg_row[c], float) and math.isnan(agg_row[c])):
            row[c] = agg_row[c]
    with_paper = paper_table is not None and agg_row["calibration"] == "raw"
    for m in metrics:
        blanked = m in blank
        row[m] = math.nan if blanked else agg_row[m]
        row[f"{m}_std"] = math.nan if blanked else agg_row[f"{m}_std"]
        method = PAPER_METHOD.get(agg_row["method"], agg_row["method"])
        row[f"{m}_paper"] = (paper_value(paper_table, agg_row["dataset"], agg_row["K"], method, m)
                             if with_paper else math.nan)
    return row


def _finish(rows: list[dict], metrics: Sequence[str], has_paper: bool) -> pd.DataFrame:
    labels = [c for c in LABEL_COLUMNS if any(c in r for r in rows)] or ["K", "Model"]
    meta = ["dataset", "method", "calibration", "n_seeds", "seeds", "gamma"]
    settings = [c for c in SETTING_COLUMNS if any(c in r for r in rows)]
    cols = labels + meta + settings
    for m in metrics:
        cols += [m, f"{m}_std"] + ([f"{m}_paper"] if has_paper else [])
    df = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)
    if not df.empty:
        df["K"] = df["K"].astype(int)
        df["n_seeds"] = df["n_seeds"].astype(int)
    return df.reset_index(drop=True)


def _pick(agg: pd.DataFrame, dataset: str, K: int | None, method: str, calibrations: Sequence[str]) -> list:
    sel = agg[(agg["dataset"] == dataset) & (agg["method"] == method)]
    if K is not None:
        sel = sel[sel["K"] == int(K)]
    out = []
    for cal in calibrations:
        out.extend(r for _, r in sel[sel["calibration"] == cal].sort_values("K").iterrows())
    return out


def _segmentation_table(results, dataset: str, ks: Iterable[int], calibrations: Sequence[str],
                        methods: Sequence[str]) -> pd.DataFrame:
    agg = aggregate(load_results(results))
    paper_table = PAPER_TABLE_OF_DATASET.get(dataset)
    rows = []
    for r in _pick(agg, dataset, None, "supervised", ["raw"] + [c for c in calibrations if c != "raw"]):
        rows.append(_table_row(r, {"K": r["K"], "Model": _model_label("supervised", r["calibration"])},
                               METRICS, paper_table, blank=[m for m in METRICS if not m.startswith("all_")]))
    for K in ks:
        for method in methods:
            for r in _pick(agg, dataset, K, method, calibrations):
                pt = paper_table if BY_NAME[method].in_paper else None
                rows.append(_table_row(r, {"K": int(K), "Model": _model_label(method, r["calibration"])},
                                       METRICS, pt))
    return _finish(rows, METRICS, paper_table is not None)


def _split_rows(table: int) -> tuple[str, ...]:
    """The methods of a table's per-split rows, in order (zs3core/methods.py; the oracle is the
    tables' first row, apart)."""
    return tuple(m for m in table_methods(table) if BY_NAME[m].evaluation != "supervised")


def table1(results, dataset: str = "voc", ks: Iterable[int] = DEFAULT_KS,
           calibrations: Sequence[str] = ("raw", "calibrated")) -> pd.DataFrame:
    """Table 1 layout: Supervised (overall PA/MA/mIoU only), then per K: Baseline, ZS3Net,
    ZS3Net (calibrated), and when their CSVs are given the authors' published ZS3Net evaluated here,
    Seen-only and the Real-feature ceiling (diagnostic). Rows without a results file are left out."""
    return _segmentation_table(results, dataset, ks, calibrations, _split_rows(1))


def table3(results, dataset: str = "context", ks: Iterable[int] = DEFAULT_KS,
           calibrations: Sequence[str] = ("raw", "calibrated")) -> pd.DataFrame:
    """Table 3 layout: like `table1`, with ZS3Net + GC rows (method zs3gc, and the authors' model
    authorszs3gc) after ZS3Net."""
    return _segmentation_table(results, dataset, ks, calibrations, _split_rows(3))


def table2(results, dataset: str = "voc", k: int = 10,
           calibrations: Sequence[str] = ("raw", "calibrated")) -> pd.DataFrame:
    """Table 2 layout: generalized (unseen_miou) vs vanilla (vanilla_unseen_miou) unseen mIoU at
    K=k for Baseline and ZS3Net (and ZS3Net (calibrated): the offset moves only the generalized
    number)."""
    agg = aggregate(load_results(results))
    metrics = ["unseen_miou", "vanilla_unseen_miou"]
    paper_table = 2 if dataset == "voc" and int(k) == 10 else None
    rows = []
    for method in _split_rows(2):
        for r in _pick(agg, dataset, k, method, calibrations):
            rows.append(_table_row(r, {"K": int(k), "Model": _model_label(method, r["calibration"])},
                                   metrics, paper_table))
    return _finish(rows, metrics, paper_table is not None)


def table4(results, datasets: Sequence[str] = ("voc", "context"), ks: Iterable[int] = DEFAULT_KS,
           calibrations: Sequence[str] = ("raw", "calibrated")) -> pd.DataFrame:
    """Table 4 layout: ZS5Net (method zs5) rows per K, then per dataset (VOC, Context, ...);
    a calibrated row is labelled e.g. 'VOC (calibrated)'."""
    agg = aggregate(load_results(results))
    rows = []
    for K in ks:
        for dataset in datasets:
            for r in [r for method in _split_rows(4) for r in _pick(agg, dataset, K, method, calibrations)]:
                label = DATASET_LABELS.get(dataset, dataset)
                if r["calibration"] != "raw":
                    label = f"{label} ({r['calibration']})"
                rows.append(_table_row(r, {"K": int(K), "Dataset": label}, METRICS,
                                       4 if dataset in PAPER_DATASETS else None))
    return _finish(rows, METRICS, any(d in PAPER_DATASETS for d in datasets))


# ----------------------------------------------------------------------------- writers
def _fmt(x) -> str:
    return DASH if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def _cell(row: Mapping, m: str, has_paper: bool) -> str:
    value, std = row[m], row.get(f"{m}_std", math.nan)
    text = _fmt(value)
    if text != DASH and not (isinstance(std, float) and math.isnan(std)):
        text += f" \u00b1 {std:.1f}"
    paper = row.get(f"{m}_paper", math.nan) if has_paper else math.nan
    if not (isinstance(paper, float) and math.isnan(paper)):
        text += f" (paper {paper:.1f})"
    return text


def _iou_rule_note(df: pd.DataFrame) -> str:
    """One line naming the IoU rule of the rows (from their `absent_as_zero` column)."""
    if "absent_as_zero" not in df.columns or df["absent_as_zero"].isna().all():
        return "IoU rule: not recorded in the results rows."
    rules = {str(v).strip().lower() == "true" for v in df["absent_as_zero"].dropna()}
    return " / ".join(IOU_RULES[r] for r in sorted(rules)) if len(rules) > 1 else IOU_RULES[rules.pop()]


def _protocol_mark(row: Mapping) -> tuple[str, str | None]:
    """(sign, footnote) of a row's non-strict protocol; ('', None) for strict rows."""
    protocol = str(row.get("protocol", "")).strip()
    if protocol in UNMARKED_PROTOCOLS:
        return "", None
    sign, text = PROTOCOL_MARKS.get(protocol, ("*", "a protocol other than strict"))
    return sign, f"{sign} protocol `{protocol}`: {text}."


def _backbone_mark(row: Mapping) -> tuple[str, str | None]:
    """(sign, footnote) of a row whose backbone saw, or may have seen, the unseen classes."""
    sign, text = BACKBONE_MARKS.get(str(row.get("backbone_saw_unseen", "")).strip(), ("", None))
    return sign, f"{sign} {text}." if sign else None


def to_markdown(df: pd.DataFrame, title: str | None = None, notes: str | Sequence[str] | None = None) -> str:
    """The table as Markdown: one decimal, `–` where undefined, `mean ± std` when several seeds,
    `measured (paper X)` where the paper reports the cell. Supervised rows show no K. A line names
    the IoU rule; rows of a non-strict protocol, and rows whose backbone saw the unseen classes,
    carry a sign and a footnote naming it."""
    labels = [c for c in LABEL_COLUMNS if c in df.columns]
    metrics = [m for m in RESULT_METRICS if m in df.columns]
    has_paper = any(f"{m}_paper" in df.columns for m in metrics)
    header = labels + [METRIC_HEADERS[m] for m in metrics]
    lines = []
    if title:
        lines += [f"# {title}", ""]
    note_lines = [notes] if isinstance(notes, str) else list(notes or [])
    if "n_seeds" in df.columns and len(df) and int(df["n_seeds"].max()) > 1:
        note_lines.append("Cells with several seeds show mean \u00b1 standard deviation over seeds "
                          "(n_seeds in the CSV).")
    resized = sorted({int(v) for v in df.get("eval_short_side", pd.Series(dtype=float)).dropna() if v})
    if resized:
        note_lines.append(f"Evaluated at the authors' resolution, not the original one: images and ground truth "
                          f"resized to a short side of {' / '.join(map(str, resized))} pixels (eval_short_side).")
    if has_paper and any(df[f"{m}_paper"].notna().any() for m in metrics if f"{m}_paper" in df.columns):
        note_lines.append("Cells read `measured (paper X)`, X being the number that Bucher et al., "
                          "'Zero-Shot Semantic Segmentation', report for the same row.")
    note_lines.append(_iou_rule_note(df))
    for n in note_lines:
        if n:
            lines += [n, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * len(labels) + ["---:"] * len(metrics)) + "|")
    footnotes = []
    for _, row in df.iterrows():
        cells = []
        for c in labels:
            if c == "K" and row.get("method") == "supervised":
                cells.append("")
            else:
                cells.append(str(row[c]))
        for sign, footnote in (_protocol_mark(row), _backbone_mark(row)):
            cells[-1] += sign
            if footnote and footnote not in footnotes:
                footnotes.append(footnote)
        cells += [_cell(row, m, has_paper) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    for footnote in footnotes:
        lines += ["", footnote]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, csv_path, md_path, title: str,
                notes: str | Sequence[str] | None = None) -> None:
    """Write `df` as CSV (full precision, 'nan' where undefined) and Markdown, each atomically."""
    write_text(csv_path, df.to_csv(index=False, na_rep="nan"))
    write_text(md_path, to_markdown(df, title=title, notes=notes))


__all__ = ["METRICS", "RESULT_METRICS", "REQUIRED_COLUMNS", "paper_tables", "paper_value", "load_results",
           "aggregate", "table1", "table2", "table3", "table4", "to_markdown", "write_table"]

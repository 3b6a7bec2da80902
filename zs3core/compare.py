"""Runs side by side: each cell of the paper's tables in the main run and in every named variant.

The main run writes its tables as `results/table{N}_{dataset}.csv` (`zs3core.tables.write_table`);
a variant (`make variant NAME=<name>`, docs/variants.md) writes the same files under
`runs/<name>/results/`. A cell is (table file, row, metric): the row named by the table's label
columns (K, Model or Dataset), the metric one of `tables.RESULT_METRICS`, its value the mean over
seeds. `compare` puts one column per run beside each cell, the main run first, so that a changed
stage reads as the cells that moved; a cell a run did not build is left empty.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from zs3core.io import write_text
from zs3core.tables import DASH, LABEL_COLUMNS, METRIC_HEADERS, RESULT_METRICS

MAIN = "main"
CELL = ["table", "row", "metric"]


def run_name(path: str | os.PathLike) -> str:
    """The run a table file belongs to: `main` for `results/...`, `<name>` for `runs/<name>/results/...`."""
    parts = Path(path).parts
    if parts[-2:-1] != ("results",):
        raise ValueError(f"{path}: not a table of the main run (results/) or of a variant (runs/<name>/results/)")
    return parts[-3] if parts[-4:-3] == ("runs",) else MAIN


def row_label(row: pd.Series) -> str:
    """The row's name in its table: its label columns, e.g. `K=2 ZS3Net (calibrated)`."""
    words = []
    for column in LABEL_COLUMNS:
        value = row.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if column == "K":
            if row.get("method") != "supervised":
                words.append(f"K={int(value)}")
        else:
            words.append(str(value))
    return " ".join(words)


def table_cells(path: str | os.PathLike) -> pd.DataFrame:
    """One table CSV as cells: table (the file's stem), row, metric, value."""
    df = pd.read_csv(path)
    metrics = [m for m in RESULT_METRICS if m in df.columns]
    missing = [c for c in ("K", "method") if c not in df.columns]
    if missing or not metrics:
        raise ValueError(f"{path}: not a table CSV of zs3core.tables (no {missing or 'metric'} column)")
    table = Path(path).stem
    return pd.DataFrame([{"table": table, "row": row_label(row), "metric": m, "value": float(row[m])}
                         for _, row in df.iterrows() for m in metrics], columns=CELL + ["value"])


def compare(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Every cell of the given table CSVs, one column per run (`run_name`), the main run first and
    the variants in name order; cells keep the order of their first table, row and metric."""
    frames = [table_cells(p).assign(run=run_name(p)) for p in paths]
    if not frames:
        return pd.DataFrame(columns=CELL)
    cells = pd.concat(frames, ignore_index=True)
    clash = cells[cells.duplicated(CELL + ["run"], keep=False)]
    if not clash.empty:
        first = clash.iloc[0]
        raise ValueError(f"run {first['run']}: table {first['table']} has the row {first['row']!r} twice")
    runs = sorted(set(cells["run"]), key=lambda r: (r != MAIN, r))
    wide = cells.pivot(index=CELL, columns="run", values="value")
    order = cells.drop_duplicates(CELL)[CELL]
    wide = wide.reindex(pd.MultiIndex.from_frame(order))[runs]
    return wide.reset_index().rename_axis(columns=None)


def _fmt(value) -> str:
    return DASH if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def to_markdown(df: pd.DataFrame) -> str:
    """One section per table: a line per cell, the runs as columns (one decimal; `–` where a run
    has no such cell, or its value is undefined)."""
    runs = [c for c in df.columns if c not in CELL]
    lines = ["# The main run and its variants, cell by cell", "",
             f"Runs: {', '.join(runs) or 'none'} (`{MAIN}`: results/; a variant: runs/<name>/results/, "
             "docs/variants.md). Means over seeds, in percent.", ""]
    for table, cells in df.groupby("table", sort=False):
        lines += [f"## {table}", "", "| Row | Metric | " + " | ".join(runs) + " |",
                  "|---|---|" + "---:|" * len(runs)]
        for _, cell in cells.iterrows():
            values = " | ".join(_fmt(cell[r]) for r in runs)
            lines.append(f"| {cell['row']} | {METRIC_HEADERS[cell['metric']]} | {values} |")
        lines.append("")
    return "\n".join(lines)


def write_compare(df: pd.DataFrame, csv_path, md_path) -> None:
    """The comparison as CSV (full precision, 'nan' where a run has no cell) and Markdown, atomically."""
    write_text(csv_path, df.to_csv(index=False, na_rep="nan"))
    write_text(md_path, to_markdown(df))


__all__ = ["MAIN", "run_name", "row_label", "table_cells", "compare", "to_markdown", "write_compare"]

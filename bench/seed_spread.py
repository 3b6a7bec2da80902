"""The seed-to-seed spread of unseen mIoU and hIoU, from a multi-seed run's results CSVs.

Reads every per-model results CSV in a results folder (`{dataset}[_seed{S}]_k{K}_{method}.csv`,
per-class files left out) and writes bench/seed_spread.csv: dataset, method, calibration, K,
metric, mean, std (ddof=1), n_seeds and the per-seed values, for the raw and calibrated rows.
The claims of runs with one or two seeds quote it (rules/tables.smk, rule claims).

Run after a run with `seeds: [0, 1, 2]`:  .venv/bin/python bench/seed_spread.py [results] [out.csv]
"""
import re
import sys
from pathlib import Path

from zs3core.io import write_text
from zs3core.seed_spread import seed_spread

# One model per file: per-class files and the ZS5Net p sweep (zs5_p50, same rows as zs5) do not match.
RESULTS_CSV = re.compile(r"^[a-z]+(?:_seed\d+)?_k\d+_[a-z0-9]+\.csv$")


def results_files(folder: Path) -> list[Path]:
    """The per-model results CSVs of a results folder (not per-class files, tables or claims)."""
    return sorted(p for p in folder.glob("*.csv") if RESULTS_CSV.match(p.name))


def main(folder: str = "results", out: str = str(Path(__file__).with_name("seed_spread.csv"))) -> None:
    files = results_files(Path(folder))
    if not files:
        sys.exit(f"no results CSVs in {folder}")
    df = seed_spread(files)
    write_text(out, df.to_csv(index=False, float_format="%.4g", na_rep="nan"))
    print(f"{len(df)} rows from {len(files)} files -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])

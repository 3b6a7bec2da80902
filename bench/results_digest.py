"""The default run's results, pinned: SHA-256 of every `results/*.csv`, recorded and checked.

    python bench/results_digest.py check    # compare results/ with bench/expected_results.sha256
    python bench/results_digest.py write    # record results/ as expected (after a change that moves numbers)

The file is in `sha256sum` format with paths relative to the repository root, so
`sha256sum -c bench/expected_results.sha256` checks it too. `check` exits 1 and lists every file
that differs, is missing, or is new; it is meaningful for a run of the default config
(`make run`, seed 0) with the CPU kernels pinned (`compute.cpu_kernels: portable`).
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPECTED = REPO / "bench" / "expected_results.sha256"


def digests(results: Path) -> dict[str, str]:
    """{`results/<name>`: sha256} of every CSV directly under `results` (named as in the default
    run's folder, wherever `results` is)."""
    return {f"results/{p.name}": hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(results.glob("*.csv"))}


def read_expected(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        out[name.lstrip("*")] = digest
    return out


def compare(expected: dict[str, str], actual: dict[str, str]) -> dict[str, list[str]]:
    """Files that differ, are missing from the run, or are not in the record."""
    return {"differ": sorted(n for n in expected.keys() & actual.keys() if expected[n] != actual[n]),
            "missing": sorted(expected.keys() - actual.keys()),
            "new": sorted(actual.keys() - expected.keys())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["check", "write"])
    parser.add_argument("--results", type=Path, default=REPO / "results", help="folder of the run's CSVs")
    parser.add_argument("--expected", type=Path, default=EXPECTED)
    args = parser.parse_args(argv)
    actual = digests(args.results.resolve())
    if not actual:
        print(f"no CSV in {args.results}: run the workflow first", file=sys.stderr)
        return 2
    if args.action == "write":
        args.expected.write_text("".join(f"{d}  {n}\n" for n, d in actual.items()))
        print(f"recorded {len(actual)} files in {args.expected}")
        return 0
    report = compare(read_expected(args.expected), actual)
    for kind, names in report.items():
        for name in names:
            print(f"{kind}: {name}")
    same = len(actual) - len(report["differ"]) - len(report["new"])
    print(f"{same} of {len(read_expected(args.expected))} recorded files identical")
    return 1 if any(report.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

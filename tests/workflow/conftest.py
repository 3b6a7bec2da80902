"""Helpers to run the real workflow (Snakefile, rules, scripts) on small configs in a temp folder."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# A small synthetic world: the same generator as the default, fewer images.
SMALL_WORLD = {"n_train": 40, "n_val": 10}


def snakemake_command(workdir: Path, targets, overrides: dict | None = None, *extra: str) -> list[str]:
    """The command line that runs the workflow in `workdir` with config.yaml merged with `overrides`."""
    files = [str(REPO / "config.yaml")]
    if overrides:
        path = workdir / "overrides.yaml"
        path.write_text(yaml.safe_dump(overrides))
        files.append(str(path))
    return workflow_command(workdir, *extra, *targets, "--configfile", *files)


def workflow_command(workdir: Path, *args: str) -> list[str]:
    """The bare command line in `workdir`: config.yaml read only by the Snakefile's `configfile:`."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(workdir), "--cores", "2", *args]


def run_snakemake(workdir: Path, targets, overrides: dict | None = None, *extra: str,
                  check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow in `workdir` with config.yaml merged with `overrides`."""
    cmd = snakemake_command(workdir, targets, overrides, *extra)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def small_synthetic(**world) -> dict:
    worlds = {ds: {"world": {**SMALL_WORLD, **world}} for ds in ("synthvoc", "synthcontext")}
    return {"datasets": worlds}


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "work"
    path.mkdir()
    return path

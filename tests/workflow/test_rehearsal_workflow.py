"""The rehearsal overlay (config/rehearsal.yaml) builds every table of the real datasets from
real-format trees, in its own folder, with config paths given as a user would (relative)."""
import subprocess
import sys

from conftest import REPO
from fixtures import REHEARSAL_TABLES, assert_rehearsal_outputs, rehearsal_configs


def test_rehearsal_overlay_builds_tables_1_to_4(workdir, tmp_path):
    my, cpu = rehearsal_configs(tmp_path)
    cmd = [sys.executable, "-m", "snakemake", "--directory", str(workdir), "--cores", "2", *REHEARSAL_TABLES,
           "--configfile", "config.yaml", str(my), "config/rehearsal.yaml", str(cpu)]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stdout + result.stderr

    assert_rehearsal_outputs(workdir)
    assert not (workdir / "results/table1_synthvoc.md").exists()

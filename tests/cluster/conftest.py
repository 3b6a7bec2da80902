"""The `slurm` fixture: one single-node SLURM cluster shared by every cluster test (see slurm_harness)."""
from pathlib import Path

import pytest
import yaml

from slurm_harness import ClusterUnavailable, SlurmCluster

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A running cluster whose one partition is the slurm profile's default partition."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"), profile["default-resources"]["slurm_partition"])
    try:
        cluster.start()
    except ClusterUnavailable as e:
        cluster.stop()
        pytest.skip(f"no SLURM test cluster: {e}")
    yield cluster
    cluster.stop()

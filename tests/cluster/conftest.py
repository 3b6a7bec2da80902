"""The `slurm` fixture: one single-node SLURM cluster shared by every cluster test (see slurm_harness)."""
from pathlib import Path

import pytest

from slurm_harness import ClusterUnavailable, SlurmCluster, profile_partitions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A running cluster with the slurm profile's two partitions, its CPU partition the default."""
    partitions = profile_partitions(REPO / "profiles/slurm/config.yaml")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"), (partitions["cpu"], partitions["gpu"]))
    try:
        cluster.start()
    except ClusterUnavailable as e:
        cluster.stop()
        pytest.skip(f"no SLURM test cluster: {e}")
    yield cluster
    cluster.stop()

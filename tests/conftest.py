import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def base_config():
    """A fresh copy of the shipped config.yaml."""
    with open(REPO / "config.yaml") as f:
        return copy.deepcopy(yaml.safe_load(f))

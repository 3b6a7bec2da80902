import copy
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def base_config():
    """A fresh copy of the shipped config.yaml."""
    with open(REPO / "config.yaml") as f:
        return copy.deepcopy(yaml.safe_load(f))


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: a second torch thread only adds synchronisation (10-100x slower on a busy host)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

"""The device rule every stage follows."""
import pytest
import torch

from zs3core.device import resolve_device


@pytest.mark.parametrize("cuda", [False, True])
def test_auto_and_none_pick_cuda_exactly_when_it_exists(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    want = torch.device("cuda" if cuda else "cpu")
    assert resolve_device() == resolve_device("auto") == resolve_device(None) == want
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_without_a_cuda_device_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:1", torch.device("cuda")):
        with pytest.raises(RuntimeError, match="no CUDA device"):
            resolve_device(name)
    with pytest.raises(RuntimeError, match="^gc.device is 'cuda' but"):
        resolve_device("cuda", "gc.device")

"""The CPU-kernel pin: which variables it sets, when it stays out of the way, and that torch obeys."""
import os
import subprocess
import sys

import pytest

from zs3core import cpu_kernels
from zs3core.cpu_kernels import PORTABLE, SWITCH, pin_cpu_kernels, use_cpu_kernels


def test_portable_sets_every_variable_not_set_yet():
    env = {"MKL_CBWR": "COMPATIBLE"}  # the user's own choice stays
    added = pin_cpu_kernels(env, machine="x86_64")
    assert env["MKL_CBWR"] == "COMPATIBLE" and "MKL_CBWR" not in added
    assert added == {k: v for k, v in PORTABLE.items() if k != "MKL_CBWR"}
    assert all(env[k] == v for k, v in added.items())


@pytest.mark.parametrize("env, machine", [({SWITCH: "native"}, "x86_64"), ({}, "aarch64")])
def test_native_mode_and_other_processors_are_left_alone(env, machine):
    before = dict(env)
    assert pin_cpu_kernels(env, machine=machine) == {} and env == before


def test_a_bad_mode_names_the_config_key():
    with pytest.raises(ValueError, match="compute.cpu_kernels"):
        pin_cpu_kernels({SWITCH: "fast"}, machine="x86_64")


def test_native_takes_back_only_what_the_pin_set(monkeypatch):
    monkeypatch.setattr(cpu_kernels, "_ADDED", {})
    for key in PORTABLE:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    monkeypatch.setenv(SWITCH, "portable")
    use_cpu_kernels("portable")
    if os.uname().machine == "x86_64":
        assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2"
    use_cpu_kernels("native")
    assert os.environ[SWITCH] == "native" and os.environ["MKL_CBWR"] == "COMPATIBLE"
    assert not any(key in os.environ for key in PORTABLE if key != "MKL_CBWR")
    with pytest.raises(ValueError, match="compute.cpu_kernels"):
        use_cpu_kernels("fast")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the pin applies to x86-64 only")
def test_importing_zs3core_first_caps_torch_at_avx2():
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE and k != SWITCH}
    code = "import zs3core, torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("AVX2", "DEFAULT")  # never AVX512, whatever this machine has

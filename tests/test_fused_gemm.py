"""The fused op's matrix products (lstm_mnist/fused_gemm.h) against plain loops, in C++ alone
(no TensorFlow: a few seconds), for each vector width the op can be built with."""
import os
import shutil
import subprocess

import pytest

from lstm_mnist import compiler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CXX = shutil.which("g++")


# (flags, lanes): this CPU's widest (as the op is built), AVX2 + FMA, and SSE (no AVX)
WIDTHS = [(["-march=native", "-mno-avx512fp16"], None), (["-mavx2", "-mfma"], 8),
          (["-mno-avx"], 4), (["-mavx512f", "-mfma"], 16)]


@pytest.mark.skipif(not CXX, reason="no g++")
@pytest.mark.parametrize("flags, lanes", WIDTHS, ids=["native", "avx2", "sse", "avx512"])
def test_products_equal_plain_loops(flags, lanes, tmp_path):
    exe = tmp_path / "check"
    subprocess.run([CXX, "-O2", "-std=c++17", *flags, f"-I{ROOT}/lstm_mnist",
                    f"{ROOT}/tests/fused_gemm_check.cc", "-o", str(exe)], check=True)
    needs = {8: "avx2", 16: "avx512f"}.get(lanes)
    if needs and needs not in compiler.cpu_flags():
        pytest.skip(f"built; this CPU has no {needs} to run it")
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.endswith(" 0 failures\n"), r.stdout
    if lanes:
        assert r.stdout.startswith(f"{lanes} lanes"), r.stdout
    else:   # the op's own build: the widest vectors this CPU has
        flags = compiler.cpu_flags()
        widest = 16 if "avx512f" in flags else 8 if "avx" in flags else 4
        assert r.stdout.startswith(f"{widest} lanes"), r.stdout

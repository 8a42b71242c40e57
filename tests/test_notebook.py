"""recurrent_network.ipynb: it executes from scratch (a short run), and its committed outputs are
those of a real full run whose log lies beside it."""
import contextlib
import io
import os
import re

import nbclient
import nbformat
import pytest

import compare_log
from conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "recurrent_network.ipynb")
LOG = os.path.join(ROOT, "recurrent_network.log")


def outputs(cell, kind="stdout"):
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and o.name == kind)


def cell_with(nb, text):
    """The one code cell whose source holds `text`."""
    cells = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    assert len(cells) == 1, text
    return cells[0]


def images(nb):
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.outputs)


def errors(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


def verdict_lines(text):
    """compare_log's verdict: from 'points outside the band' to the consistent/not line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("points outside"))
    end = next(i for i, line in enumerate(lines) if "consistent" in line and i > start)
    return lines[start:end + 1]


@pytest.fixture(scope="module")
def committed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    return nb


@pytest.mark.slow
def test_the_notebook_executes_from_scratch(tmp_path, mnist_dir):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "overrides = [" in parameters[0].source
    parameters[0].source = (f"overrides = ['--training_steps=400', '--runs_dir={tmp_path}', "
                            f"'--data_dir={mnist_dir}', '--seed=5']")
    for cell in nb.cells:
        cell.outputs = [] if cell.cell_type == "code" else None
        if cell.cell_type != "code":
            del cell["outputs"]
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": ROOT}}).execute()
    assert errors(nb) == []
    (run_dir,) = tmp_path.iterdir()
    printed = outputs(cell_with(nb, "train_rnn.train(")).splitlines()
    assert printed[0].startswith("# seed 5; repeat this run with: python train_rnn.py --seed=5 "
                                 "--training_steps=400")
    assert printed[1].startswith("Step 1, Minibatch Loss= ") and "Optimization Finished!" in printed
    # the lines printed in the notebook are the run's log, line for line
    assert printed == (run_dir / "log.txt").read_text().splitlines()
    compared = outputs(cell_with(nb, "compare_log.main("))
    assert f"# this run: {run_dir}" in compared
    assert re.search(r"^(consistent with|not consistent)", compared, re.M)
    # one digit and its rows, the comparison, the predictions and four readings
    assert images(nb) == 7


def test_the_committed_outputs_are_a_full_run_of_the_tutorial(committed):
    # the tutorial's config, its seed only given (so that running it again repeats it)
    seed = re.search(r'^overrides = \["--seed=(\d+)"\]$', cell_with(committed, "overrides = ").source,
                     re.M)[1]
    assert f"{'seed':15} = {seed}" in outputs(cell_with(committed, "config_parser("))
    assert errors(committed) == []
    assert "training_steps  = 10000" in outputs(cell_with(committed, "config_parser("))
    printed = outputs(cell_with(committed, "train_rnn.train("))
    with open(LOG) as f:
        log = f.read()
    assert printed.splitlines() == log.splitlines()
    assert log.startswith(f"# seed {seed}; repeat this run with: python train_rnn.py --seed={seed}\n")
    steps = [int(m) for m in re.findall(r"^Step (\d+),", log, re.M)]
    assert steps == [1] + list(range(200, 10001, 200))
    assert re.search(r"^Optimization Finished!\nTesting Accuracy: [0-9.]+$", log, re.M)
    assert images(committed) == 7
    counts = [c.execution_count for c in committed.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))    # run top to bottom, once


def test_the_committed_verdict_is_compare_logs_on_the_committed_log(committed):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = compare_log.main([LOG])
    shown = outputs(cell_with(committed, "compare_log.main("))
    assert verdict_lines(shown) == verdict_lines(printed.getvalue())
    assert ("consistent with the tutorial" in shown.splitlines()) == (status == 0)
    # the text under it says what the verdict is, with its numbers
    lead, limit = re.search(r"^mean lead over the seeds: -?([0-9.]+) sd \(at most \+-([0-9.]+)",
                            shown, re.M).groups()
    outside, total, most = re.search(r"^points outside the band: (\d+) of (\d+) \(at most (\d+)",
                                     shown, re.M).groups()
    seed = re.match(r"# seed (\d+);", open(LOG).read())[1]
    said = next(c.source for c in committed.cells if c.cell_type == "markdown"
                and "The run saved here is judged" in c.source)
    assert f"seed {seed}" in said and f"trails the seeds by {lead} sd" in said
    assert f"{outside} of its {total} points lie outside the band ({most} allowed)" in said
    assert f"leads allows {limit}" in said
    assert ("judged not consistent" in said) == (status == 1)

"""The committed evidence is today's code's: the band file comes from the committed seed logs,
and the code reproduces the start of committed full-length logs byte for byte (a change to
seeding, batch order or initial weights would leave the band and the README stale)."""
import glob
import json
import os
import re
import types

import pytest

import data
from lstm_mnist import bands, runs, sweeps, tutorial_log
import train_rnn
from lstm_mnist.published import PUBLISHED
from lstm_mnist.settings import config_defaults
from conftest import ROOT
from lstm_mnist.bands import band_from_logs, band_json, error_rates as rule_error_rates

BAND_RUNS = os.path.join(ROOT, "reference", "band_runs")


def band_logs():
    """The committed band logs: (their seeds, the parsed logs), in seed order."""
    seeds = sorted(int(re.search(r"seed_(\d+)\.log", p)[1])
                   for p in glob.glob(os.path.join(BAND_RUNS, "seed_*.log")))
    return seeds, [tutorial_log.read(os.path.join(BAND_RUNS, f"seed_{s}.log")) for s in seeds]


def test_the_band_file_is_made_from_the_committed_logs():
    committed = json.loads(band_json(bands.read_band(bands.REFERENCE_BAND)))
    seeds, logs = band_logs()
    rebuilt = json.loads(band_json(band_from_logs(logs)))
    for key in ("steps", "loss", "accuracy", "test_accuracy", "test_accuracy_full",
                "seed_values"):
        assert rebuilt[key] == committed[key], key
    assert committed["seeds"] == seeds and len(seeds) >= 20


def test_the_error_rates_in_the_band_file_are_the_rules():
    committed = bands.read_band(bands.REFERENCE_BAND)
    rates = rule_error_rates(committed)
    assert json.loads(band_json({"error_rates": rates}))["error_rates"] == committed["error_rates"]
    assert rates["single_run_rejected"] <= 0.05 and rates["pairs_rejected"] <= 0.05


@pytest.mark.parametrize("log_path, seed", [
    ("reference/band_runs/seed_3.log", 3),
    ("docs/readme_run.log", None),          # its seed is on its first line
    ("recurrent_network.log", None),        # the notebook's run
])
@pytest.mark.slow
def test_committed_logs_start_as_todays_code_prints(mnist_dir, log_path, seed):
    text = open(os.path.join(ROOT, log_path)).read()
    if seed is None:
        seed = int(re.match(r"# seed (\d+);", text)[1])
    cfg = types.SimpleNamespace(**dict(config_defaults(), training_steps=200))
    mnist = data.read_data_sets(mnist_dir, seed=seed, mirrors=())
    printed = []
    train_rnn.train(cfg, seed, mnist, runs.Run(cfg, log=printed.append))
    committed = [line for line in text.splitlines() if line.startswith("Step ")][:2]
    assert [line for line in printed if line.startswith("Step ")] == committed   # 1 and 200


SWEEPS = ["docs/sweep_optimizers", "docs/sweep_cells"]


@pytest.mark.parametrize("folder", SWEEPS)
def test_the_readmes_sweep_tables_come_from_their_committed_runs(folder):
    folder = os.path.join(ROOT, folder)
    with open(os.path.join(folder, "results.json")) as f:
        results = json.load(f)
    plan = sweeps.plan_sweep(sweeps.parse_grid(results["grid"]), results["seeds"],
                             results["train_args"], folder)
    rows = sweeps.collect(plan)
    table = sweeps.table(rows)
    assert open(os.path.join(folder, "results.md")).read().endswith(table)
    page = open(os.path.join(ROOT, "docs", "experiments.md")).read()   # linked from the README
    assert table in page
    assert len(rows) == 5 and all(r["steps"] == [10000] and r["seeds"] == 2 for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("run", ["docs/sweep_cells/runs/optimizer=adam,cell=gru,"
                                 "bidirectional=False-seed1",
                                 "docs/sweep_cells/runs/optimizer=adam,cell=basic_lstm,"
                                 "bidirectional=True-seed2",
                                 "docs/sweep_optimizers/runs/optimizer=momentum,"
                                 "learning_rate=0.01-seed1"])
def test_sweep_logs_start_as_todays_code_prints(mnist_dir, run):
    with open(os.path.join(ROOT, run, "config.json")) as f:
        saved = json.load(f)
    # a run made before a constant existed ran with its published value (as runs.load_run)
    cfg = types.SimpleNamespace(**dict(PUBLISHED, **dict(saved["config"], training_steps=200)))
    mnist = data.read_data_sets(mnist_dir, seed=saved["seed"], mirrors=())
    printed = []
    train_rnn.train(cfg, saved["seed"], mnist, runs.Run(cfg, log=printed.append))
    text = open(os.path.join(ROOT, run, "log.txt")).read()
    committed = [line for line in text.splitlines() if line.startswith("Step ")][:2]
    assert [line for line in printed if line.startswith("Step ")] == committed   # 1 and 200

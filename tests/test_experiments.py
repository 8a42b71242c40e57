"""config.py's experiments: optimizer, cell, bidirectional; each trains, resumes, predicts."""
import os
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from lstm_mnist import model as predicting
from lstm_mnist import bands, cli, published, runs, settings
import train_rnn
from conftest import ROOT, tiny_config

CELLS = list(train_rnn.CELLS)
OPTIMIZERS = list(train_rnn.OPTIMIZERS)
H = 8   # hidden units in these tests; 28 pixels a timestep
# each cell's variables as TF1 names them, with their shapes for I = 28 inputs and H units
CELL_VARIABLES = {
    "basic_lstm": {"basic_lstm_cell/kernel": [28 + H, 4 * H], "basic_lstm_cell/bias": [4 * H]},
    "lstm": {"lstm_cell/kernel": [28 + H, 4 * H], "lstm_cell/bias": [4 * H]},
    "gru": {"gru_cell/gates/kernel": [28 + H, 2 * H], "gru_cell/gates/bias": [2 * H],
            "gru_cell/candidate/kernel": [28 + H, H], "gru_cell/candidate/bias": [H]},
    "basic_rnn": {"basic_rnn_cell/kernel": [28 + H, H], "basic_rnn_cell/bias": [H]},
}
APPLY_OP = {"gradient_descent": "ApplyGradientDescent", "momentum": "ApplyMomentum",
            "adam": "ApplyAdam", "rmsprop": "ApplyRMSProp", "adagrad": "ApplyAdagrad"}
MODELS = [dict(cell=c, bidirectional=b) for c in CELLS for b in (False, True)]
TRAININGS = [dict(optimizer=o) for o in OPTIMIZERS if o != "gradient_descent"]


def graph_of(**overrides):
    from lstm_mnist.tf1 import tf
    graph = tf.Graph()
    with graph.as_default():
        g = train_rnn.build_graph(tiny_config(num_hidden=H, **overrides), seed=4)
    return graph, g


# --- the graph of each choice -----------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m['cell']}-bi{m['bidirectional']}")
def test_each_cell_and_direction_has_its_variables_and_shapes(model):
    graph, g = graph_of(**model)
    from lstm_mnist.tf1 import tf1
    with graph.as_default():
        shapes = {v.name[:-2]: v.shape.as_list() for v in tf1.trainable_variables()}
    cell = CELL_VARIABLES[model["cell"]]
    scopes = ["bidirectional_rnn/fw/", "bidirectional_rnn/bw/"] if model["bidirectional"] \
        else ["rnn/"]
    expected = {scope + k: v for scope in scopes for k, v in cell.items()}
    expected.update({"weights_out": [H * len(scopes), 10], "biases_out": [10]})
    assert shapes == expected
    assert g["logits"].shape.as_list() == [None, 10]


@pytest.mark.slow
def test_bidirectional_cells_start_apart_and_repeat_with_the_seed():
    from lstm_mnist.tf1 import tf1

    def kernels():
        graph, _ = graph_of(bidirectional=True)
        with graph.as_default(), tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            variables = {v.name: v for v in tf1.global_variables()}
            return [sess.run(variables[f"bidirectional_rnn/{d}/basic_lstm_cell/kernel:0"])
                    for d in ("fw", "bw")]
    fw, bw = kernels()
    assert not np.array_equal(fw, bw)          # one op seed would start both cells alike
    again = kernels()
    np.testing.assert_array_equal(fw, again[0])
    np.testing.assert_array_equal(bw, again[1])


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_each_optimizer_is_tf1s_with_the_configs_rates(optimizer):
    from lstm_mnist.tf1 import tf1
    graph, g = graph_of(optimizer=optimizer, learning_rate=0.0123, momentum=0.5)
    applies = [op for op in graph.get_operations() if op.type.endswith(APPLY_OP[optimizer])]
    assert len(applies) == 4                    # one per trainable variable
    others = {op.type for op in graph.get_operations() if op.type.startswith(("Apply",
                                                                              "ResourceApply"))}
    assert others == {applies[0].type}
    with graph.as_default(), tf1.Session() as sess:
        lr = applies[0].inputs[{"momentum": 2, "adam": 5, "rmsprop": 3, "adagrad": 2,
                                "gradient_descent": 1}[optimizer]]
        assert sess.run(lr) == pytest.approx(0.0123)
        if optimizer == "momentum":
            assert sess.run(applies[0].inputs[4]) == pytest.approx(0.5)


LEARNING_RATES = {"gradient_descent": 0.5, "momentum": 0.1, "adam": 0.01, "rmsprop": 0.1,
                  "adagrad": 0.3}


@pytest.mark.slow
@pytest.mark.parametrize("choice", MODELS + TRAININGS, ids=lambda c: "-".join(map(str, c.values())))
def test_each_choice_learns_a_batch(choice, mnist):
    """Trained on one batch, every cell, direction and optimizer lowers its loss."""
    from lstm_mnist.tf1 import tf1
    optimizer = choice.get("optimizer", "adam")
    graph, g = graph_of(**dict(choice, optimizer=optimizer,
                               learning_rate=LEARNING_RATES[optimizer]))
    x, y = mnist.train.next_batch(64)
    feed = {g["X"]: x.reshape(-1, 28, 28), g["Y"]: y}
    with graph.as_default(), tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        before = sess.run(g["loss_op"], feed)
        for _ in range(30):
            sess.run(g["train_op"], feed)
        after = sess.run(g["loss_op"], feed)
    assert after < 0.8 * before, (before, after)


# --- training, resume and prediction through run folders --------------------------------------

def train_in(runs_dir, name, cfg, mnist, resume=None, explicit=()):
    """train_rnn.main's path without the command line: run folder, train, log."""
    args = types.SimpleNamespace(resume=resume, run_name=name, explicit=set(explicit))
    cfg, seed = runs.config_and_seed(cfg, args)
    with runs.open_run(cfg, seed, args) as run:
        return train_rnn.train(cfg, seed, mnist, run)


def steps_of(folder):
    return [l for l in (folder / "log.txt").read_text().splitlines() if not l.startswith("# seed")]


@pytest.mark.slow
@pytest.mark.parametrize("choice", MODELS + TRAININGS, ids=lambda c: "-".join(map(str, c.values())))
def test_each_choice_resumes_exactly_and_predicts(choice, mnist, tmp_path, capsys):
    lr = LEARNING_RATES[choice.get("optimizer", "gradient_descent")] / 10
    cfg = tiny_config(num_hidden=H, batch_size=32, training_steps=12, display_step=4,
                      checkpoint_every=6, seed=9, runs_dir=str(tmp_path), learning_rate=lr,
                      **choice)
    start = mnist.train.get_state()
    whole = train_in(tmp_path, "whole", cfg, mnist)
    mnist.train.set_state(start)
    train_in(tmp_path, "split", types.SimpleNamespace(**dict(vars(cfg), training_steps=6)), mnist)
    split = train_in(tmp_path, None, types.SimpleNamespace(**vars(cfg)), mnist,
                     resume=str(tmp_path / "split"), explicit={"training_steps"})
    assert split == whole                   # optimizer state (Adam's moments...) came back too
    assert steps_of(tmp_path / "split") == steps_of(tmp_path / "whole")
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(tmp_path / "whole"))

    model = predicting.Model(str(tmp_path / "whole"))
    assert vars(model.cfg)["cell"] == cfg.cell and model.status.step == 12
    probs = model.probabilities(mnist.test.images[:5].reshape(-1, 28, 28))
    assert probs.shape == (5, 10)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    capsys.readouterr()


def test_resume_refuses_another_cell_optimizer_or_direction(tmp_path):
    cfg = tiny_config(seed=1)
    runs.write_config(str(tmp_path), cfg, 1)
    gru = tmp_path / "gru"
    gru.mkdir()
    runs.write_config(str(gru), tiny_config(cell="gru"), 1)
    args = types.SimpleNamespace(resume=str(gru), explicit={"lstm_impl"})
    with pytest.raises(runs.RunError, match=f"{gru} can't be resumed so: --lstm_impl=fast is the "
                                           "tutorial's cell read one way .* not --cell=gru"):
        runs.config_and_seed(tiny_config(lstm_impl="fast"), args)
    for key, value in (("cell", "gru"), ("optimizer", "adam"), ("bidirectional", True)):
        changed = types.SimpleNamespace(**dict(vars(cfg), **{key: value}))
        with pytest.raises(runs.RunError, match=f"was trained with {key}="
                                               f"{getattr(cfg, key)}, not {value}; drop --{key}"):
            runs.load_run(str(tmp_path), changed, {key})


# --- the command line -------------------------------------------------------------------------

def parse(*argv):
    parser = cli.config_parser()
    return cli.parse_config(list(argv), parser)[0]


@pytest.mark.parametrize("argv, message", [
    (["--lstm_impl=fast", "--cell=gru"], "--lstm_impl=fast is the tutorial's cell read one way "
     "(--cell=basic_lstm --bidirectional=False), not --cell=gru --bidirectional=False; use "
     "--lstm_impl=basic for that"),
    (["--lstm_impl=fast", "--bidirectional=True"], "not --cell=basic_lstm --bidirectional=True"),
    (["--cell=gur"], "--cell must be one of basic_lstm, lstm, gru, basic_rnn, got 'gur' "
                     "(did you mean gru?)"),
    (["--optimizer=sgd"], "--optimizer must be one of gradient_descent, momentum, adam, rmsprop, "
                          "adagrad, got 'sgd'"),
    (["--bidirectional=yes"], "argument --bidirectional: expects True or False, got 'yes'"),
    (["--momentum=-0.1"], "--momentum must be a finite number >= 0, got -0.1"),
])
def test_bad_choices_stop_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse(*argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and message in err


def test_the_checked_choices_are_the_cells_and_optimizers_train_rnn_builds():
    """published.py names the choices (checked before TensorFlow loads); train_rnn.py maps the
    same names to TF1's classes."""
    assert tuple(train_rnn.CELLS) == published.CHOICES["cell"]
    assert tuple(train_rnn.OPTIMIZERS) == published.CHOICES["optimizer"]


def test_choices_parse_and_config_py_values_are_checked_too():
    assert parse("--bidirectional=true").bidirectional is True
    assert parse("--bidirectional=0").bidirectional is False
    assert parse("--cell=basic_rnn", "--optimizer=rmsprop").cell == "basic_rnn"
    assert parse().lstm_impl == "basic" and parse("--lstm_impl=fast").lstm_impl == "fast"
    edited = types.SimpleNamespace(**dict(settings.config_defaults(), cell="GRU"))
    assert cli.check_config(edited) == (
        "--cell must be one of basic_lstm, lstm, gru, basic_rnn, got 'GRU' (did you mean gru?)")


def test_train_rnn_refuses_fast_with_another_cell_before_anything():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train_rnn.py"), "--cell=gru",
                        "--lstm_impl=fast", "--runs_dir=/nonexistent/runs"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith("train_rnn.py: error: --lstm_impl=fast is the tutorial's cell")


def test_compare_log_says_when_a_run_is_not_the_bands_model(tmp_path, capsys):
    import compare_log
    folder = tmp_path / "gru_run"
    folder.mkdir()
    runs.write_config(str(folder), tiny_config(training_steps=10000, display_step=200,
                                               num_hidden=128, cell="gru"), 1)
    shutil.copy(os.path.join(ROOT, "reference", "band_runs", "seed_1.log"), folder / "log.txt")
    compare_log.main([str(folder), "--band", bands.REFERENCE_BAND])
    out = capsys.readouterr().out
    assert (f"# note: {folder} is not the band's model (cell=gru); the allowed spread is that "
            "of the band's seeds") in out.splitlines()
    compare_log.main([os.path.join(ROOT, "reference", "band_runs", "seed_2.log")])
    assert "# note:" not in capsys.readouterr().out

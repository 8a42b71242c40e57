"""Could the 2017 code make the January 2017 edition's runs systematically lower? Train the
January edition with one of the 2017 differences patched in; print the log as train_rnn.py would.

    python docs/jan2017_experiment.py VARIANT SEED      VARIANT: data | init | both

data: TF <= 1.0's DataSet.next_batch (before tensorflow/tensorflow#7071, merged 2017-01-30):
      no shuffle before the first epoch (the files' order), an epoch's remainder dropped, then a
      shuffle at each epoch's end.
init: TF 0.12's tf.get_variable default, uniform_unit_scaling_initializer, for the LSTM kernel.

docs/comparing.md has what 16 seeds of each gave (lstm_impl = "fused", 2026-12-02); their
logs are in docs/jan2017_experiment/VARIANT/seed_N.log.
"""
import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import data                                                   # noqa: E402
import train_rnn                                              # noqa: E402
from lstm_mnist import settings                               # noqa: E402
from lstm_mnist.tf1 import load_tensorflow                    # noqa: E402

if len(sys.argv) != 3 or sys.argv[1] not in ("data", "init", "both") or not sys.argv[2].isdigit():
    sys.exit("usage: python docs/jan2017_experiment.py data|init|both SEED")
variant, seed = sys.argv[1], int(sys.argv[2])


def next_batch_tf10(self, batch_size, shuffle=True):
    start = self.index_in_epoch
    self.index_in_epoch += batch_size
    if self.index_in_epoch > self.num_examples:   # finished epoch: shuffle, start over
        self.epochs_completed += 1
        self._shuffle()
        start, self.index_in_epoch = 0, batch_size
    return self._take(start, self.index_in_epoch)


tf = load_tensorflow()
if variant in ("data", "both"):
    data.DataSet.next_batch = next_batch_tf10
if variant in ("init", "both"):
    tf.compat.v1.glorot_uniform_initializer = \
        lambda seed=None: tf.compat.v1.uniform_unit_scaling_initializer(seed=seed)
edition = os.path.join(settings.EDITIONS_DIR, "recurrent_network_2017_01.py")
cfg = types.SimpleNamespace(**settings.edition_config(edition, settings.config_defaults()))
cfg.lstm_impl, cfg.runs_dir, cfg.seed = "fused", "", seed
mnist = data.read_data_sets(cfg.data_dir, one_hot=True, validation_size=cfg.validation_size,
                            seed=seed)
print(f"# seed {seed}; variant {variant}")
train_rnn.train(cfg, seed, mnist)

"""The library beside the tutorial: what train_rnn.py and the other scripts at the top level
use, a module per concern (see docs/tutorial.md for the map)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the project's folder

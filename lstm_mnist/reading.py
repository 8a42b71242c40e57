"""How the LSTM read a digit, as a figure: the 28x28 input beside the model's belief after
each of its 28 rows (predict.py --reading, serve.py's page, the notebook).
"""
import io

import numpy as np

NO_ROW_BELIEFS = ("a bidirectional model has no belief after t rows: its output at every row "
                  "has read all 28 rows, from both ends")


def reading_figure(image, beliefs, title=None):
    """How the LSTM read one image: the (28, 28) input it saw beside its (28, 10) beliefs after
    each row, row t of the one level with row t of the other. The figure of predict.py
    --reading, serve.py's page and the notebook. `beliefs` None: a note instead (bidirectional).
    Returns a matplotlib Figure (not pyplot's: safe in a server's threads).
    """
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6.4, 3.9), dpi=100)
    # fixed places (a layout engine costs the page ~150 ms a figure): the two panels the same
    # height, so that their rows line up
    seen = fig.add_axes((0.10, 0.12, 0.43, 0.73))
    strip = fig.add_axes((0.58, 0.12, 0.25, 0.73), sharey=seen)
    rows = np.arange(image.shape[0])
    seen.imshow(image, cmap="gray", vmin=0, vmax=1, aspect="auto",
                extent=(-0.5, 27.5, rows[-1] + 0.5, -0.5))
    seen.set_title("the 28x28 input it saw", fontsize=10)
    seen.set_xticks([])
    seen.set_yticks([0, 6, 13, 20, 27], ["row 1", "7", "14", "21", "28"])
    if beliefs is None:
        strip.axis("off")
        strip.text(0, 0.5, NO_ROW_BELIEFS.replace(": ", ":\n").replace("every row ",
                   "every row\n"), fontsize=9, va="center", transform=strip.transAxes)
    else:
        shown = strip.imshow(beliefs, cmap="Blues", vmin=0, vmax=1, aspect="auto",
                             extent=(-0.5, beliefs.shape[1] - 0.5, rows[-1] + 0.5, -0.5))
        strip.scatter(beliefs.argmax(1), rows, s=6, c="tab:orange")   # the most believed
        strip.set_xticks(range(beliefs.shape[1]))
        strip.set_xlabel("digit")
        strip.set_title("belief after rows 1..t", fontsize=10)
        strip.tick_params(labelleft=False)
        fig.colorbar(shown, cax=fig.add_axes((0.86, 0.18, 0.02, 0.6)), label="probability")
    if title:
        fig.suptitle(title, fontsize=11, y=0.97)
    return fig


def figure_png(fig):
    """A matplotlib Figure -> PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()

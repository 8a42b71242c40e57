"""Is my run the same as the tutorial's? Compare a log with the tutorial's and the seed band.

    python compare_log.py runs/NAME                   # a run folder, or a saved log
    python compare_log.py RUN.log --against B.log     # two runs of one config, with each other
    python compare_log.py RUN.log --plot out.png      # and draw it

One unseeded log can't be matched number for number, so the judgement comes from the spread of
many seeds of the run's own config: its seed band, which make_band.py makes (the tutorial's is
reference/seed_band.json). A run with an edited config.py is judged by the band of that config,
with the seeds' mean as the reference when no log was published for it; a run stopped or cut
short is judged on the band's steps that it has.

The rule (lstm_mnist/rule.py) takes every limit from the band's own seeds at exactly the steps
judged, so a run of 400 steps is judged as fairly as a full one: the points outside the seeds'
95% prediction intervals, counted against what the seeds themselves show; the mean lead over
the seeds' mean, against the spread of the seeds' own leads; the final test accuracy as a count
of wrong images, against a count model fitted to the seeds'. With --against, the same on the
two runs' differences. Each verdict line says its limit and where it came from, and a '#' line
says how often this rule rejects the band's own seeds at those steps.

Exit status: 0 consistent, 1 not consistent (a diverged run included), 2 cannot judge: bad
input, or no band for the run's config (the message prints the command that makes it).
"""
import argparse
import os
import sys

from lstm_mnist import atomic, bands, compare
from lstm_mnist.tutorial_log import LogError


def arguments():
    parser = argparse.ArgumentParser(prog="compare_log.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a log of train_rnn.py: its saved stdout, or a run folder "
                        "(runs/NAME, whose log.txt is read)")
    parser.add_argument("--against", help="another run of the same config to compare with, "
                        "instead of the reference")
    parser.add_argument("--edition", help="judge against this published edition's band ("
                        f"{', '.join(bands.editions())}); for a log without its '# seed' line, "
                        "the edition it is a log of (default: Step lines are the tutorial's, "
                        "Iter lines its January 2017 edition's)")
    parser.add_argument("--reference", help="the reference log (default: the one published for "
                        "the band's config, the tutorial's; else the seeds' mean)")
    parser.add_argument("--band", help="the seed band (default: the band of the run's config, "
                        "found among reference/ and bands/)")
    parser.add_argument("--plot", metavar="PNG", help="also draw the comparison into this file")
    return parser


def check_plot_path(path):
    """LogError when --plot can't be written, before anything is judged."""
    try:
        atomic.probe(path)
    except OSError as e:
        raise LogError(f"--plot {path}: cannot write there ({e.strerror}); give a new PNG file "
                       "name in a writable folder, e.g. runs/NAME/compare.png") from None


def main(argv=None):
    parser = arguments()
    args = parser.parse_args(argv)
    try:
        if args.edition and args.edition not in bands.editions():
            raise LogError(f"--edition {args.edition}: no such edition; the editions are "
                           f"{', '.join(bands.editions())}")
        if args.plot:
            check_plot_path(args.plot)
        run = compare.read_run(args.run, args.edition)
        if run.log.diverged:
            print(f"# this run: {args.run}\nnot consistent: {run.log.diverged}\n# a diverged "
                  "run is not the tutorial's: lower --learning_rate, and see the run's log")
            return 1
        other = args.against and compare.read_run(args.against, args.edition)
        c = compare.prepare(run, other, args.edition, args.band, args.reference)
    except compare.NoBand as e:   # not a mistake: the next step, ready to paste
        took = f" (about {e.minutes} min here)" if e.minutes else ""
        parser.exit(2, f"compare_log.py: {e}. Make its band, 10 seeds{took}, with:\n"
                       f"    {e.command}\nthen run this command again.\n")
    except LogError as e:
        parser.exit(2, f"compare_log.py: error: {e}\n")

    judged = compare.judge(c)
    print("\n".join(compare.header(c)))
    print(compare.table(c, judged))
    print()
    print("\n".join(judged.lines))
    sure = compare.how_sure(c.band, c.steps, c.final, against=bool(other))
    print(sure)
    if not judged.consistent and (c.differences(run) or "Caution" not in sure):
        print(compare.advice(c))   # (a weak band: the caution has said why)
    if args.plot:
        compare.plot(args.plot, c)
        print(f"# plot written to {args.plot}")
    return 0 if judged.consistent else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("compare_log.py: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:   # e.g. | head: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(2)
    except Exception as e:   # a crash must never read as a verdict (0 or 1)
        print(f"compare_log.py: error: could not judge ({type(e).__name__}: {e}); no verdict "
              "(exit 2): please report it with this command and its files", file=sys.stderr)
        sys.exit(2)

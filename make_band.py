"""Run many seeds of train_rnn.py and record the spread of their logs: the seed band.

    python make_band.py --seeds 10                       # the band of config.py as it is
    python make_band.py --seeds 10 -- --optimizer=adam --training_steps=2000
    python make_band.py editions/recurrent_network_2017_01.py --seeds 20   # an edition's
    python make_band.py --all-editions     # every published edition's band, and their tables
    python make_band.py --rates            # the rule's error rates and power, every band

Arguments after `--` go to train_rnn.py, over config.py (and over the edition file, if one is
given). The band is stored under the config it was made with, bands/<config hash>_<steps>/
(band.json, which records that config, and the seeds' logs in runs/), where compare_log.py finds
it for any run of that config; --out and --runs_dir put it elsewhere. The published editions'
bands are committed under reference/. Seeds run as parallel processes, up to the core count,
each pinned to its share of the cores. Each seed's log is kept as it finishes; run the same
command again after an interruption and finished seeds are not redone. With --ray ADDRESS the
seeds run on a Ray cluster instead and their logs come back.
"""
import json
import os
import shlex
import sys

from lstm_mnist import atomic, bands, cli, evidence, runner, seed_runs
from lstm_mnist.tutorial_log import LogError

SINGLE_RUN_ONLY = ("--seed", "--runs_dir", "--resume", "--run_name")


def arguments():
    parser = cli.ArgParser(prog="make_band.py", description=__doc__)
    parser.add_argument("edition", nargs="?", help="an edition file (editions/*.py, or its "
                        "name) to apply over config.py, as train_rnn.py does")
    parser.add_argument("--seeds", type=int, help="how many seeds (default 10; --all-editions: "
                        "20)")
    parser.add_argument("--first_seed", type=int, default=1, help="seeds are first_seed, +1, ...")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="parallel runs (default: the core count)")
    parser.add_argument("--out", help="the band file (default: bands/<config hash>_<steps>/"
                        "band.json)")
    parser.add_argument("--runs_dir", help="where the seeds' logs go (default: runs/ beside the "
                        "band file)")
    parser.add_argument("--ray", metavar="ADDRESS", help="run the seeds on this Ray cluster "
                        "(auto: the one `ray start --head` started here), each with the cores "
                        "--jobs gives it here; the logs come back here")
    parser.add_argument("--all-editions", action="store_true", help="make (or finish) the "
                        "committed band of every published edition in reference/, and print "
                        "the table of editions")
    parser.add_argument("--rates", action="store_true", help="measure the rule on every "
                        "committed band (its own seeds, and runs made to differ) at run lengths "
                        f"{', '.join(map(str, evidence.RATE_LENGTHS))} and full; print the "
                        "tables and write reference/rule_rates.json")
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    own, train_args = cli.split_at_dashes(argv)
    parser = arguments()
    args = parser.parse_args(own)
    args.seeds = args.seeds or (20 if args.all_editions else 10)
    if args.seeds < 2 or args.jobs < 1:
        parser.error("--seeds must be at least 2 and --jobs at least 1")
    if given := [a.split("=")[0] for a in train_args if a.split("=")[0] in SINGLE_RUN_ONLY]:
        parser.error(f"{given[0]} after -- is for single runs; make_band.py sets it")
    if args.all_editions and (args.edition or train_args or args.out or args.runs_dir):
        parser.error("--all-editions makes every edition's band where it is committed; give it "
                     "with --seeds and --jobs only")
    if args.rates:
        rates = evidence.rule_rates()
        atomic.write_text(evidence.RATES_FILE, json.dumps(rates, indent=1) + "\n")
        print("\n\n".join(evidence.rates_tables(rates)))
        return
    train_config = cli.train_config_reader("make_band.py", parser)
    if args.all_editions:
        plans = seed_runs.edition_plans(args.seeds, train_config)
    else:
        train_args = [args.edition, *train_args] if args.edition else train_args
        cfg = train_config(train_args)
        out = args.out or os.path.join(bands.band_folder(cfg), "band.json")
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        plans = [seed_runs.BandPlan(cfg, train_args, seeds, out, args.runs_dir or os.path.join(
            os.path.dirname(os.path.abspath(out)), "runs"),
            shlex.join(["python", "make_band.py", *argv]))]
    ray = cli.ray_cluster(parser, args.ray)   # before anything runs: a bad address is one line, exit 2
    made, logs = {}, {}
    for plan in plans:
        try:
            made[plan.out], logs[plan.out] = seed_runs.make_band(plan, args.jobs, ray)
        except seed_runs.SeedError as e:
            parser.error(str(e))
        except (RuntimeError, LogError) as e:
            parser.exit(1, f"make_band.py: error: {e}; finished seeds are kept, run the same "
                           "command again to resume\n")
    if not args.all_editions:
        print("# compare_log.py now judges the runs of this config against it: python "
              "compare_log.py runs/NAME", file=sys.stderr)
        return
    names = dict(zip(bands.editions(), made))   # edition_plans kept bands.editions()' order
    print(evidence.editions_table({name: made[out] for name, out in names.items()}))
    print()
    print(evidence.separation_table({name: made[out] for name, out in names.items()},
                                    {name: logs[out] for name, out in names.items()}))


if __name__ == "__main__":
    runner.stop_on_ctrl_c()
    try:
        main()
    except KeyboardInterrupt:
        runner.stop_children()
        print("make_band.py: interrupted; finished seeds are kept, run the same command again "
              "to resume", file=sys.stderr)
        sys.exit(130)

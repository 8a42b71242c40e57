"""Draw a digit and watch the LSTM read it: a page on http://127.0.0.1:8000.

    python serve.py                          # the newest finished run (predict.py's choice)
    python serve.py --run runs/NAME --port 8001
    python serve.py --host 0.0.0.0           # reachable from other machines (default: this one)
    python serve.py --bench 100              # time 100 readings of test digits, serve nothing

The page (lstm_mnist/page/: one static HTML page, its script and style, nothing fetched from
elsewhere) sends the drawing, or an uploaded photo of a digit, to POST /api/read and shows the
prediction, the ten probabilities and how the LSTM read the image: its belief after each of the
28 rows, beside the 28x28 input it saw. The image becomes that input as in predict.py; the model
is loaded once (lstm_mnist/model.py, server.py). Flask routes the requests, waitress serves them.
"""
import lstm_mnist  # noqa: F401  (first: a Ctrl-C while the rest loads is one line)
import argparse
import socket
import sys

import waitress

from lstm_mnist import model, server


def main(argv=None):
    parser = argparse.ArgumentParser(prog="serve.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    model.add_run_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--bench", type=int, metavar="N", help="serve nothing: time N readings "
                        "of MNIST test digits sent as PNG through the app, and print the server's "
                        "milliseconds for each part")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: give a port number 1..65535 (0: any free port)")
    try:
        trained = model.Model(model.choose_run(args.run, args.runs_dir))
    except model.PredictError as e:
        parser.exit(1, f"serve.py: error: {e}\n")
    if args.bench:
        return server.bench(trained, args.bench)
    app = server.create_app(trained)
    try:
        httpd = waitress.create_server(app, host=args.host, port=args.port, threads=4,
                                       **server.LIMITS)
    except (OSError, ValueError) as e:   # the port is taken, the address is not this machine's
        if isinstance(e, (ValueError, socket.gaierror)):   # or not an address at all
            parser.exit(1, f"serve.py: error: --host {args.host}: not an address of this "
                           "machine (e.g. 127.0.0.1, or 0.0.0.0 for every interface)\n")
        parser.exit(1, f"serve.py: error: cannot listen on {args.host}:{args.port} "
                       f"({e.strerror}); give another --port, or --host\n")
    server.warm_up(app)   # the first reading is slow (about 2 s): not the first visitor's
    print(model.describe_run(trained.run_dir, trained.status), flush=True)
    print(f"# serving http://{args.host}:{httpd.effective_port}/ (Ctrl-C stops)", flush=True)
    try:
        httpd.run()
    except KeyboardInterrupt:
        print("# stopped", file=sys.stderr)


if __name__ == "__main__":
    main()

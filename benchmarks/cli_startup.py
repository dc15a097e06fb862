"""Start-up time of the `pix2pix` command: the quick commands.

Times `python -m pix2pix_keras ARGS` for `--help`, `--version`, `train
--help`, `datasets list` and `presets`, each in fresh subprocesses (median
of `--runs`), from process start to exit (wall and CPU time), and records whether anything
reached stderr and whether TensorFlow was imported. The target: every one
under 1 s with an empty stderr.

`--source DIR` times another checkout of the package (for example an
earlier commit extracted with `git archive`) and stores its numbers under
`--label`; the JSON keeps the results of every label, so one file holds
before and after.

    python benchmarks/cli_startup.py                       # label "current"
    python benchmarks/cli_startup.py --source /path/to/old --label before

Writes `benchmarks/results/cli_startup.json` (or `--output`).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

COMMANDS = (
    ("--help",),
    ("--version",),
    ("train", "--help"),
    ("datasets", "list"),
    ("presets",),
)
TARGET_S = 1.0

# Runs the command as `python -m pix2pix_keras` does, then writes to the
# file $CLI_STARTUP_PROBE whether TensorFlow was imported (stdout and
# stderr stay the command's own).
PROBE = """
import os, sys, runpy
sys.argv = ["pix2pix"] + sys.argv[1:]
try:
    runpy.run_module("pix2pix_keras", run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code
else:
    code = 0
sys.stdout.flush()
with open(os.environ["CLI_STARTUP_PROBE"], "w") as f:
    f.write("tf=%d" % ("tensorflow" in sys.modules))
sys.exit(code)
"""


def cpu_facts():
    """CPU model and the flags that matter for TensorFlow kernels."""
    from _common import cpu_facts as facts

    return facts()


def time_command(argv, source, runs):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = source
    times, stderr, tf_imported, codes = [], "", False, set()
    probe = tempfile.NamedTemporaryFile(suffix=".txt", delete=False)
    probe.close()
    env["CLI_STARTUP_PROBE"] = probe.name
    cpu_times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, *argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=source,
        )
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_times.append(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        )
        with open(probe.name) as f:
            tf_imported |= f.read().strip() == "tf=1"
        codes.add(proc.returncode)
        stderr = stderr or proc.stderr
    os.remove(probe.name)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "times_s": times,
        # User + system CPU time of the process: less sensitive than the
        # wall time to other programs on a busy machine.
        "median_cpu_s": statistics.median(cpu_times),
        "exit_codes": sorted(codes),
        "stderr_lines": len(stderr.splitlines()),
        "stderr_first_line": stderr.splitlines()[0] if stderr else "",
        "tensorflow_imported": tf_imported,
        "pass": statistics.median(times) < TARGET_S and not stderr,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default=ROOT, help="checkout whose pix2pix_keras is timed"
    )
    parser.add_argument(
        "--label", default="current", help="key of this measurement in the JSON"
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="fresh processes per command (median)"
    )
    parser.add_argument(
        "--output", default=os.path.join(HERE, "results", "cli_startup.json")
    )
    args = parser.parse_args(argv)
    source = os.path.abspath(args.source)
    with open(os.path.join(source, "pix2pix_keras", "__init__.py")) as f:
        version = next(
            (line.split('"')[1] for line in f if line.startswith("__version__")), None
        )
    results = {}
    for command in COMMANDS:
        name = "pix2pix " + " ".join(command)
        print(f"{args.label}: {name} ...", file=sys.stderr, flush=True)
        results[name] = time_command(command, source, args.runs)
        print(
            f"  median {results[name]['median_s']:.2f} s (CPU "
            f"{results[name]['median_cpu_s']:.2f} s), stderr "
            f"{results[name]['stderr_lines']} line(s)",
            file=sys.stderr,
        )
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    measurement = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "source": "repository" if source == ROOT else "other checkout",
        "pix2pix_keras": version,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "runs": args.runs,
        "target_s": TARGET_S,
        "commands": results,
        "pass": all(r["pass"] for r in results.values()),
    }
    report = {}
    if os.path.isfile(args.output):
        with open(args.output) as f:
            report = json.load(f)
    report.update(cpu_facts())
    report.setdefault("measurements", {})[args.label] = measurement
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

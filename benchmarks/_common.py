"""Shared helpers of the benchmark scripts: environment facts for the JSON."""

import os
import platform
import time

try:
    import keras
except ImportError:  # the torch-only venv of pytorch_reference.py's workers
    keras = None


def versions(**extra):
    """Versions of Python, TensorFlow, Keras, NumPy and the package."""
    import keras
    import numpy as np
    import tensorflow as tf

    import pix2pix_keras as pk

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        **extra,
        "pix2pix_keras": pk.__version__,
    }


def rss_peak_mb():
    """Peak resident memory of this process so far, in MB."""
    import resource

    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed_result(times, batch, steps=True):
    """A worker's result from its step (or call) times.

    Args:
        times: list of float. Seconds per step.
        batch: int. Images per step.
        steps: bool. Whether to add `steps_per_s`. Defaults to `True`.

    Returns:
        dict: `median_s`, `steps_per_s` (with `steps`), `images_per_s`
        and `rss_peak_mb`.
    """
    import statistics

    med = statistics.median(times)
    result = {"median_s": med}
    if steps:
        result["steps_per_s"] = 1 / med
    result["images_per_s"] = batch / med
    result["rss_peak_mb"] = rss_peak_mb()
    return result


def cpu_facts():
    """CPU model and the instruction-set flags that decide conv speed.

    The same benchmark lands on different CPUs (an Intel Sapphire Rapids
    with AMX, an AMD EPYC without): bf16 speed-ups depend on `amx_bf16`
    and `avx512_bf16`, so every result records them.
    """
    from pix2pix_keras.utils import cpu_info

    model, flags = cpu_info()
    wanted = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")
    return {
        "cpu_model": model,
        "cpu_flags": {name: name in flags for name in wanted},
    }


class StepTimer(keras.callbacks.Callback if keras else object):
    """Per-step wall times of `fit()`, from one sync point to the next.

    Overriding `on_train_batch_end` (and not declaring `async_safe`) keeps
    Keras's batch callbacks synchronous, and Keras converts the step's logs
    to floats before calling it, so every end time comes after the step
    finished. The first step of a `fit()` call is timed from its
    `on_train_batch_begin`, the others from the previous step's end, so
    the setup of each `fit()` call is left out.

    Attributes: `times` (every step of every `fit()` call so far),
    `begins` / `ends` (perf_counter of the last call's batches),
    `epoch_begins` / `epoch_ends`, `cpu_begin` / `cpu_end` (process time
    at the last call's first batch begin and last batch end).
    """

    def __init__(self):
        super().__init__()
        self.times = []
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.begins, self.ends = [], []
        self.epoch_begins, self.epoch_ends = [], []
        self.cpu_begin = self.cpu_end = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_begins.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ends.append(time.perf_counter())

    def on_train_batch_begin(self, batch, logs=None):
        self.begins.append(time.perf_counter())
        if self.cpu_begin is None:
            self.cpu_begin = time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.times.append(now - (self.ends[-1] if self.ends else self.begins[0]))
        self.ends.append(now)
        self.cpu_end = time.process_time()

    def step_times(self):
        """Step times of the last `fit()` call."""
        if not self.ends:
            return []
        first = self.ends[0] - self.begins[0]
        return [first] + [b - a for a, b in zip(self.ends, self.ends[1:])]

    def epoch_gaps(self):
        """Seconds between each epoch's end and the next epoch's begin."""
        return [b - a for a, b in zip(self.epoch_ends, self.epoch_begins[1:])]


def machine(load_start):
    """CPU, platform, TF thread settings and the load average before/after."""
    from tensorflow.config import threading

    return {
        **cpu_facts(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": (
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        ),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "tf_intra_op_threads": threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": threading.get_inter_op_parallelism_threads(),
        "loadavg_start": list(load_start),
        "loadavg_end": list(os.getloadavg()),
    }


def report_header(name, load_start, time_key="timestamp", **extra_versions):
    """The first keys of a benchmark's JSON report.

    Args:
        name: str. The benchmark's name (`"benchmark"`).
        load_start: the load average at the start (see `machine`).
        time_key: str. The key of the UTC time. Defaults to `"timestamp"`.
        **extra_versions: more versions to record (see `versions`).

    Returns:
        dict: `benchmark`, the UTC time to the second, `versions` and
        `machine`, in that order.
    """
    import datetime

    return {
        "benchmark": name,
        time_key: datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "versions": versions(**extra_versions),
        "machine": machine(load_start),
    }


def facades_train_argv(data, run_dir, *flags):
    """`pix2pix train` arguments for a run on a CMP facades folder.

    Args:
        data: str. The folder with `train/` and `val/` (stems layout).
        run_dir: str. The run folder (`--output`).
        *flags: str. The arguments between `--direction BtoA` and
            `--output`.

    Returns:
        list of str, starting with `"train"` and ending with
        `--verbose 2`.
    """
    return [
        "train",
        "--data",
        os.path.join(data, "train"),
        "--val",
        os.path.join(data, "val"),
        "--direction",
        "BtoA",
        *flags,
        "--output",
        run_dir,
        "--verbose",
        "2",
    ]


def resolve_args(parser, args, full, quick, name, results_dir, extra=(), minimums=None):
    """Fills unset flags from `full` / `quick`, checks minimums, sets output.

    Every key of the chosen preset, plus the `extra` keys, must be at least
    `minimums.get(key, 1)`; `args.output` defaults to
    `results_dir/<name>.json` (`<name>_quick.json` with `--quick`).
    """
    base = quick if args.quick else full
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    minimums = minimums or {}
    for key in list(base) + [k for k in extra if k not in base]:
        minimum = minimums.get(key, 1)
        if getattr(args, key) < minimum:
            parser.error(f"--{key.replace('_', '-')} must be >= {minimum}")
    if args.output is None:
        suffix = "_quick" if args.quick else ""
        args.output = os.path.join(results_dir, f"{name}{suffix}.json")
    return args


def read_reports(parts):
    """Reads the JSON results of a benchmark's finished parts.

    Args:
        parts: iterable of `(path, message)`, one a part, in order; the
            message is printed when the path does not exist yet.

    Returns:
        list of the results, or `None` after printing the message of the
        first path that does not exist.
    """
    import json

    reports = []
    for path, message in parts:
        if not os.path.exists(path):
            print(message)
            return None
        with open(path) as f:
            reports.append(json.load(f))
    return reports


def write_report(report, path, echo=True):
    """Writes `report` as indented JSON to `path` (atomically), and prints it.

    The folder is created if needed; `echo=False` skips the print.
    """
    import json

    from pix2pix_keras.utils import atomic_path

    text = json.dumps(report, indent=2)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w") as f:
            f.write(text + "\n")
    if echo:
        print(text)


#: Help texts of the preset keys several benchmarks share.
PRESET_HELP = {
    "size": "image height = width",
    "batch": "batch size",
    "rounds": "alternating rounds",
}


def add_preset_flags(parser, full, quick, name, helps=None, smoke="short"):
    """One int flag per key of the `full` preset, `--quick` and `--output`.

    Unset flags are filled from the preset by `resolve_args`. A key's help
    comes from `helps`, else from `PRESET_HELP` when `helps` is given;
    `smoke` describes the `--quick` run.
    """
    if helps is not None:
        helps = {**PRESET_HELP, **helps}
    for key in full:
        parser.add_argument(
            f"--{key.replace('_', '-')}",
            type=int,
            dest=key,
            help=helps and helps.get(key),
        )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{smoke} smoke run ({quick}); explicit flags still override",
    )
    parser.add_argument(
        "--output",
        help=f"JSON path (default results/{name}.json, "
        f"results/{name}_quick.json with --quick)",
    )


def add_sweep_flags(parser, full, quick, name, modes):
    """The flags of a benchmark that sweeps modes × configurations.

    The preset flags (`add_preset_flags`), `--modes` (default: all of
    `modes`), `--configs`, and, for the scripts whose table is generated
    into docs/performance.md, `--update-docs` and `--render JSON`.
    """
    add_preset_flags(parser, full, quick, name)
    parser.add_argument("--modes", default=",".join(modes))
    parser.add_argument("--configs", help="e.g. 256x1,256x4,128x4 (size x batch)")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="rewrite the generated table in docs/performance.md",
    )
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="only print the markdown table of a result file",
    )


def answer_early(args, render, work_args, work):
    """The answers of a sweep script's `main` that run no sweep.

    With `--render JSON`, prints `render(result)` of that result file; with
    a worker's arguments (`work_args` not empty), prints
    `work(*work_args)` as one JSON line for the parent process.

    Returns:
        bool: whether one of them was asked for (and `main` is done).
    """
    import json

    if args.render:
        with open(args.render) as f:
            print(render(json.load(f)))
        return True
    if not work_args:
        return False
    print(json.dumps(work(*work_args)), flush=True)
    return True


def sweep_report_head(name, args, **settings):
    """The first keys of a sweep's JSON report.

    Args:
        name: str. The benchmark's name (`"benchmark"`).
        args: the parsed flags (`steps`, `warmup`, `rounds`).
        **settings: more `"settings"` after those three.

    Returns:
        dict: `benchmark`, `date` (UTC) and `settings`.
    """
    import datetime

    return {
        "benchmark": name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "settings": {
            "steps": args.steps,
            "warmup": args.warmup,
            "rounds": args.rounds,
            **settings,
        },
    }


def sweep_selection(args, modes, configs_full, configs_quick):
    """`(modes, configs)` chosen by `--modes` and `--configs` (or `--quick`).

    Exits with a message naming unknown modes.
    """
    chosen = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(chosen) - set(modes)
    if unknown:
        raise SystemExit(f"unknown modes {sorted(unknown)}; known: {modes}")
    configs = configs_quick if args.quick else configs_full
    if args.configs:
        configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]
    return chosen, configs

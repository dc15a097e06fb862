#!/usr/bin/env python
"""Benchmark: does memory stay flat over a long run with every callback on?

2,000 training steps of a tiny Pix2Pix (32×32, U-Net and 2-layer PatchGAN
with 8 base filters, dropout, `d_every=1`) on the real CMP facades base set
(`../shared/data/cmp_facade_base`, label map → photo, `load_paired_dataset`
at `image_size=32`, `load_size=36`: random crops and flips, reshuffled every
pass, batch 1), `.repeat()`ed, 10 epochs of 200 steps, with validation on
the val split after every epoch and every callback of the package plus
Keras's usual ones:

- `LearningRateHalving(every=2)`, `LambdaSchedule(end=10, end_epoch=10)`;
- `SampleGrid` (4 val pairs, a PNG every epoch);
- `Diagnostics(verbose=0)`;
- `pix2pix_keras.BackupAndRestore(save_freq=100)` (a backup every 100
  steps);
- `pix2pix_keras.TensorBoard` (Keras's callback plus both learning rates,
  a sample grid image every epoch and the train-step graph);
- `keras.callbacks.ModelCheckpoint` (the whole model as `.keras` every
  epoch), `keras.callbacks.CSVLogger`.

The resident set size (psutil, else /proc/self/status VmRSS) is sampled
after the first step and every `--sample-every` steps (in
`on_train_batch_end`, the last callback). glibc keeps freed memory and
returns it in sudden trims of 50-80 MB at moments of its choosing, which
would swamp a 5 % budget; so after each sample the sampler calls
`malloc_trim(0)` (`--no-trim` turns that off) and samples again
(`rss_trimmed_mb`). Growth is measured from the sample at `--warmup` steps
(the first epoch with its validation, checkpoint and grid is done by
then) to the last one; the target is < 5 %. The least-squares slope of RSS
over the samples after warm-up (MB per 1,000 steps) is reported too: a
leak shows as a steady slope, noise does not.

Usage:
    .venv/bin/python benchmarks/long_run.py           # 2,000 steps, ~30 s here
    .venv/bin/python benchmarks/long_run.py --quick   # 300 steps, ~15 s
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _common import add_preset_flags  # noqa: E402
from _common import report_header  # noqa: E402
from _common import resolve_args  # noqa: E402
from _common import write_report  # noqa: E402

import pix2pix_keras as pk  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
DATA = os.path.join(HERE, "..", "..", "shared", "data", "cmp_facade_base")

FULL = dict(
    steps=2000, steps_per_epoch=200, warmup=300, sample_every=100, save_freq=100
)
QUICK = dict(steps=300, steps_per_epoch=50, warmup=100, sample_every=50, save_freq=50)
SIZE = 32
TARGET_GROWTH_PERCENT = 5.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="RSS over a long training run.")
    add_preset_flags(p, FULL, QUICK, "long_run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=DATA, help="CMP facades base folder")
    p.add_argument(
        "--without",
        default="",
        help="comma-separated callbacks to leave out (to bisect a leak): "
        "halving,lambda,grid,diagnostics,backup,checkpoint,csv,tensorboard,"
        "validation",
    )
    p.add_argument(
        "--no-trim",
        action="store_true",
        help="do not call malloc_trim(0) after each sample",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the run's output folder (printed)"
    )
    args = p.parse_args(argv)
    resolve_args(p, args, FULL, QUICK, "long_run", RESULTS_DIR)
    if args.steps % args.steps_per_epoch:
        p.error("--steps must be a multiple of --steps-per-epoch")
    if args.warmup >= args.steps:
        p.error("--warmup must be less than --steps")
    return args


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def rss_bytes():
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    raise RuntimeError("no way to read the RSS")


def malloc_trim():
    """Returns freed heap memory to the OS (glibc); False if unavailable."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0)) or True
    except (OSError, AttributeError):
        return False


class RSSSampler(keras.callbacks.Callback):
    """RSS after the first step and every `every` steps (global count).

    Each sample is `(step, rss_mb, rss_trimmed_mb, seconds)`: the RSS, then
    (with `trim`) the RSS after `malloc_trim(0)`.
    """

    def __init__(self, every, trim=True):
        super().__init__()
        self.every = every
        self.trim = trim
        self.step = 0
        self.samples = []
        self.t0 = None

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.t0 is None:
            self.t0 = time.perf_counter()
        if self.step == 1 or self.step % self.every == 0:
            rss = round(rss_bytes() / 2**20, 2)
            trimmed = None
            if self.trim and malloc_trim():
                trimmed = round(rss_bytes() / 2**20, 2)
            self.samples.append(
                (self.step, rss, trimmed, round(time.perf_counter() - self.t0, 2))
            )
            log(
                f"step {self.step:5d}  RSS {rss:8.1f} MB"
                + ("" if trimmed is None else f"  trimmed {trimmed:8.1f} MB")
            )


def build_model():
    model = pk.Pix2Pix(
        generator=pk.UNetGenerator(image_size=SIZE, filters=8, max_filters=32),
        discriminator=pk.PatchDiscriminator(
            image_size=SIZE, filters=8, max_filters=32, n_layers=2
        ),
        image_size=SIZE,
    )
    model.compile()
    return model


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    keras.utils.set_random_seed(args.seed)
    without = {w for w in args.without.split(",") if w}
    epochs = args.steps // args.steps_per_epoch
    work = tempfile.mkdtemp(prefix="long_run-")
    log(f"output folder: {work}")

    common = dict(image_size=SIZE, load_size=SIZE + 4, direction="BtoA", seed=args.seed)
    train = pk.load_paired_dataset(
        os.path.join(args.data, "train"), batch_size=1, **common
    )
    val = pk.load_paired_dataset(
        os.path.join(args.data, "val"), batch_size=1, training=False, **common
    )
    grid_samples = val.unbatch().batch(4).take(1)
    model = build_model()
    sampler = RSSSampler(args.sample_every, trim=not args.no_trim)
    available = {
        "halving": lambda: pk.LearningRateHalving(every=2),
        "lambda": lambda: pk.LambdaSchedule(end=10.0, start_epoch=0, end_epoch=epochs),
        "grid": lambda: pk.SampleGrid(grid_samples, os.path.join(work, "grids")),
        "diagnostics": lambda: pk.Diagnostics(verbose=0),
        "backup": lambda: pk.BackupAndRestore(
            os.path.join(work, "backup"), save_freq=args.save_freq
        ),
        "checkpoint": lambda: keras.callbacks.ModelCheckpoint(
            os.path.join(work, "checkpoints", "epoch{epoch:03d}.keras")
        ),
        "csv": lambda: keras.callbacks.CSVLogger(os.path.join(work, "log.csv")),
        "tensorboard": lambda: pk.TensorBoard(
            os.path.join(work, "tensorboard"), samples=grid_samples
        ),
    }
    unknown = without - set(available) - {"validation"}
    if unknown:
        raise SystemExit(f"unknown --without entries: {sorted(unknown)}")
    os.makedirs(os.path.join(work, "checkpoints"), exist_ok=True)
    callbacks = [make() for name, make in available.items() if name not in without]
    callbacks.append(sampler)

    log(
        f"{args.steps} steps: {epochs} epochs of {args.steps_per_epoch}, "
        f"callbacks: {[type(c).__name__ for c in callbacks]}"
    )
    t_fit = time.perf_counter()
    history = model.fit(
        train.repeat(),
        epochs=epochs,
        steps_per_epoch=args.steps_per_epoch,
        validation_data=None if "validation" in without else val,
        callbacks=callbacks,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - t_fit

    samples = sampler.samples
    warm = next(s for s in samples if s[0] >= args.warmup)
    end = samples[-1]
    after = [s for s in samples if s[0] >= args.warmup]

    def summary(column):
        if warm[column] is None:
            return None
        steps = np.array([s[0] for s in after], dtype="float64")
        rss = np.array([s[column] for s in after], dtype="float64")
        slope = (
            float(np.polyfit(steps, rss, 1)[0]) * 1000.0 if len(after) >= 3 else None
        )
        growth = 100.0 * (end[column] - warm[column]) / warm[column]
        return {
            "first_step": samples[0][column],
            "after_warmup": warm[column],
            "after_warmup_step": warm[0],
            "end": end[column],
            "end_step": end[0],
            "max_after_warmup": float(rss.max()),
            "growth_percent": round(growth, 2),
            "slope_mb_per_1000_steps": (None if slope is None else round(slope, 2)),
            "target_growth_percent": TARGET_GROWTH_PERCENT,
            "meets_target": growth < TARGET_GROWTH_PERCENT,
        }

    files = {
        "grids": len(os.listdir(os.path.join(work, "grids")))
        if "grid" not in without
        else 0,
        "checkpoints": len(os.listdir(os.path.join(work, "checkpoints"))),
        "csv_rows": (
            sum(1 for _ in open(os.path.join(work, "log.csv"))) - 1
            if "csv" not in without
            else 0
        ),
        "backup_left": os.path.exists(os.path.join(work, "backup")),
    }
    document = {
        **report_header("long_run", load_start),
        "config": {
            "quick": args.quick,
            "image_size": SIZE,
            "model": "UNetGenerator(filters=8, max_filters=32), "
            "PatchDiscriminator(filters=8, max_filters=32, n_layers=2), "
            "compile() defaults",
            "data": "cmp_facade_base train (302 pairs) BtoA, load_size "
            f"{SIZE + 4}, batch 1, .repeat(); validation: val (37 pairs)",
            "steps": args.steps,
            "epochs": epochs,
            "steps_per_epoch": args.steps_per_epoch,
            "warmup_steps": args.warmup,
            "sample_every": args.sample_every,
            "backup_save_freq": args.save_freq,
            "callbacks": [type(c).__name__ for c in callbacks[:-1]],
            "without": sorted(without),
            "validation": "validation" not in without,
            "seed": args.seed,
            "rss_source": "psutil" if _has_psutil() else "/proc VmRSS",
            "malloc_trim_after_each_sample": not args.no_trim,
        },
        "rss_mb": summary(1),
        "rss_trimmed_mb": summary(2),
        "samples": [
            {"step": s, "rss_mb": r, "rss_trimmed_mb": rt, "seconds": t}
            for s, r, rt, t in samples
        ],
        "files_written": files,
        "final_logs": {k: float(v[-1]) for k, v in history.history.items()},
        "fit_seconds": round(fit_seconds, 1),
        "seconds_per_step": round(fit_seconds / args.steps, 4),
        "total_runtime_s": round(time.perf_counter() - t_start, 1),
    }
    if args.keep:
        document["output_folder"] = work
    else:
        shutil.rmtree(work, ignore_errors=True)
    write_report(document, args.output)


def _has_psutil():
    try:
        import psutil  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()

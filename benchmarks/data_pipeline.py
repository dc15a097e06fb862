#!/usr/bin/env python
"""Benchmark: is the augmented input pipeline fast enough to feed training?

Data: the CMP facades training set (302 pairs of `.jpg` photo "A" and
palette `.png` label map "B", about 1024 px on the long side), label map →
photo (`direction="BtoA"`, `labels=facades_labels("color")`). The pipeline
is `load_paired_dataset` with the training defaults (resize to 286, random
256 crop and flip; decoded images cached as uint8) plus an `Augment` with an
elastic deformation of both images and colour jitter of the photo (the
target side).

Two questions, answered in one process:

1. Pipeline throughput: images/s of iterating the pipeline in Python. The
   first epoch decodes and resizes every file and fills the cache; it is
   reported on its own (`pipeline.first_epoch`) and is the warm-up. After
   that one cached epoch (302 images, new shuffle order and new random
   crops, flips and augmentations) is timed in every round. Target: at least
   10× the images/s that training consumes (`fit` fed from memory).
2. Training throughput: `Pix2Pix().compile()` at defaults (256×256, batch 1),
   one model, `fit()` fed by

     memory    `from_tensor_slices` of `--pairs` batches taken from the real
               pipeline and held as NumPy arrays, `.repeat().prefetch()`;
     pipeline  the real pipeline (decode cache, crops, flips, elastic, colour
               jitter, all running while the model trains), `.repeat()`.

   Both are infinite (`.repeat()`) and every `fit()` call runs `--epochs`
   epochs of `--steps` steps (`steps_per_epoch`), so Keras keeps ONE dataset
   iterator per call and epoch boundaries do not discard it (see README:
   discarding a tf.data iterator can stall `fit()` for 0.6-20 s on TF 2.21).
   Target: steps/s(pipeline) >= 0.95 × steps/s(memory).

Rounds alternate (pipeline epoch, then the two fit variants in ABBA order:
memory/pipeline, pipeline/memory, ...) so the load of other users of this
shared machine hits all three. Each training step is timed in a callback as
the interval between consecutive `on_train_batch_end` calls (Keras then
dispatches batch callbacks synchronously, after the step's losses were
fetched), the first step of a call from `on_train_batch_begin`. So a stall at
an epoch boundary inside a call shows up in a step time; the setup before the
first step and the teardown after the last one (where the iterator is
destroyed) are reported separately and listed in `stalls` when > 0.3 s.

On a shared machine step times jump between two levels (another process
holding a core or not), so besides the ratio of the median step times (the
target) the JSON gives steadier views: the ratio of the fastest and of the
25th-percentile steps, and the process CPU seconds per step of each feed
(their difference is what the pipeline costs per step, whatever the load).

Usage:
    .venv/bin/python benchmarks/data_pipeline.py           # full, ~3-5 min
    .venv/bin/python benchmarks/data_pipeline.py --quick   # 64x64 smoke test, ~20 s
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _common import StepTimer  # noqa: E402
from _common import add_preset_flags  # noqa: E402
from _common import report_header  # noqa: E402
from _common import resolve_args  # noqa: E402
from _common import write_report  # noqa: E402

import pix2pix_keras as pk  # noqa: E402
from pix2pix_keras.augment import Augment  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
DEFAULT_DATA = "/work/shared/data/cmp_facade_base/train"
TARGET_PIPELINE_OVER_STEP_RATE = 10.0
TARGET_FIT_RATIO = 0.95
STALL_S = 0.3

FULL = dict(size=256, batch=1, steps=5, epochs=2, rounds=8, warmup=3, pairs=32)
QUICK = dict(size=64, batch=1, steps=2, epochs=2, rounds=2, warmup=2, pairs=8)

ELASTIC = dict(elastic=True, elastic_alpha=34.0, elastic_sigma=4.0)
COLOR_JITTER = dict(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Augmented input pipeline throughput vs Pix2Pix.fit."
    )
    add_preset_flags(
        p,
        FULL,
        QUICK,
        "data_pipeline",
        helps=dict(
            steps="steps per epoch of each fit()",
            epochs="epochs per fit() call",
            warmup="untimed fit steps per feed",
            pairs="batches held in memory",
        ),
        smoke="small",
    )
    p.add_argument("--data", default=DEFAULT_DATA, help="stems-layout folder")
    p.add_argument("--seed", type=int, default=1234, help="weights and data seed")
    args = p.parse_args(argv)
    resolve_args(
        p,
        args,
        FULL,
        QUICK,
        "data_pipeline",
        RESULTS_DIR,
        minimums={"warmup": 0},
    )
    return args


# ----------------------------------------------------------------------
# The pipeline


def make_pipeline(args):
    """Returns `(dataset, augment)`; the dataset yields one epoch."""
    augment = Augment(
        **ELASTIC, color_jitter=dict(COLOR_JITTER), color_jitter_side="target"
    )
    dataset = pk.load_paired_dataset(
        args.data,
        direction="BtoA",
        labels=pk.facades_labels("color"),
        image_size=args.size,
        load_size=round(args.size * 286 / 256),
        batch_size=args.batch,
        seed=args.seed,
        augment=augment,
    )
    return dataset, augment


def time_epoch(dataset):
    """Iterates one epoch; returns a dict with images/s and CPU time."""
    n = 0
    cpu0 = time.process_time()
    start = time.perf_counter()
    first = None
    for batch in dataset:
        if first is None:
            first = time.perf_counter() - start
        n += int(batch[0].shape[0])
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    return {
        "images": n,
        "wall_s": wall,
        "images_per_s": n / wall,
        "first_batch_s": first,
        "process_cpu_s": cpu,
        "cpu_s_per_image": cpu / n,
    }


def memory_feed(pipeline, pairs):
    """`pairs` batches of the (already cached) pipeline as NumPy arrays."""
    batches = [tuple(t.numpy() for t in b) for b in pipeline.repeat().take(pairs)]
    source = np.concatenate([b[0] for b in batches])
    target = np.concatenate([b[1] for b in batches])
    batch = batches[0][0].shape[0]
    feed = (
        tf.data.Dataset.from_tensor_slices((source, target))
        .batch(batch)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    return feed, source.shape


# ----------------------------------------------------------------------
# Training


class FitRunner:
    def __init__(self, model):
        self.model = model
        self.timer = StepTimer()
        self.trace_count = 0
        original = model.train_step

        def counting_train_step(data):
            self.trace_count += 1  # Python runs only when traced
            return original(data)

        model.train_step = counting_train_step  # this instance only

    def run(self, feed, epochs, steps):
        start = time.perf_counter()
        self.model.fit(
            feed,
            epochs=epochs,
            steps_per_epoch=steps,
            verbose=0,
            callbacks=[self.timer],
        )
        end = time.perf_counter()
        t = self.timer
        times = t.step_times()
        if len(times) != epochs * steps:
            raise RuntimeError(f"fit ran {len(times)} steps, expected {epochs * steps}")
        return {
            "median_step_s": statistics.median(times),
            "steps_per_s": 1.0 / statistics.median(times),
            "wall_s": end - start,
            "sum_step_s": sum(times),
            "setup_s": t.begins[0] - start,
            "teardown_s": end - t.ends[-1],
            "epoch_gap_s": t.epoch_gaps(),
            # CPU seconds of all threads of this process (training and
            # tf.data) per step: little affected by other processes.
            "cpu_s_per_step": (t.cpu_end - t.cpu_begin) / len(times),
            "step_times_s": times,
        }


def summarize(times, batch):
    med = statistics.median(times)
    return {
        "median_step_s": med,
        "steps_per_s": 1.0 / med,
        "images_per_s": batch / med,
        "p25_step_s": float(np.percentile(times, 25)),
        "mean_step_s": statistics.fmean(times),
        "min_step_s": min(times),
        "max_step_s": max(times),
        "n_steps": len(times),
    }


def log(msg):
    print(f"[data_pipeline] {msg}", file=sys.stderr, flush=True)


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    log(
        f"size={args.size} batch={args.batch} rounds={args.rounds} "
        f"fit: {args.epochs} epochs x {args.steps} steps per call"
    )

    # 1. Pipeline: build (file checks), first (uncached) epoch = warm-up.
    t0 = time.perf_counter()
    pipeline, augment = make_pipeline(args)
    build_s = time.perf_counter() - t0
    first_epoch = time_epoch(pipeline)
    log(
        f"pipeline built in {build_s:.2f} s; first epoch (decode + cache) "
        f"{first_epoch['images_per_s']:.1f} images/s"
    )
    memory, memory_shape = memory_feed(pipeline, args.pairs)
    pipeline_feed = pipeline.repeat()
    spec = [tuple(s.shape) for s in pipeline.element_spec]

    # 2. One model for both feeds (same element spec: one trace).
    keras.utils.set_random_seed(args.seed)
    model = pk.Pix2Pix(image_size=args.size)
    model.compile()
    fit = FitRunner(model)
    feeds = {"memory": memory, "pipeline": pipeline_feed}
    warmup_s = {}
    for name, feed in feeds.items():
        t0 = time.perf_counter()
        if args.warmup:
            fit.run(feed, 1, args.warmup)
        warmup_s[name] = time.perf_counter() - t0
    traces_after_warmup = fit.trace_count
    log(f"warm-up {warmup_s}")

    rounds = []
    all_times = {"memory": [], "pipeline": []}
    epochs = []
    stalls = []
    for r in range(args.rounds):
        entry = {"round": r}
        entry["pipeline_epoch"] = epoch = time_epoch(pipeline)
        epochs.append(epoch)
        order = ("memory", "pipeline") if r % 2 == 0 else ("pipeline", "memory")
        entry["order"] = list(order)
        for name in order:
            res = fit.run(feeds[name], args.epochs, args.steps)
            entry[f"fit_{name}"] = res
            all_times[name].extend(res["step_times_s"])
            for where in ("setup_s", "teardown_s"):
                if res[where] > STALL_S:
                    stalls.append(
                        {
                            "round": r,
                            "feed": name,
                            "where": where[:-2],
                            "s": res[where],
                        }
                    )
            for i, gap in enumerate(res["epoch_gap_s"]):
                if gap > STALL_S:
                    stalls.append(
                        {
                            "round": r,
                            "feed": name,
                            "where": f"epoch_boundary_{i + 1}",
                            "s": gap,
                        }
                    )
        entry["ratio_fit_pipeline_over_memory"] = (
            entry["fit_memory"]["median_step_s"]
            / entry["fit_pipeline"]["median_step_s"]
        )
        rounds.append(entry)
        log(
            f"round {r}: pipeline {epoch['images_per_s']:.1f} images/s; fit "
            f"memory {entry['fit_memory']['steps_per_s']:.3f}, pipeline "
            f"{entry['fit_pipeline']['steps_per_s']:.3f} steps/s "
            f"(ratio {entry['ratio_fit_pipeline_over_memory']:.3f}); cpu/step "
            f"{entry['fit_memory']['cpu_s_per_step']:.2f} / "
            f"{entry['fit_pipeline']['cpu_s_per_step']:.2f} s; "
            f"teardown {entry['fit_memory']['teardown_s']:.2f} / "
            f"{entry['fit_pipeline']['teardown_s']:.2f} s"
        )

    fits = {k: summarize(v, args.batch) for k, v in all_times.items()}
    for name in fits:
        calls = [e[f"fit_{name}"] for e in rounds]
        fits[name]["fit_call_setup_s"] = statistics.median(c["setup_s"] for c in calls)
        fits[name]["fit_call_teardown_s"] = statistics.median(
            c["teardown_s"] for c in calls
        )
        fits[name]["cpu_s_per_step"] = statistics.median(
            c["cpu_s_per_step"] for c in calls
        )
        gaps = [g for c in calls for g in c["epoch_gap_s"]]
        fits[name]["epoch_gap_max_s"] = max(gaps) if gaps else None
    rates = [e["images_per_s"] for e in epochs]
    pipeline_summary = {
        "first_epoch": first_epoch,
        "build_s": build_s,
        "cached_epoch_images_per_s": rates,
        "images_per_s": statistics.median(rates),
        "cpu_s_per_image": statistics.median(e["cpu_s_per_image"] for e in epochs),
    }
    step_rate = fits["memory"]["images_per_s"]
    ratio_pipeline = pipeline_summary["images_per_s"] / step_rate
    ratio_fit = fits["memory"]["median_step_s"] / fits["pipeline"]["median_step_s"]
    per_round = [e["ratio_fit_pipeline_over_memory"] for e in rounds]
    pass_pipeline = ratio_pipeline >= TARGET_PIPELINE_OVER_STEP_RATE
    pass_fit = ratio_fit >= TARGET_FIT_RATIO

    result = {
        **report_header("data_pipeline", load_start),
        "config": {
            "data": os.path.abspath(args.data),
            "pairs_per_epoch": first_epoch["images"],
            "direction": "BtoA",
            "labels": "facades_labels('color') (label map = source)",
            "image_size": args.size,
            "load_size": round(args.size * 286 / 256),
            "preprocess": "resize_and_crop (training: random crop + flip)",
            "batch_size": args.batch,
            "augment": repr(augment),
            "element_spec": spec,
            "memory_feed": f"from_tensor_slices of {args.pairs} pipeline "
            f"batches {list(memory_shape)}, "
            ".batch().repeat().prefetch(AUTOTUNE)",
            "pipeline_feed": "load_paired_dataset(...).repeat()",
            "model": "Pix2Pix(image_size) + compile() defaults, one model for "
            "both feeds",
            "fit": f"fit(feed, epochs={args.epochs}, steps_per_epoch="
            f"{args.steps}, verbose=0): one iterator per call (repeat + "
            "steps_per_epoch)",
            "rounds": args.rounds,
            "epochs_per_call": args.epochs,
            "steps_per_epoch": args.steps,
            "warmup_steps": args.warmup,
            "seed": args.seed,
            "quick": args.quick,
            "timing": "pipeline: one cached epoch per round; fit: per-step "
            "interval between on_train_batch_end calls, ABBA-alternated; "
            f"stalls = setup/teardown/epoch gaps > {STALL_S} s",
        },
        "warmup_s": warmup_s,
        "traces": {
            "after_warmup": traces_after_warmup,
            "at_end": fit.trace_count,
        },
        "pipeline": pipeline_summary,
        "fit_memory": fits["memory"],
        "fit_pipeline": fits["pipeline"],
        "training_step_rate": fits["memory"]["steps_per_s"],
        "ratio_pipeline_over_step_rate": ratio_pipeline,
        "ratio_fit_pipeline_over_memory": ratio_fit,
        "ratio_per_round": per_round,
        "ratio_median_of_rounds": statistics.median(per_round),
        "ratio_min_step": fits["memory"]["min_step_s"] / fits["pipeline"]["min_step_s"],
        "ratio_p25_step": fits["memory"]["p25_step_s"] / fits["pipeline"]["p25_step_s"],
        "ratio_cpu_per_step": fits["memory"]["cpu_s_per_step"]
        / fits["pipeline"]["cpu_s_per_step"],
        "pipeline_cpu_s_per_step": fits["pipeline"]["cpu_s_per_step"]
        - fits["memory"]["cpu_s_per_step"],
        "ratio_round_wall": sum(e["fit_memory"]["wall_s"] for e in rounds)
        / sum(e["fit_pipeline"]["wall_s"] for e in rounds),
        "stalls": stalls,
        "targets": {
            "pipeline_over_step_rate": TARGET_PIPELINE_OVER_STEP_RATE,
            "fit_pipeline_over_memory": TARGET_FIT_RATIO,
        },
        "pass_pipeline": pass_pipeline,
        "pass_fit": pass_fit,
        "pass": pass_pipeline and pass_fit,
        "rounds": rounds,
        "total_runtime_s": None,
    }
    result["total_runtime_s"] = time.perf_counter() - t_start

    write_report(result, args.output)
    log(
        f"pipeline {pipeline_summary['images_per_s']:.1f} images/s (first "
        f"epoch {first_epoch['images_per_s']:.1f}) = {ratio_pipeline:.1f}x the "
        f"step rate {step_rate:.3f}/s "
        f"(target {TARGET_PIPELINE_OVER_STEP_RATE:g}x) "
        f"-> {'PASS' if pass_pipeline else 'FAIL'}; fit pipeline/memory "
        f"{ratio_fit:.3f} (target {TARGET_FIT_RATIO}) -> "
        f"{'PASS' if pass_fit else 'FAIL'}; {len(stalls)} stall(s); "
        f"{result['total_runtime_s']:.0f} s; wrote {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

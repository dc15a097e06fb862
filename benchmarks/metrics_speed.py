#!/usr/bin/env python
"""Benchmark: throughput of the evaluation metrics at 256×256.

What is timed (images are random 256×256×3 in [-1, 1], a noisy copy as the
prediction; the values do not change the cost):

  ssim / psnr / l1   the streaming metric `update_state` (SSIM(), PSNR(),
                     L1()) on a batch of `--batch` image pairs, three ways:
                     `graph` inside a `tf.function` (as in a Keras test
                     step), `xla` the same with `jit_compile=True`, and
                     `eager` (plain call: adds the [-1, 1] range checks).
  fid_features       `FrechetInceptionDistance("keras_inception_v3",
                     weights=None, input_size=299,
                     batch_size=--fid-batch).update_real(images)` on
                     `--fid-images` 256×256 images: bilinear resize to
                     299×299, InceptionV3 (include_top=False, pooling="avg",
                     random weights: same cost as ImageNet weights), 2048-d
                     features, float64 mean / scatter update. One warm-up
                     call (tracing) first.
  fid_result         `frechet_distance` of two 2048-d Gaussians
                     (`FrechetInceptionDistance.result()`): seconds.
  kid                `kid_from_features` on `--kid-features` real and as
                     many fake 2048-d features with `--kid-subset-size`
                     × `--kid-subsets` (defaults 1000 × 100, clean-fid's):
                     seconds, and images/s = (real + fake) / seconds. Feature
                     extraction costs the same as `fid_features`.
  miou_update        `SegmentationScore(13, ignore_label=0).update_state` on
                     `--batch` 256×256 label maps, with logits
                     (b, 256, 256, 13) and with ids (b, 256, 256).

Every number is the median over `--reps` repetitions of `--calls` calls
(after one untimed warm-up call); per-repetition values are in the JSON.

Usage:
    .venv/bin/python benchmarks/metrics_speed.py           # full, ~1 min
    .venv/bin/python benchmarks/metrics_speed.py --quick   # ~15 s
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import tensorflow as tf  # noqa: E402
from _common import add_preset_flags  # noqa: E402
from _common import report_header  # noqa: E402
from _common import resolve_args  # noqa: E402
from _common import write_report  # noqa: E402

from pix2pix_keras import metrics  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")

FULL = dict(
    batch=8,
    reps=7,
    calls=5,
    fid_images=128,
    fid_batch=32,
    kid_features=1000,
    kid_subset_size=1000,
    kid_subsets=100,
)
QUICK = dict(
    batch=4,
    reps=2,
    calls=2,
    fid_images=16,
    fid_batch=8,
    kid_features=200,
    kid_subset_size=200,
    kid_subsets=10,
)
SIZE = 256
NUM_CLASSES = 13


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Evaluation metric throughput.")
    add_preset_flags(p, FULL, QUICK, "metrics_speed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    resolve_args(
        p,
        args,
        FULL,
        QUICK,
        "metrics_speed",
        RESULTS_DIR,
    )
    if args.kid_subset_size < 2 or args.kid_features < 2:
        p.error("--kid-subset-size and --kid-features must be >= 2")
    return args


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def timed(fn, reps, calls, images_per_call):
    """Median over `reps` of `calls` calls; `fn` must block until done."""
    fn()  # warm-up: tracing, first-call costs
    seconds = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        seconds.append((time.perf_counter() - t0) / calls)
    median = statistics.median(seconds)
    return {
        "median_call_s": median,
        "images_per_call": images_per_call,
        "images_per_s": images_per_call / median,
        "call_s_per_rep": seconds,
    }


def image_metrics(args, rng):
    x = rng.uniform(-1, 1, (args.batch, SIZE, SIZE, 3)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.1, x.shape), -1, 1).astype("float32")
    xt, yt = tf.constant(x), tf.constant(y)
    out = {}
    for name, cls in (
        ("ssim", metrics.SSIM),
        ("psnr", metrics.PSNR),
        ("l1", metrics.L1),
    ):
        out[name] = {}
        for mode in ("graph", "xla", "eager"):
            metric = cls()
            if mode == "eager":

                def step(metric=metric):
                    metric.update_state(xt, yt)
                    return metric.result()

            else:
                step = tf.function(
                    lambda a, b, metric=metric: (
                        metric.update_state(a, b),
                        metric.result(),
                    )[1],
                    jit_compile=mode == "xla",
                )

            def call(step=step, mode=mode):
                r = step() if mode == "eager" else step(xt, yt)
                float(r)  # sync

            out[name][mode] = timed(call, args.reps, args.calls, args.batch)
            log(f"{name:5s} {mode:5s} {out[name][mode]['images_per_s']:9.1f} images/s")
    return out


def fid_features(args, rng):
    t0 = time.perf_counter()
    fid = metrics.FrechetInceptionDistance(
        "keras_inception_v3", weights=None, input_size=299, batch_size=args.fid_batch
    )
    build_s = time.perf_counter() - t0
    images = rng.uniform(-1, 1, (args.fid_images, SIZE, SIZE, 3)).astype("float32")
    t0 = time.perf_counter()
    fid.update_real(images[: args.fid_batch])  # trace
    warmup_s = time.perf_counter() - t0
    seconds = []
    for _ in range(max(1, min(args.reps, 3))):
        t0 = time.perf_counter()
        fid.update_real(images)
        seconds.append(time.perf_counter() - t0)
    median = statistics.median(seconds)
    fake = rng.uniform(-1, 1, (args.fid_batch, SIZE, SIZE, 3)).astype("float32")
    fid.update_fake(fake)
    t0 = time.perf_counter()
    value = fid.result()
    result_s = time.perf_counter() - t0
    log(
        f"fid features {args.fid_images / median:9.1f} images/s "
        f"(build {build_s:.1f} s, warm-up {warmup_s:.1f} s); "
        f"frechet_distance 2048-d {result_s:.2f} s"
    )
    return (
        {
            "images": args.fid_images,
            "batch_size": args.fid_batch,
            "median_s": median,
            "images_per_s": args.fid_images / median,
            "s_per_rep": seconds,
            "build_s": build_s,
            "warmup_s": warmup_s,
            "feature_dim": fid.feature_dim,
        },
        {"seconds": result_s, "feature_dim": fid.feature_dim, "value": value},
    )


def kid(args, rng):
    n, d = args.kid_features, 2048
    # Non-negative, like pooled ReLU features.
    real = np.abs(rng.normal(size=(n, d))).astype("float32")
    fake = np.abs(rng.normal(0.1, 1.0, size=(n, d))).astype("float32")
    t0 = time.perf_counter()
    mean, std = metrics.kid_from_features(
        real,
        fake,
        subset_size=args.kid_subset_size,
        num_subsets=args.kid_subsets,
    )
    seconds = time.perf_counter() - t0
    log(
        f"kid {n}+{n} features, {args.kid_subsets} subsets of "
        f"{min(args.kid_subset_size, n)}: {seconds:.2f} s"
    )
    return {
        "features_per_set": n,
        "feature_dim": d,
        "subset_size": min(args.kid_subset_size, n),
        "num_subsets": args.kid_subsets,
        "seconds": seconds,
        "seconds_per_subset": seconds / args.kid_subsets,
        "images_per_s": 2 * n / seconds,
        "value": [mean, std],
    }


def miou(args, rng):
    ids = rng.integers(0, NUM_CLASSES, (args.batch, SIZE, SIZE)).astype("int32")
    logits = rng.normal(size=(args.batch, SIZE, SIZE, NUM_CLASSES)).astype("float32")
    pred_ids = np.argmax(logits, -1).astype("int32")
    ids_t, logits_t, pred_t = (tf.constant(a) for a in (ids, logits, pred_ids))
    score = metrics.SegmentationScore(NUM_CLASSES, ignore_label=0)
    out = {}
    for name, pred in (("logits", logits_t), ("ids", pred_t)):
        out[name] = timed(
            lambda pred=pred: score.update_state(ids_t, pred),
            args.reps,
            args.calls,
            args.batch,
        )
        log(f"miou update ({name}) {out[name]['images_per_s']:9.1f} images/s")
    return out


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)

    results = {"image_metrics": image_metrics(args, rng)}
    results["fid_features"], results["fid_result"] = fid_features(args, rng)
    results["kid"] = kid(args, rng)
    results["miou_update"] = miou(args, rng)

    document = {
        **report_header("metrics_speed", load_start, scipy=scipy.__version__),
        "config": {
            "quick": args.quick,
            "image_size": SIZE,
            "channels": 3,
            "batch": args.batch,
            "reps": args.reps,
            "calls_per_rep": args.calls,
            "fid_images": args.fid_images,
            "fid_batch": args.fid_batch,
            "fid_extractor": "InceptionV3(include_top=False, pooling='avg', "
            "weights=None), 256 -> 299 bilinear resize",
            "kid_features": args.kid_features,
            "kid_subset_size": args.kid_subset_size,
            "kid_subsets": args.kid_subsets,
            "segmentation": f"SegmentationScore({NUM_CLASSES}, ignore_label=0)",
            "seed": args.seed,
            "timing": "median over reps of the mean call time of `calls` "
            "calls, after one untimed warm-up call",
        },
        **results,
        "summary_images_per_s": {
            **{
                f"{name}_{mode}": results["image_metrics"][name][mode]["images_per_s"]
                for name in ("ssim", "psnr", "l1")
                for mode in ("graph", "xla", "eager")
            },
            "fid_features": results["fid_features"]["images_per_s"],
            "kid": results["kid"]["images_per_s"],
            "miou_update_logits": results["miou_update"]["logits"]["images_per_s"],
            "miou_update_ids": results["miou_update"]["ids"]["images_per_s"],
        },
        "total_runtime_s": time.perf_counter() - t_start,
    }
    write_report(document, args.output)
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

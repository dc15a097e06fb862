#!/usr/bin/env python
"""Benchmark: instance norm as GroupNormalization(groups=-1) vs by hand.

Both are affine-free with epsilon 1e-5 (PyTorch's InstanceNorm2d default):

  group_norm  `keras.layers.GroupNormalization(groups=-1, center=False,
              scale=False, epsilon=1e-5)`, what `norm="instance"` uses;
  moments     `(x - mean) * rsqrt(var + eps)` from `keras.ops.moments` over
              the spatial axes, a hand-written InstanceNormalization.

For feature-map shapes of the U-Net at 256×256, reports the maximum error
of each against a float64 numpy reference and the median time of a
forward + backward pass inside one `tf.function`, alternating the two.

Usage:
    .venv/bin/python benchmarks/instance_norm.py [--quick]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from _common import machine  # noqa: E402
from _common import versions  # noqa: E402
from _common import write_report  # noqa: E402
from pix2pix_keras.models.blocks import make_norm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(1, 128, 128, 64), (1, 64, 64, 128), (1, 32, 32, 256),
          (1, 16, 16, 512), (4, 64, 64, 128)]


def moments_norm(x, eps=1e-5):
    mean, var = keras.ops.moments(x, axes=(1, 2), keepdims=True)
    return (x - mean) * keras.ops.rsqrt(var + eps)


def reference(x, eps=1e-5):
    x = x.astype("float64")
    mean = x.mean(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + eps)


def timed(fn, x, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - t)
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--output", default=None)
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 30)
    output = args.output or os.path.join(
        HERE, "results", "instance_norm_quick.json" if args.quick
        else "instance_norm.json")
    load_start = os.getloadavg()
    rng = np.random.default_rng(0)
    rows = []
    for shape in (SHAPES[:2] if args.quick else SHAPES):
        layer = make_norm("instance", f"in_{len(rows)}")
        impls = {"group_norm": lambda x, layer=layer: layer(x, training=True),
                 "moments": moments_norm}
        x_np = (rng.normal(size=shape) * 3 + 1).astype("float32")
        x = tf.constant(x_np)
        ref = reference(x_np)
        row = {"shape": list(shape)}
        steps = {}
        for name, impl in impls.items():
            row[f"{name}_max_abs_error"] = float(
                np.max(np.abs(impl(x).numpy() - ref)))

            @tf.function
            def step(x, impl=impl):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = impl(x)
                    loss = tf.reduce_sum(y * y * 0.5 + y)
                return tape.gradient(loss, x)

            step(x)  # trace
            steps[name] = step
        times = {name: [] for name in impls}
        for _ in range(repeats):  # alternate, so load hits both
            for name, step in steps.items():
                times[name] += timed(step, x, 1)
        for name in impls:
            row[f"{name}_ms"] = round(1000 * statistics.median(times[name]), 3)
        row["moments_over_group_norm"] = round(
            row["moments_ms"] / row["group_norm_ms"], 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {
        "benchmark": "instance_norm",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "repeats": repeats,
        "rows": rows,
        "versions": versions(),
        "machine": machine(load_start),
    }
    write_report(report, output, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

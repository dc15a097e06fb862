#!/usr/bin/env python
"""Benchmark: bf16 convolution weight gradients, oneDNN kernel vs a GEMM.

`benchmarks/onednn_profile.py` shows that on a CPU without AMX the bf16
backward-weights convolutions (oneDNN's `jit_bf16:avx512_core_bf16`
kernel) run hardly faster than float32 ones and take about half of a
bf16 training step. This script times, for every 4×4 convolution shape of
the default U-Net / PatchGAN at 256×256 batch 1, the weight gradient
computed three ways: `Conv2DBackpropFilter` in float32 and in bf16, and in
bf16 as one matrix product of the input patches (`tf.image.extract_patches`)
with the output gradient. It also checks that the GEMM form gives the same
gradient (float32, relative error).

Usage:
    .venv/bin/python benchmarks/weight_grad_gemm.py          # ~1 min
    .venv/bin/python benchmarks/weight_grad_gemm.py --quick
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
RESULTS_DIR = os.path.join(HERE, "results")

# (input size, in channels, out channels, stride) of the 4×4 convolutions:
# U-Net encoder at 256 (the decoder's transposed convolutions have the same
# weight-gradient shapes, mirrored) and the PatchGAN's stride-1 layer.
SHAPES = [(256, 3, 64, 2), (128, 64, 128, 2), (64, 128, 256, 2),
          (32, 256, 512, 2), (16, 512, 512, 2), (8, 512, 512, 2),
          (4, 512, 512, 2), (2, 512, 512, 2), (34, 256, 512, 1)]


def kernel_grad(x, dy, stride):
    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=[4, 4, x.shape[-1], dy.shape[-1]],
        out_backprop=dy, strides=[1, stride, stride, 1],
        padding="SAME" if stride == 2 else "VALID")


def gemm_grad(x, dy, stride):
    if stride == 2:  # TF's SAME padding of a 4×4 / 2 conv: 1 before, 2 after
        x = tf.pad(x, [[0, 0], [1, 2], [1, 2], [0, 0]])
    patches = tf.image.extract_patches(
        x, [1, 4, 4, 1], [1, stride, stride, 1], [1, 1, 1, 1], "VALID")
    cin, cout = x.shape[-1], dy.shape[-1]
    patches = tf.reshape(patches, [-1, 16 * cin])
    grad = tf.matmul(patches, tf.reshape(dy, [-1, cout]), transpose_a=True)
    return tf.reshape(grad, [4, 4, cin, cout])


def time_fn(fn, args, repeats):
    fn(*args).numpy()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(*args).numpy()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output")
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    output = args.output or os.path.join(
        RESULTS_DIR, f"weight_grad_gemm{'_quick' if args.quick else ''}.json")
    from _common import machine
    from _common import versions
    from pix2pix_keras.utils import atomic_path

    load_start = os.getloadavg()
    rows, totals = [], {"f32_kernel_ms": 0.0, "bf16_kernel_ms": 0.0,
                        "bf16_gemm_ms": 0.0}
    for size, cin, cout, stride in SHAPES:
        out = size // 2 if stride == 2 else size - 3
        x32 = tf.random.normal((1, size, size, cin))
        dy32 = tf.random.normal((1, out, out, cout))
        ref = kernel_grad(x32, dy32, stride)
        err = float(tf.reduce_max(tf.abs(gemm_grad(x32, dy32, stride) - ref))
                    / tf.reduce_max(tf.abs(ref)))
        x16, dy16 = tf.cast(x32, tf.bfloat16), tf.cast(dy32, tf.bfloat16)
        kern = tf.function(lambda a, b: kernel_grad(a, b, stride))
        gemm = tf.function(lambda a, b: gemm_grad(a, b, stride))
        row = {
            "input": size, "in_channels": cin, "out_channels": cout,
            "stride": stride,
            "f32_kernel_ms": round(time_fn(kern, (x32, dy32), repeats), 3),
            "bf16_kernel_ms": round(time_fn(kern, (x16, dy16), repeats), 3),
            "bf16_gemm_ms": round(time_fn(gemm, (x16, dy16), repeats), 3),
            "gemm_rel_error_f32": err,
        }
        row["gemm_speedup_over_bf16_kernel"] = round(
            row["bf16_kernel_ms"] / row["bf16_gemm_ms"], 2)
        for key in totals:
            totals[key] += row[key]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    best = sum(min(r["bf16_kernel_ms"], r["bf16_gemm_ms"]) for r in rows)
    report = {
        "benchmark": "weight_grad_gemm",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "repeats": repeats,
        "shapes": rows,
        "totals_ms": {k: round(v, 2) for k, v in totals.items()},
        "bf16_best_of_both_ms": round(best, 2),
        "versions": versions(),
        "machine": machine(load_start),
    }
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with atomic_path(output) as tmp:
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

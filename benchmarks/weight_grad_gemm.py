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

With `--step`, it also measures what the GEMM form does to a whole
training step: `benchmarks/_gemm_grads.py` swaps the weight gradient of
every layer where the GEMM won above (patch ≥ 4096 values, ≤ 4096
positions) and `Pix2Pix.fit` (mixed_bfloat16 + `jit_optimizer`, 256×256
batch 1) runs with and without it, each in fresh processes, `--rounds`
rounds in alternating order; one step of each is also profiled with
`ONEDNN_VERBOSE` (sum of oneDNN primitive times by kind, as
`onednn_profile.py`). A float32 check compares every gradient of a patched
and a stock model on the same batch.

Usage:
    .venv/bin/python benchmarks/weight_grad_gemm.py          # ~1 min
    .venv/bin/python benchmarks/weight_grad_gemm.py --step   # ~6 min
    .venv/bin/python benchmarks/weight_grad_gemm.py --quick
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
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
    from _gemm_grads import _patch_grad

    return _patch_grad(x, dy, (4, 4), (stride, stride),
                       "same" if stride == 2 else "valid")


def time_fn(fn, args, repeats):
    fn(*args).numpy()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(*args).numpy()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def step_worker(gemm, size, batch, steps, warmup, profile):
    """Median fit step (or one profiled step) with/without the GEMM form."""
    import keras

    import pix2pix_keras as pk
    from _common import StepTimer
    from _gemm_grads import use_gemm_weight_grads
    from fit_vs_loop import make_dataset
    from onednn_profile import marked_step

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    data = make_dataset(size, batch, pairs=max(4, batch * 2), seed=0)
    model = pk.Pix2Pix(image_size=size)
    model.compile(jit_optimizer=True)
    layers = use_gemm_weight_grads(model) if gemm else 0
    model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0)
    if profile:
        x, y = next(iter(data))
        for _ in range(2):  # trace and warm train_on_batch's own function
            model.train_on_batch(x, y)
        return {"wall_s": marked_step(model, x, y), "layers": layers}
    timer = StepTimer()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0,
              callbacks=[timer])
    return {"median_s": statistics.median(timer.times), "layers": layers}


def spawn_step(gemm, size, batch, steps, warmup, profile=False):
    env = dict(os.environ, ONEDNN_VERBOSE="1") if profile else None
    cmd = [sys.executable, os.path.abspath(__file__), "--step-worker",
           str(int(gemm)), str(size), str(batch), str(steps), str(warmup),
           str(int(profile))]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         check=False)
    lines = out.stdout.splitlines()
    results = [l for l in lines if l.startswith("{")]
    if out.returncode or not results:
        raise RuntimeError(f"step worker failed:\n{out.stderr[-3000:]}")
    result = json.loads(results[-1])
    if profile:
        from onednn_profile import parse
        from onednn_profile import summarise

        summary = summarise(parse(lines))
        result = {"wall_s": round(result["wall_s"], 4),
                  "onednn_total_ms": summary["total_ms"],
                  "by_kind": summary["by_kind"]}
    return result


def gradient_check(size=64, seed=0):
    """Max relative gradient difference, patched vs stock, float32."""
    import keras
    import numpy as np

    import pix2pix_keras as pk
    from _gemm_grads import use_gemm_weight_grads

    keras.mixed_precision.set_global_policy("float32")
    grads, layers = [], 0
    x = tf.random.stateless_uniform((2, size, size, 3), (seed, 1), -1, 1)
    y = tf.random.stateless_uniform((2, size, size, 3), (seed, 2), -1, 1)
    for gemm in (False, True):
        keras.utils.set_random_seed(seed)
        g = pk.UNetGenerator(image_size=size)
        d = pk.PatchDiscriminator(image_size=size)
        if gemm:
            layers = use_gemm_weight_grads(g) + use_gemm_weight_grads(d)
        with tf.GradientTape() as tape:
            fake = g(x, training=True)
            loss = tf.reduce_mean(tf.square(d([x, fake], training=True))) \
                + tf.reduce_mean(tf.abs(fake - y))
        variables = g.trainable_variables + d.trainable_variables
        grads.append([v.numpy() for v in tape.gradient(loss, variables)])
    errors = [float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-30))
              for a, b in zip(*grads)]
    return {"image_size": size, "layers_switched": layers,
            "gradients": len(errors), "max_rel_error": max(errors)}


def step_comparison(rounds, steps, warmup, size=256, batch=1):
    runs = {False: [], True: []}
    for r in range(rounds):
        for gemm in ((False, True) if r % 2 == 0 else (True, False)):
            res = spawn_step(gemm, size, batch, steps, warmup)
            runs[gemm].append(res)
            print(json.dumps({"gemm": gemm, **res}), file=sys.stderr,
                  flush=True)
    stock = statistics.median(r["median_s"] for r in runs[False])
    gemm = statistics.median(r["median_s"] for r in runs[True])
    return {
        "config": f"{size}x{size}_b{batch}, mixed_bfloat16, jit_optimizer",
        "rounds": rounds, "steps": steps, "warmup": warmup,
        "layers_switched": runs[True][0]["layers"],
        "stock_step_s": round(stock, 4), "gemm_step_s": round(gemm, 4),
        "per_round_stock_s": [round(r["median_s"], 4) for r in runs[False]],
        "per_round_gemm_s": [round(r["median_s"], 4) for r in runs[True]],
        "speedup": round(stock / gemm, 3),
        "profile_stock": spawn_step(False, size, batch, steps, warmup, True),
        "profile_gemm": spawn_step(True, size, batch, steps, warmup, True),
        "gradient_check_f32": gradient_check(),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--step-worker", nargs=6, type=int, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int)
    p.add_argument("--step", action="store_true",
                   help="also time whole training steps with the GEMM form")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output")
    args = p.parse_args(argv)
    if args.step_worker:
        gemm, size, batch, steps, warmup, profile = args.step_worker
        print(json.dumps(step_worker(bool(gemm), size, batch, steps, warmup,
                                     bool(profile))), flush=True)
        return 0
    repeats = args.repeats or (3 if args.quick else 15)
    output = args.output or os.path.join(
        RESULTS_DIR, f"weight_grad_gemm{'_quick' if args.quick else ''}.json")
    from _common import machine
    from _common import versions
    from _common import write_report

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
        "training_step": (
            step_comparison(args.rounds, 3 if args.quick else 12,
                            1 if args.quick else 4,
                            size=64 if args.quick else 256)
            if args.step else None),
        "versions": versions(),
        "machine": machine(load_start),
    }
    write_report(report, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

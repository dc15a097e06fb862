#!/usr/bin/env python
"""Benchmark: where a training step's time goes, by oneDNN primitive.

Runs `Pix2Pix.train_on_batch` at 256×256 batch 1 (default networks) in a
subprocess with `ONEDNN_VERBOSE=1`, once for float32 and once for
`mixed_bfloat16` (both with `jit_optimizer=True`), and sums the execution
time oneDNN reports for every primitive of one step after warm-up: by kind
(convolution forward, backward-data, backward-weights; reorders = layout
changes), by implementation (`brg_conv_fwd:avx512_core_bf16`,
`jit:avx512_core`, `..._amx`) and by problem shape. This says which
kernels the CPU really runs: on a CPU without AMX, bf16 convolutions use
AVX-512 bf16 kernels and gain ~2× at most; the backward-weights kernels
are older ones.

Also profiled, in float32: the full step and the generator-only step of
`compile(d_every=2)` (`d_every2_full`, `d_every2_g_only`), to show how
much convolution work a skipped discriminator update saves.

The step's wall time is reported beside the sum. The sum can exceed it:
TensorFlow runs independent ops at the same time (inter-op threads), and
the verbose logging itself adds a little time.

Usage:
    .venv/bin/python benchmarks/onednn_profile.py            # ~1 min
    .venv/bin/python benchmarks/onednn_profile.py --quick    # 64×64
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import collections  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
RESULTS_DIR = os.path.join(HERE, "results")
MARK = "=== timed step ==="
POLICIES = ("float32", "mixed_bfloat16")
# Also profiled: the two kinds of step of compile(d_every=2), float32.
D_EVERY_STEPS = ("d_every2_full", "d_every2_g_only")


def worker(policy, size, warmup):
    import keras
    import tensorflow as tf

    import pix2pix_keras as pk

    d_every = 1
    if policy in D_EVERY_STEPS:
        d_every = 2
        phase = 0 if policy == "d_every2_full" else 1
        policy = "float32"
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = pk.Pix2Pix(image_size=size)
    model.compile(jit_optimizer=True, d_every=d_every)
    x = tf.random.uniform((1, size, size, 3), -1, 1)
    y = tf.random.uniform((1, size, size, 3), -1, 1)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    if d_every > 1:
        # Both branches are traced and warm; stop before the wanted kind.
        while int(model.step_counter) % d_every != phase:
            model.train_on_batch(x, y)
    wall = marked_step(model, x, y)
    print(json.dumps({"wall_s": wall}), flush=True)


def marked_step(model, x, y):
    """One `train_on_batch` between two MARK lines; returns its wall time."""
    print(MARK, flush=True)
    t = time.perf_counter()
    model.train_on_batch(x, y)
    wall = time.perf_counter() - t
    print(MARK, flush=True)
    return wall


def parse(lines):
    """Sums oneDNN `exec` lines between the two marks."""
    inside, rows = False, []
    for line in lines:
        if line.startswith(MARK):
            inside = not inside
            continue
        parts = line.strip().split(",")
        if inside and len(parts) > 8 and parts[2] == "primitive" \
                and parts[3] == "exec":
            rows.append({"kind": parts[5], "impl": parts[6],
                         "prop": parts[7], "shape": parts[-2],
                         "ms": float(parts[-1])})
    return rows


def summarise(rows, top=12):
    def group(key):
        acc = collections.defaultdict(lambda: [0, 0.0])
        for r in rows:
            k = key(r)
            acc[k][0] += 1
            acc[k][1] += r["ms"]
        return [{"key": k, "calls": n, "ms": round(ms, 2)}
                for k, (n, ms) in sorted(acc.items(), key=lambda kv: -kv[1][1])]

    return {
        "total_ms": round(sum(r["ms"] for r in rows), 1),
        "by_kind": group(lambda r: f"{r['kind']} {r['prop']}"),
        "by_impl": group(lambda r: f"{r['kind']} {r['prop']} {r['impl']}"),
        "top_shapes": group(lambda r: f"{r['kind']} {r['prop']} {r['shape']}")[:top],
    }


def run(policy, size, warmup):
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", policy,
           str(size), str(warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         check=False)
    if out.returncode:
        raise RuntimeError(f"worker {policy} failed:\n{out.stderr[-3000:]}")
    lines = out.stdout.splitlines()
    wall = json.loads([l for l in lines if l.startswith("{")][-1])["wall_s"]
    isa = next((l.split(",", 4)[-1] for l in lines
                if ",info,cpu,isa:" in l), None)
    return {"wall_s": round(wall, 4), "onednn_isa": isa,
            **summarise(parse(lines))}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--size", type=int)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--output")
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return 0
    from _common import machine
    from _common import versions
    from _common import write_report

    size = args.size or (64 if args.quick else 256)
    output = args.output or os.path.join(
        RESULTS_DIR, f"onednn_profile{'_quick' if args.quick else ''}.json")
    load_start = os.getloadavg()
    report = {
        "benchmark": "onednn_profile",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "settings": {"image_size": size, "batch": 1, "warmup": args.warmup,
                     "compile": {"jit_optimizer": True}},
        "policies": {},
    }
    for policy in POLICIES + D_EVERY_STEPS:
        report["policies"][policy] = run(policy, size, args.warmup)
        print(json.dumps({policy: report["policies"][policy]["by_kind"]}),
              file=sys.stderr, flush=True)
    report["versions"] = versions()
    report["machine"] = machine(load_start)
    write_report(report, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

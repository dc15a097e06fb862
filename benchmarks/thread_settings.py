#!/usr/bin/env python
"""Benchmark: TensorFlow thread-pool sizes against the training step.

TensorFlow sizes its inter-op pool (independent ops at the same time) and
its intra-op pool (threads inside one op; oneDNN runs on it) from the core
count. This script times the `best` mode of `train_throughput.py`
(`mixed_bfloat16` + `jit_optimizer`, 256×256 batch 1 by default) under
several pool sizes, set with the `TF_NUM_INTEROP_THREADS` /
`TF_NUM_INTRAOP_THREADS` environment variables of each worker process
(0 = TensorFlow's default). Each setting runs in a fresh process, in
`--rounds` rounds of alternating order; the report takes the median over
rounds and gives each setting's speed relative to the defaults.

Usage:
    .venv/bin/python benchmarks/thread_settings.py           # ~5 min
    .venv/bin/python benchmarks/thread_settings.py --quick   # 64×64
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
RESULTS_DIR = os.path.join(HERE, "results")

# (inter-op threads, intra-op threads); 0 = TensorFlow's default.
SETTINGS = [(0, 0), (2, 2), (1, 2), (2, 1), (1, 1)]
FULL = dict(size=256, batch=1, steps=12, warmup=4, rounds=2)
QUICK = dict(size=64, batch=1, steps=3, warmup=1, rounds=1)


def run(mode, inter, intra, args):
    from train_throughput import spawn

    saved = {k: os.environ.get(k) for k in
             ("TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS")}
    os.environ["TF_NUM_INTEROP_THREADS"] = str(inter)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(intra)
    try:
        return spawn(mode, args.size, args.batch, args.steps, args.warmup)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main(argv=None):
    from _common import add_preset_flags
    from _common import machine
    from _common import resolve_args
    from _common import versions
    from _common import write_report

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_preset_flags(p, FULL, QUICK, "thread_settings")
    p.add_argument("--mode", default="best",
                   help="a train_throughput.py mode (default: best)")
    args = resolve_args(p, p.parse_args(argv), FULL, QUICK,
                        "thread_settings", RESULTS_DIR)
    load_start = os.getloadavg()
    runs = {s: [] for s in SETTINGS}
    for r in range(args.rounds):
        for inter, intra in (SETTINGS if r % 2 == 0 else SETTINGS[::-1]):
            res = run(args.mode, inter, intra, args)
            runs[(inter, intra)].append(res["median_s"])
            print(json.dumps({"inter_op": inter, "intra_op": intra, **res}),
                  file=sys.stderr, flush=True)
    default = statistics.median(runs[(0, 0)])
    rows = []
    for (inter, intra), times in runs.items():
        med = statistics.median(times)
        rows.append({"inter_op_threads": inter or "default",
                     "intra_op_threads": intra or "default",
                     "median_step_s": round(med, 4),
                     "per_round_s": [round(t, 4) for t in times],
                     "speed_vs_default": round(default / med, 3)})
    report = {
        "benchmark": "thread_settings",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "settings": {"mode": args.mode, "size": args.size,
                     "batch": args.batch, "steps": args.steps,
                     "warmup": args.warmup, "rounds": args.rounds},
        "rows": rows,
        "versions": versions(),
        "machine": machine(load_start),
    }
    write_report(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

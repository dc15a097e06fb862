#!/usr/bin/env python
"""Benchmark: training throughput of Pix2Pix modes against the classic loop.

Modes (same networks: default U-Net + 70×70 PatchGAN, batch norm, LSGAN +
100·L1, Adam(2e-4, 0.5) for each network, random data in a cached tf.data
pipeline):

  loop       the classic TensorFlow-tutorial `@tf.function` step with two
             GradientTapes (float32), from benchmarks/fit_vs_loop.py;
  fit        `Pix2Pix.compile()` at defaults, `fit()` (the defaults include
             `jit_optimizer="auto"`: the optimizer updates through XLA);
  fit_plain  `compile(jit_optimizer=False)`: no XLA anywhere;
  fit_xla    `compile(jit_compile=True)` (the whole step through XLA);
  fit_bf16   the `mixed_bfloat16` policy (bf16 compute, float32 weights,
             outputs and losses), `jit_optimizer=False`;
  best       the fastest combination found (see BEST below);
  fit_d2     defaults with `d_every=2` (256×256 batch 1 only), against fit.

Each (configuration, mode) runs in a fresh subprocess, so its peak RSS is
its own and the dtype policy of one does not leak into the next. A worker
builds the model, runs `--warmup` untimed steps, then times `--steps`
steps (per step: the interval between two synchronisation points, the
fetched losses of the loop or `on_train_batch_end` for fit) and reports
the median. Modes run in `--rounds` rounds in alternating order (forward,
then reverse), and the report takes the median over rounds, so the load of
a shared machine hits every mode alike. Ratios are against `loop` of the
same run.

Also: generator inference images/s (float32 and bf16), the measured
convolution peaks (float32, bf16) to express the achieved FLOP/s as a
fraction of the machine's ceiling, and, with `--quality-steps`, the val L1
on CMP facades of `fit` and `best` after the same steps from the same seed.

Usage:
    .venv/bin/python benchmarks/train_throughput.py            # ~30 min
    .venv/bin/python benchmarks/train_throughput.py --quick    # smoke test
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import rss_peak_mb  # noqa: E402
from _common import timed_result  # noqa: E402

RESULTS_DIR = os.path.join(HERE, "results")
DATA = os.path.join(HERE, "..", "..", "shared", "data", "cmp_facade_base")

# GFLOP of one 256×256 training image (estimate: G forward 12.1, D forward
# 6.4 ×2, backward ≈ 2× forward); scales with the pixel count.
GFLOP_PER_256_STEP = 75.0
# The fastest combination measured on this CPU (see docs/performance.md).
BEST = dict(policy="mixed_bfloat16", compile={"jit_optimizer": True})

FULL = dict(steps=8, warmup=4, rounds=2, quality_steps=0)
QUICK = dict(steps=2, warmup=1, rounds=1, quality_steps=0)
CONFIGS_FULL = [(256, 1), (256, 4), (128, 4)]
CONFIGS_QUICK = [(64, 1)]
MODES = ("loop", "fit", "fit_plain", "fit_xla", "fit_bf16", "best")
# Peak RSS against batch size: (image size, batches, modes).
RSS_FULL = (256, (1, 2, 4, 8), ("fit", "best"))
RSS_QUICK = (64, (1, 2), ("fit",))
# The targets, as ratios measured in the same run.
TARGETS = {
    "fit_over_loop": 1.0,  # fit at defaults vs the classic loop
    "best_over_loop": 2.5,  # best mode vs the classic float32 loop
    "d2_over_fit": 1.15,  # d_every=2 vs d_every=1
    "quality_l1_ratio": 1.05,  # best's val L1 / float32's, at most
    "rss_256_b1_mb": 3000,  # peak RSS of training at 256×256 batch 1
}
DOCS = os.path.join(HERE, "..", "docs", "performance.md")
BEGIN = "<!-- BEGIN train_throughput table (generated) -->"
END = "<!-- END train_throughput table -->"


def mode_settings(mode):
    """(dtype policy, compile kwargs) of a fit mode."""
    return {
        "fit": ("float32", {}),
        "fit_plain": ("float32", {"jit_optimizer": False}),
        "fit_xla": ("float32", {"jit_compile": True}),
        "fit_bf16": ("mixed_bfloat16", {"jit_optimizer": False}),
        "best": (BEST["policy"], dict(BEST["compile"])),
        "fit_d2": ("float32", {"d_every": 2}),
    }[mode]


# ----------------------------------------------------------------------
# worker (runs in a subprocess)


def worker(mode, size, batch, steps, warmup, seed=0):
    import keras
    import tensorflow as tf

    import pix2pix_keras as pk

    if mode == "peak":
        return conv_peaks()
    if mode.startswith("infer_"):
        policy = "mixed_bfloat16" if mode == "infer_bf16" else "float32"
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(seed)
        g = pk.UNetGenerator(image_size=size)
        x = tf.random.uniform((batch, size, size, 3), -1, 1)
        fn = tf.function(lambda x: g(x, training=False))
        for _ in range(warmup):
            fn(x).numpy()
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            fn(x).numpy()
            times.append(time.perf_counter() - t)
        return timed_result(times, batch, steps=False)

    from fit_vs_loop import ClassicLoop
    from fit_vs_loop import make_dataset

    data = make_dataset(size, batch, pairs=max(4, batch * 2), seed=seed)
    if mode == "loop":
        keras.utils.set_random_seed(seed)
        loop = ClassicLoop(
            pk.UNetGenerator(image_size=size),
            pk.PatchDiscriminator(image_size=size),
            data,
        )
        loop.run(warmup)
        times, _ = loop.run(steps)
    else:
        policy, kwargs = mode_settings(mode)
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(seed)
        model = pk.Pix2Pix(image_size=size)
        model.compile(**kwargs)
        from _common import StepTimer

        timer = StepTimer()
        model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0)
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer])
        times = timer.times
    return timed_result(times, batch)


def conv_peaks(repeats=10):
    """GFLOP/s of a large 3×3 convolution, float32 and bfloat16."""
    import tensorflow as tf

    out = {}
    for dtype in (tf.float32, tf.bfloat16):
        x = tf.cast(tf.random.uniform((4, 128, 128, 256)), dtype)
        k = tf.cast(tf.random.uniform((3, 3, 256, 256)), dtype)
        fn = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))
        fn(x, k).numpy()
        flops = 2 * 4 * 128 * 128 * 9 * 256 * 256
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(x, k).numpy()
            times.append(time.perf_counter() - t)
        out[dtype.name] = flops / statistics.median(times) / 1e9
    return {"conv_gflops": out, "rss_peak_mb": rss_peak_mb()}


# ----------------------------------------------------------------------
# quality check


def quality(mode, steps, size=256, seed=0, val_images=30):
    """Val L1 on CMP facades after `steps` steps of `mode` (subprocess)."""
    import keras
    import numpy as np

    import pix2pix_keras as pk

    policy, kwargs = mode_settings(mode)
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(seed)
    train = pk.load_paired_dataset(
        os.path.join(DATA, "train"),
        direction="BtoA",
        image_size=size,
        load_size=int(round(size * 286 / 256)),
        seed=seed,
    ).repeat()
    val = pk.load_paired_dataset(
        os.path.join(DATA, "val"),
        direction="BtoA",
        image_size=size,
        training=False,
        batch_size=1,
    ).take(val_images)
    model = pk.Pix2Pix(image_size=size)
    model.compile(**kwargs)
    model.fit(train, steps_per_epoch=steps, epochs=1, verbose=0)
    l1 = [
        float(np.mean(np.abs(model.predict(s, verbose=0) - t)))
        for s, t in val.as_numpy_iterator()
    ]
    return {"val_l1": float(np.mean(l1)), "steps": steps, "rss_peak_mb": rss_peak_mb()}


# ----------------------------------------------------------------------
# driver


def spawn(*args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def parse_args(argv=None):
    from _common import add_sweep_flags
    from _common import resolve_args

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    add_sweep_flags(p, FULL, QUICK, "train_throughput", MODES)
    p.add_argument(
        "--rss-batches",
        help="batch sizes of the RSS sweep, e.g. 1,2,4,8; 'none' skips it",
    )
    args = p.parse_args(argv)
    if args.render:
        return args
    if args.worker:
        return args
    return resolve_args(
        p,
        args,
        FULL,
        QUICK,
        "train_throughput",
        RESULTS_DIR,
        minimums={"quality_steps": 0},
    )


def step_summary(results, batch):
    """The median step time of a mode's rounds and its table row.

    Args:
        results: list of the rounds' worker results (`median_s`,
            `rss_peak_mb`).
        batch: int. The batch size.

    Returns:
        `(median_s, row)`: the median over rounds, and the row's
        `median_step_s`, `steps_per_s`, `images_per_s`, `rss_peak_mb` and
        `per_round_step_s`.
    """
    med = statistics.median(r["median_s"] for r in results)
    return med, {
        "median_step_s": round(med, 4),
        "steps_per_s": round(1 / med, 3),
        "images_per_s": round(batch / med, 3),
        "rss_peak_mb": round(max(r["rss_peak_mb"] for r in results)),
        "per_round_step_s": [round(r["median_s"], 4) for r in results],
    }


def _work(kind, *rest):
    """A worker's result: a quality run or a timed `kind` run."""
    if kind == "quality":
        return quality(rest[0], int(rest[1]), int(rest[2]))
    return worker(kind, *map(int, rest))


def main(argv=None):
    from _common import answer_early

    args = parse_args(argv)
    if answer_early(args, render_markdown, args.worker, _work):
        return 0

    from _common import machine
    from _common import sweep_report_head
    from _common import sweep_selection
    from _common import versions
    from _common import write_report

    load_start = os.getloadavg()
    modes, configs = sweep_selection(
        args, MODES + ("fit_d2",), CONFIGS_FULL, CONFIGS_QUICK
    )
    report = {
        **sweep_report_head(
            "train_throughput", args, best=BEST, gflop_per_256_step=GFLOP_PER_256_STEP
        ),
        "peaks": spawn("peak", 0, 0, 0, 0),
        "configs": {},
    }
    print(json.dumps(report["peaks"]), flush=True)
    for size, batch in configs:
        key = f"{size}x{size}_b{batch}"
        cfg_modes = list(modes)
        if (size, batch) == configs[0] and "fit_d2" not in cfg_modes:
            cfg_modes.append("fit_d2")
        runs = {m: [] for m in cfg_modes}
        for r in range(args.rounds):
            order = cfg_modes if r % 2 == 0 else cfg_modes[::-1]
            for mode in order:
                res = spawn(mode, size, batch, args.steps, args.warmup)
                runs[mode].append(res)
                print(json.dumps({key: {mode: res}}), flush=True)
        rows = {mode: step_summary(results, batch)[1] for mode, results in runs.items()}
        base = rows.get("loop", {}).get("median_step_s")
        for mode, row in rows.items():
            if base:
                row["speedup_vs_loop"] = round(base / row["median_step_s"], 3)
            gflop = GFLOP_PER_256_STEP * batch * (size / 256) ** 2
            row["gflops_achieved"] = round(gflop / row["median_step_s"], 1)
        if "fit_d2" in rows and "fit" in rows:
            rows["fit_d2"]["speedup_vs_fit"] = round(
                rows["fit"]["median_step_s"] / rows["fit_d2"]["median_step_s"], 3
            )
        infer = {}
        for pol in ("infer_f32", "infer_bf16"):
            res = spawn(pol, size, batch, max(args.steps * 2, 4), args.warmup)
            infer[pol] = {
                "images_per_s": round(res["images_per_s"], 2),
                "rss_peak_mb": round(res["rss_peak_mb"]),
            }
        report["configs"][key] = {"train": rows, "inference": infer}
    peaks = report["peaks"]["conv_gflops"]
    first = next(iter(report["configs"].values()))["train"]
    if "best" in first:
        achieved = first["best"]["gflops_achieved"]
        report["best_vs_peaks"] = {
            "gflops": achieved,
            "fraction_of_bf16_conv_peak": round(achieved / peaks["bfloat16"], 3),
            "fraction_of_f32_conv_peak": round(achieved / peaks["float32"], 3),
        }
    if args.quality_steps:
        size = 64 if args.quick else 256
        report["quality"] = {
            m: spawn("quality", m, args.quality_steps, size) for m in ("fit", "best")
        }
        q = report["quality"]
        report["quality"]["best_over_fit_l1"] = round(
            q["best"]["val_l1"] / q["fit"]["val_l1"], 4
        )
    rss_size, rss_batches, rss_modes = RSS_QUICK if args.quick else RSS_FULL
    if args.rss_batches:
        rss_batches = (
            ()
            if args.rss_batches == "none"
            else tuple(int(b) for b in args.rss_batches.split(","))
        )
    if rss_batches:
        sweep = {}
        for mode in rss_modes:
            sweep[mode] = {}
            for b in rss_batches:
                res = spawn(mode, rss_size, b, 2, 1)
                sweep[mode][str(b)] = round(res["rss_peak_mb"])
                print(json.dumps({"rss": {mode: {b: sweep[mode][str(b)]}}}), flush=True)
        report["rss_vs_batch"] = {"image_size": rss_size, "peak_rss_mb": sweep}
    report["targets"] = check_targets(report)
    report["versions"] = versions()
    report["machine"] = machine(load_start)
    write_report(report, args.output)
    if args.update_docs:
        update_docs(report)
    return 0


def check_targets(report):
    """Each target: the measured value and whether it passes.

    Works on any subset of modes and configurations: a target whose modes
    (or configuration, or quality run) were not measured is reported with
    `"measured": None`, `"pass": None` and `"not_measured"`, the reason.

    Args:
        report: dict, the result being built (`configs`, optional
            `quality`).

    Returns:
        dict: target name -> `{"target", "measured", "config", "pass"}`
        (plus `"not_measured"` when it could not be measured).
    """
    out = {}
    first_key = next(iter(report.get("configs", {})), None)
    rows = report["configs"][first_key]["train"] if first_key else {}

    def add(name, value, passed):
        out[name] = {
            "target": TARGETS[name],
            "measured": value,
            "config": first_key,
            "pass": bool(passed),
        }

    def missing(name, reason):
        out[name] = {
            "target": TARGETS[name],
            "measured": None,
            "config": first_key,
            "pass": None,
            "not_measured": reason,
        }

    def ratio(name, mode, key, base):
        value = rows.get(mode, {}).get(key)
        if value is None:
            absent = [m for m in (mode, base) if m not in rows]
            missing(
                name,
                f"needs modes {mode} and {base} at the first "
                f"configuration; {', '.join(absent) or 'the ratio'} "
                "not measured",
            )
        else:
            add(name, value, value >= TARGETS[name])

    ratio("fit_over_loop", "fit", "speedup_vs_loop", "loop")
    ratio("best_over_loop", "best", "speedup_vs_loop", "loop")
    ratio("d2_over_fit", "fit_d2", "speedup_vs_fit", "fit")
    quality = report.get("quality", {})
    if "best_over_fit_l1" in quality:
        v = quality["best_over_fit_l1"]
        add("quality_l1_ratio", v, v <= TARGETS["quality_l1_ratio"])
    else:
        missing("quality_l1_ratio", "needs --quality-steps > 0")
    if first_key == "256x256_b1" and "fit" in rows:
        v = rows["fit"]["rss_peak_mb"]
        add("rss_256_b1_mb", v, v < TARGETS["rss_256_b1_mb"])
    else:
        missing(
            "rss_256_b1_mb",
            "needs mode fit at 256x256 batch 1 as the first configuration",
        )
    return out


MODE_NAMES = {
    "loop": "classic `@tf.function` loop, float32",
    "fit": "`fit`, defaults",
    "fit_plain": "`fit`, `jit_optimizer=False`",
    "fit_xla": "`fit`, `jit_compile=True`",
    "fit_bf16": "`fit`, `mixed_bfloat16`",
    "best": "`fit`, `mixed_bfloat16` + `jit_optimizer=True` (best)",
    "fit_d2": "`fit`, defaults, `d_every=2`",
}


def _load(machine_info, key):
    value = machine_info.get(key)
    return f"{value[0]:.2f}" if value else "?"


def render_markdown(report):
    """The markdown tables of a result, as written into docs/performance.md."""
    m = report.get("machine", {})
    flags = m.get("cpu_flags", {})
    isa = ", ".join(k for k, v in flags.items() if v) or "unknown"
    peaks = report["peaks"]["conv_gflops"]
    lines = [
        f"Run of {report['date'][:10]} on {m.get('cpu_model', '?')} "
        f"({m.get('cpu_count', '?')} cores; {isa}), TensorFlow "
        f"{report.get('versions', {}).get('tensorflow', '?')}, Keras "
        f"{report.get('versions', {}).get('keras', '?')}; 1-minute load "
        f"average {_load(m, 'loadavg_start')} at the start, "
        f"{_load(m, 'loadavg_end')} at the end. "
        f"{report['settings']['rounds']} rounds × "
        f"{report['settings']['steps']} timed steps per mode (after "
        f"{report['settings']['warmup']} warm-up steps), each in its own "
        f"process; medians. Measured 3×3 convolution peaks: float32 "
        f"{peaks['float32']:.0f} GFLOP/s, bf16 {peaks['bfloat16']:.0f} "
        "GFLOP/s.",
        "",
        "| config | mode | step (s) | images/s | × classic loop "
        "| GFLOP/s | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, cfg in report["configs"].items():
        for mode, row in cfg["train"].items():
            speed = row.get("speedup_vs_loop")
            lines.append(
                f"| {key.replace('_b', ', batch ')} | {MODE_NAMES.get(mode, mode)} "
                f"| {row['median_step_s']:.3f} | {row['images_per_s']:.2f} "
                f"| {'' if speed is None else f'{speed:.2f}×'} "
                f"| {row['gflops_achieved']:.0f} | {row['rss_peak_mb']:,} |"
            )
    lines += [
        "",
        "Generator inference (`training=False`, images/s):",
        "",
        "| config | float32 | bf16 |",
        "|---|---|---|",
    ]
    for key, cfg in report["configs"].items():
        inf = cfg["inference"]
        lines.append(
            f"| {key.replace('_b', ', batch ')} "
            f"| {inf['infer_f32']['images_per_s']:.1f} "
            f"| {inf['infer_bf16']['images_per_s']:.1f} |"
        )
    if "rss_vs_batch" in report:
        sweep = report["rss_vs_batch"]
        batches = list(next(iter(sweep["peak_rss_mb"].values())))
        lines += [
            "",
            f"Peak RSS of training (MB) at "
            f"{sweep['image_size']}×{sweep['image_size']} against batch "
            "size:",
            "",
            "| mode | " + " | ".join(f"batch {b}" for b in batches) + " |",
            "|---|" + "---|" * len(batches),
        ]
        for mode, row in sweep["peak_rss_mb"].items():
            lines.append(
                f"| {MODE_NAMES.get(mode, mode)} | "
                + " | ".join(f"{row[b]:,}" for b in batches)
                + " |"
            )
    if "best_vs_peaks" in report:
        b = report["best_vs_peaks"]
        lines += [
            "",
            f"Best mode at the first config: {b['gflops']:.0f} "
            f"GFLOP/s = {b['fraction_of_bf16_conv_peak']:.0%} of the "
            f"bf16 conv peak, {b['fraction_of_f32_conv_peak']:.0%} of "
            "the float32 conv peak.",
        ]
    if "quality" in report:
        q = report["quality"]
        lines += [
            "",
            f"Quality after {q['fit']['steps']} steps on CMP "
            f"facades (val L1, [-1, 1]): float32 `fit` "
            f"{q['fit']['val_l1']:.4f}, best {q['best']['val_l1']:.4f} "
            f"(ratio {q['best_over_fit_l1']:.3f}).",
        ]
    if report.get("targets"):
        lines += ["", "| target | wanted | measured | pass |", "|---|---|---|---|"]
        for name, t in report["targets"].items():
            op = (
                "≤"
                if name == "quality_l1_ratio"
                else ("<" if name.startswith("rss") else "≥")
            )
            if t.get("measured") is None:
                lines.append(
                    f"| {name} | {op} {t['target']} | not measured "
                    f"({t.get('not_measured', '?')}) | – |"
                )
                continue
            lines.append(
                f"| {name} | {op} {t['target']} | {t['measured']} "
                f"| {'yes' if t['pass'] else '**no**'} |"
            )
    return "\n".join(lines)


def update_docs(report, path=DOCS, begin=BEGIN, end=END, render=None):
    """Replaces a generated block of docs/performance.md (atomically).

    Args:
        report: dict, the result JSON.
        path: str, the markdown file.
        begin, end: str, the markers around the generated block.
        render: callable turning `report` into markdown
            (default: this script's `render_markdown`).
    """
    from pix2pix_keras.utils import atomic_path

    render = render or render_markdown
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise ValueError(f"{path}: markers {begin!r} / {end!r} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{begin}\n{render(report)}\n{end}{tail}"
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(new)


if __name__ == "__main__":
    sys.exit(main())

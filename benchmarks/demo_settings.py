#!/usr/bin/env python
"""Benchmark: which demo settings give the best picture per minute?

`make demo` must finish in a few minutes on a 2-core CPU and still show
facades a person recognises. This script trains the default Pix2Pix
(label map → photo, LSGAN + 100·L1, Adam 2e-4 / β1 0.5, batch 1, constant
rate) for a fixed wall-clock budget under several settings, each in its own
process, and scores `predict` on held-out pairs every `--eval-every`
seconds of training (the clock stops while it scores):

- image size (64, 128, 256);
- speed mode: `float32`, or `bf16` = `mixed_bfloat16` with
  `jit_optimizer=True` (the fastest mode on CPUs with AVX-512-bf16/AMX);
- training data: `sample` = the 24 bundled pairs; `facadesN` = the first N
  train pairs of the CMP facades base set in `../shared/data` (what a
  larger bundled sample would give);
- optionally the batch size (`:b4`) and the base filters of both networks
  (`:f32`).

Scores: L1 / SSIM / PSNR of `predict` on the 37 val pairs of the CMP base
set (`cmp_val`; no training pair of any setting is among them) and on the 6
bundled val pairs (`sample_val`, the first 6 of those 37: the ones the demo
grid shows). A grid of the 6 bundled val pairs per
setting goes to `results/demo_settings/` for judging by eye.

Usage:
    .venv/bin/python benchmarks/demo_settings.py                # all settings
    .venv/bin/python benchmarks/demo_settings.py --configs 128:bf16:sample
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(REPO, "..", "shared", "data", "cmp_facade_base")
CONFIGS = (
    "64:float32:sample",
    "128:float32:sample",
    "128:bf16:sample",
    "256:bf16:sample",
    "128:bf16:facades120",
)


def _subset(n, root):
    """Links the first n train pairs of the CMP base set into `root`."""
    src = os.path.join(SHARED, "train")
    stems = sorted({f[:-4] for f in os.listdir(src) if f.endswith(".jpg")})
    if len(stems) < n:
        raise SystemExit(f"{src} has {len(stems)} pairs, fewer than {n}")
    os.makedirs(root, exist_ok=True)
    for stem in stems[:n]:
        for ext in (".jpg", ".png"):
            os.symlink(os.path.join(src, stem + ext), os.path.join(root, stem + ext))
    return root


def run_one(config, budget, eval_every, seed, grid_dir):
    """Trains one setting in this process; returns its curve."""
    import keras
    from _common import cpu_facts

    import pix2pix_keras as pk

    size, mode, data, *extra = config.split(":")
    size = int(size)
    options = {"b": 1, "f": 64}
    for item in extra:
        if item[:1] not in options or not item[1:].isdigit():
            raise SystemExit(f"unknown option {item!r} in {config!r}")
        options[item[0]] = int(item[1:])
    if mode == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    elif mode != "float32":
        raise SystemExit(f"unknown mode {mode!r} in {config!r}")
    keras.utils.set_random_seed(seed)
    tmp = tempfile.mkdtemp()
    try:
        if data == "sample":
            train_dir = pk.sample_data_dir("train")
        elif data.startswith("facades"):
            train_dir = _subset(int(data[len("facades") :]), tmp)
        else:
            raise SystemExit(f"unknown data {data!r} in {config!r}")
        common = dict(direction="BtoA", image_size=size)
        train = pk.load_paired_dataset(
            train_dir, training=True, seed=seed, batch_size=options["b"], **common
        )
        common["batch_size"] = 1
        vals = {
            "cmp_val": pk.load_paired_dataset(
                os.path.join(SHARED, "val"), training=False, **common
            ),
            "sample_val": pk.load_paired_dataset(
                pk.sample_data_dir("val"), training=False, **common
            ),
        }
        f = options["f"]
        model = pk.Pix2Pix(
            generator=pk.UNetGenerator(image_size=size, filters=f),
            discriminator=pk.PatchDiscriminator(image_size=size, filters=f),
            image_size=size,
        )
        model.compile(jit_optimizer=(mode == "bf16"))

        class Clock(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.train_seconds, self.steps, self.points = 0.0, 0, []
                self.next_eval = eval_every

            def on_train_batch_begin(self, batch, logs=None):
                self.t0 = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.train_seconds += time.perf_counter() - self.t0
                self.steps += 1
                done = self.train_seconds >= budget
                if self.train_seconds >= self.next_eval or done:
                    self.next_eval += eval_every
                    point = {
                        "seconds": round(self.train_seconds, 1),
                        "steps": self.steps,
                    }
                    for name, ds in vals.items():
                        report = pk.evaluate(model, ds)
                        for key in ("l1", "ssim", "psnr"):
                            point[f"{name}_{key}"] = round(report[key], 4)
                    print(config, point, flush=True)
                    self.points.append(point)
                if done:
                    self.model.stop_training = True

        clock = Clock()
        t0 = time.perf_counter()
        model.fit(
            train.repeat(),
            steps_per_epoch=100,
            epochs=10_000,
            callbacks=[clock],
            verbose=0,
        )
        wall = time.perf_counter() - t0
        os.makedirs(grid_dir, exist_ok=True)
        grid = pk.SampleGrid(vals["sample_val"].unbatch().batch(6), grid_dir, every=1)
        grid.set_model(model)
        grid.on_epoch_end(0)
        name = config.replace(":", "_") + ".png"
        shutil.move(
            os.path.join(grid_dir, "samples_latest.png"), os.path.join(grid_dir, name)
        )
        for f in os.listdir(grid_dir):
            if f.startswith("samples_epoch"):
                os.remove(os.path.join(grid_dir, f))
        return {
            "config": config,
            "image_size": size,
            "mode": mode,
            "data": data,
            "batch_size": options["b"],
            "filters": options["f"],
            "train_pairs": len(pk.find_pairs(train_dir)[1]),
            "budget_seconds": budget,
            "wall_seconds": round(wall, 1),
            "steps_per_second": round(clock.steps / clock.train_seconds, 3),
            "points": clock.points,
            "grid": f"demo_settings/{name}",
            **cpu_facts(),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def render(reports):
    """The markdown table of one or more result files (docs/performance.md)."""
    rows = [
        "| setting | steps/s | steps | held-out L1 (37) | SSIM (37) | "
        "L1 (the demo's 6) | SSIM (the demo's 6) |",
        "|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        for r in report["runs"]:
            last = r["points"][-1]
            name = (
                f"{r['image_size']}×{r['image_size']}, "
                f"{'bf16' if r['mode'] == 'bf16' else 'float32'}, "
                f"{r['train_pairs']} pairs"
            )
            if r.get("batch_size", 1) != 1:
                name += f", batch {r['batch_size']}"
            if r.get("filters", 64) != 64:
                name += f", {r['filters']} filters"
            rows.append(
                f"| {name} | {r['steps_per_second']:.2f} | {last['steps']} | "
                f"{last['cmp_val_l1']:.3f} | {last['cmp_val_ssim']:.3f} | "
                f"{last['sample_val_l1']:.3f} | "
                f"{last['sample_val_ssim']:.3f} |"
            )
    first = reports[0]
    m = first["machine"]
    flags = [k for k, v in m["cpu_flags"].items() if v]
    rows.append("")
    rows.append(
        f"{first['budget_seconds']:.0f} s of training per setting, seed "
        f"{first['seed']}, {m['cpu_model']} ({', '.join(flags)}), "
        f"{m['cpu_count']} cores; TensorFlow {first['versions']['tensorflow']}"
        f", Keras {first['versions']['keras']}."
    )
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help="SIZE:MODE:DATA[:bN][:fN],... (MODE float32|bf16, "
        "DATA sample|facadesN, bN batch size, fN base "
        "filters of both networks)",
    )
    p.add_argument(
        "--budget", type=float, default=180.0, help="training seconds per setting"
    )
    p.add_argument("--eval-every", type=float, default=45.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--output", default=os.path.join(HERE, "results", "demo_settings.json")
    )
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.output = os.path.abspath(args.output)  # the workers run in HERE
    grid_dir = os.path.join(os.path.dirname(args.output), "demo_settings")
    if args.one:
        result = run_one(args.one, args.budget, args.eval_every, args.seed, grid_dir)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    from _common import report_header
    from _common import write_report

    load_start = os.getloadavg()
    runs = []
    for config in args.configs.split(","):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                config,
                "--budget",
                str(args.budget),
                "--eval-every",
                str(args.eval_every),
                "--seed",
                str(args.seed),
                "--output",
                args.output,
            ],
            capture_output=True,
            text=True,
            cwd=HERE,
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if out.returncode or not lines:
            sys.stderr.write(out.stdout[-2000:] + out.stderr[-4000:])
            raise SystemExit(f"setting {config} failed")
        runs.append(json.loads(lines[-1][len("RESULT ") :]))
        print(config, runs[-1]["points"][-1], flush=True)
    report = {
        **report_header("demo_settings", load_start, "date"),
        "budget_seconds": args.budget,
        "seed": args.seed,
        "runs": runs,
    }
    write_report(report, args.output, echo=False)
    for r in runs:
        last = r["points"][-1]
        print(
            f"{r['config']:>22}  {r['steps_per_second']:6.2f} steps/s  "
            f"steps {last['steps']:5d}  cmp_val L1 {last['cmp_val_l1']:.4f} "
            f"SSIM {last['cmp_val_ssim']:.3f}  sample_val L1 "
            f"{last['sample_val_l1']:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark: what a real training run on CMP facades gives (docs/what_to_expect.md).

`--train` runs the page's `pix2pix train` command on the full CMP facades
base set (`../shared/data/cmp_facade_base`: 302 train / 37 val pairs,
label map → photo) into `--run-dir` (outside the repository: checkpoints
are large), timed with its CPU time; then (or with `--collect` alone, for
a run folder that exists) the run is scored with `pix2pix evaluate` on the
val pairs and summarised:

- `results/facades_long_run.json`: the command, wall and CPU time, the
  machine, the per-epoch curves of `metrics.csv` and the final scores;
- `docs/images/what_to_expect/`: the run's `training_curves.png` and the
  val grids of the first and the last epoch (JPEG).

Usage:
    .venv/bin/python benchmarks/facades_long_run.py --train --epochs 20
    .venv/bin/python benchmarks/facades_long_run.py --collect --run-dir DIR
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "cmp_facade_base"))
OUTPUT = os.path.join(HERE, "results", "facades_long_run.json")
IMAGES = os.path.join(REPO, "docs", "images", "what_to_expect")
CURVE_KEYS = ("g_lr", "g_l1", "val_g_l1", "val_psnr", "val_ssim", "val_fid_proxy")


def train_argv(epochs, run_dir):
    """The page's `pix2pix train` arguments."""
    from _common import facades_train_argv

    return facades_train_argv(
        DATA,
        run_dir,
        "--image-size",
        "128",
        "--epochs",
        str(epochs),
        "--mixed-precision",
        "auto",
        "--fid-every",
        "1",
        "--sample-every",
        "1",
        "--num-samples",
        "6",
    )


def shown(argv):
    """The command as the docs show it (data paths relative)."""
    data = os.path.abspath(DATA)
    return "pix2pix " + " ".join(
        a.replace(data, "cmp_facade_base")
        if a.startswith(data)
        else ("runs/facades_long" if os.path.isabs(a) else a)
        for a in argv
    )


def train(args):
    argv = train_argv(args.epochs, args.run_dir)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pix2pix_keras", *argv], check=True, cwd=REPO)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
    }


def collect(args, timing):
    from PIL import Image

    run = args.run_dir
    with open(os.path.join(run, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(run, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    curves = {k: [round(float(r[k]), 6) for r in rows] for k in CURVE_KEYS}
    scores = subprocess.run(
        [
            sys.executable,
            "-m",
            "pix2pix_keras",
            "evaluate",
            run,
            "--metrics",
            "l1",
            "psnr",
            "ssim",
            "fid",
            "--fid-network",
            "random_inception_v3",
            "--verbose",
            "0",
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(scores)
    os.makedirs(IMAGES, exist_ok=True)
    Image.open(os.path.join(run, "training_curves.png")).convert("RGB").save(
        os.path.join(IMAGES, "training_curves.png"), optimize=True
    )
    last = len(rows)
    for epoch, name in ((1, "val_epoch_first.jpg"), (last, "val_epoch_last.jpg")):
        grid = os.path.join(run, "samples", f"samples_epoch{epoch:04d}.png")
        Image.open(grid).convert("RGB").save(os.path.join(IMAGES, name), quality=88)
    sys.path.insert(0, HERE)
    from _common import report_header
    from _common import write_report

    argv = train_argv(config["epochs"], run)
    result = {
        **report_header("facades_long_run", os.getloadavg(), "date"),
        "command": shown(argv),
        "settings": {
            k: config[k]
            for k in (
                "image_size",
                "epochs",
                "batch_size",
                "lr",
                "lr_policy",
                "n_epochs",
                "n_epochs_decay",
                "mixed_precision",
                "seed",
                "fid_network",
            )
        },
        "steps": config["epochs"] * 302 // config["batch_size"],
        "timing": timing,
        "final": {k: round(float(report[k]), 4) for k in ("l1", "psnr", "ssim", "fid")},
        "num_val_images": int(report["num_images"]),
        "curves": curves,
    }
    write_report(result, args.output, echo=False)
    print(json.dumps({k: result[k] for k in ("command", "timing", "final")}, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--train",
        action="store_true",
        help="run the training first (about an hour here)",
    )
    p.add_argument(
        "--collect", action="store_true", help="only summarise an existing run folder"
    )
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument(
        "--run-dir",
        default=os.path.join(os.path.expanduser("~"), ".cache", "pix2pix_long_run"),
    )
    p.add_argument(
        "--timing",
        default=None,
        help='JSON of an earlier --train, e.g. \'{"wall_seconds": '
        '3947, "cpu_seconds": 3491}\' (with --collect)',
    )
    p.add_argument("--output", default=OUTPUT)
    args = p.parse_args()
    if args.train == args.collect:
        p.error("give one of --train or --collect")
    timing = train(args) if args.train else json.loads(args.timing or "{}")
    collect(args, timing)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark: which learning-rate policy should `pix2pix train` default to?

Trains CMP facades (label map → photo, `../shared/data/cmp_facade_base`:
302 train / 37 val pairs) with `pix2pix train` once per policy, for the
same number of epochs, each schedule scaled to the run the way it is laid
out over the paper's 200 epochs:

- `linear` (the PyTorch reference's): constant for the first half, then
  linear to 0 (`--n-epochs E/2 --n-epochs-decay E/2`);
- `halving` (halve every 10 of 200 epochs): every `round(E / 20)` epochs
  (at least 1);
- `constant`.

After training, `predict` is scored on the val pairs (L1 on [-1, 1],
PSNR, SSIM); the per-epoch validation curves come from each run's
`metrics.csv`. Run folders go to `--work-dir` (outside the repository: the
models are large); the JSON and each run's `training_curves.png` go to
`results/` (`lr_policies_runs/`). Resumable: a policy whose run finished is not trained again, so
two processes can share the queue (a `.running` marker claims a policy).

Usage:
    .venv/bin/python benchmarks/lr_policies.py --epochs 30
    .venv/bin/python benchmarks/lr_policies.py --render   # docs table only
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(REPO, "..", "shared", "data", "cmp_facade_base")
RESULTS = os.path.join(HERE, "results")
POLICIES = ("linear", "halving", "constant")
BEGIN, END = "<!-- lr_policies begin -->", "<!-- lr_policies end -->"


def policy_flags(policy, epochs):
    """The `pix2pix train` flags of `policy` scaled to `epochs`."""
    if policy == "linear":
        return [
            "--lr-policy",
            "linear",
            "--n-epochs",
            str(epochs - epochs // 2),
            "--n-epochs-decay",
            str(epochs // 2),
        ]
    if policy == "halving":
        return [
            "--lr-policy",
            "halving",
            "--lr-halving-every",
            str(max(1, round(epochs / 20))),
        ]
    if policy == "constant":
        return ["--lr-policy", "constant"]
    raise SystemExit(f"unknown policy {policy!r}; known: {POLICIES}")


def train_one(policy, args, runs):
    """Trains and scores one policy; returns its result dict."""
    run_dir = os.path.join(args.work_dir, policy)
    if os.path.exists(run_dir):
        shutil.rmtree(run_dir)
    from _common import facades_train_argv

    argv = facades_train_argv(
        DATA,
        run_dir,
        "--image-size",
        str(args.image_size),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--seed",
        str(args.seed),
        "--mixed-precision",
        args.mixed_precision,
        "--sample-every",
        "5",
        "--num-samples",
        "6",
        "--checkpoint-every",
        str(args.epochs),
        "--no-tensorboard",
    ) + policy_flags(policy, args.epochs)
    if args.steps_per_epoch:
        argv += ["--steps-per-epoch", str(args.steps_per_epoch)]
    env = dict(os.environ)
    if args.threads:
        env["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
        env["TF_NUM_INTEROP_THREADS"] = "1"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pix2pix_keras", *argv], check=True, env=env, cwd=REPO
    )
    seconds = time.perf_counter() - start

    import keras

    import pix2pix_keras as pk

    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    val = pk.load_paired_dataset(
        os.path.join(DATA, "val"),
        training=False,
        direction="BtoA",
        image_size=args.image_size,
    )
    report = pk.evaluate(model, val, metrics=("l1", "psnr", "ssim"))
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    curves = {
        key: [float(r[key]) for r in rows]
        for key in ("val_g_l1", "val_psnr", "val_ssim", "g_lr", "g_l1")
    }
    shutil.copy(
        os.path.join(run_dir, "training_curves.png"),
        os.path.join(runs, f"{policy}_curves.png"),
    )
    return {
        "policy": policy,
        "flags": policy_flags(policy, args.epochs),
        "command": "pix2pix "
        + " ".join(a.replace(os.path.abspath(DATA), "cmp_facade_base") for a in argv),
        "train_seconds": round(seconds, 1),
        "val": {k: round(float(report[k]), 4) for k in ("l1", "psnr", "ssim")},
        "curves": curves,
    }


def render(report):
    """The markdown table of a result file (docs/training_tips.md)."""
    s = report["settings"]
    rows = [
        "| policy | flags | val L1 | val PSNR | val SSIM | last learning "
        "rate | best epoch by val L1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        best = min(
            range(len(r["curves"]["val_g_l1"])), key=r["curves"]["val_g_l1"].__getitem__
        )
        rows.append(
            f"| `{r['policy']}` | `{' '.join(r['flags'])}` | "
            f"{r['val']['l1']:.4f} | {r['val']['psnr']:.2f} | "
            f"{r['val']['ssim']:.4f} | {r['curves']['g_lr'][-1]:.2g} | "
            f"{best + 1} |"
        )
    m = report["machine"]
    rows += [
        "",
        f"{s['epochs']} epochs of the 302 training pairs at "
        f"{s['image_size']}×{s['image_size']}, batch {s['batch_size']}, "
        f"`--mixed-precision {s['mixed_precision']}`, seed {s['seed']}; "
        f"scores of `predict` on the 37 val pairs. {m['cpu_model']}, "
        f"{m['cpu_count']} cores.",
    ]
    return "\n".join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--policies", default=",".join(POLICIES))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--mixed-precision", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow threads per run (0: all cores)",
    )
    p.add_argument(
        "--work-dir",
        default=os.path.join(os.path.expanduser("~"), ".cache", "pix2pix_lr_policies"),
    )
    p.add_argument("--output", default=os.path.join(RESULTS, "lr_policies.json"))
    p.add_argument(
        "--steps-per-epoch",
        type=int,
        default=None,
        help="for a smoke run only (default: one pass)",
    )
    p.add_argument(
        "--render",
        action="store_true",
        help="print the docs table of --output and exit",
    )
    args = p.parse_args()
    if args.render:
        with open(args.output) as f:
            print(render(json.load(f)))
        return 0
    if args.epochs < 30:
        p.error("--epochs must be >= 30 (the schedules must differ)")
    sys.path.insert(0, HERE)
    from _common import read_reports
    from _common import report_header
    from _common import write_report

    load_start = os.getloadavg()
    args.output = os.path.abspath(args.output)
    runs_dir = os.path.splitext(args.output)[0] + "_runs"
    os.makedirs(runs_dir, exist_ok=True)
    for policy in args.policies.split(","):
        done = os.path.join(runs_dir, f"{policy}.json")
        claim = done + ".running"
        if os.path.exists(done) or os.path.exists(claim):
            continue
        open(claim, "w").close()
        try:
            result = train_one(policy, args, runs_dir)
            write_report(result, done, echo=False)
        finally:
            os.remove(claim)
    runs = read_reports(
        [
            (
                os.path.join(runs_dir, f"{policy}.json"),
                f"{policy}: not finished (another process runs it?)",
            )
            for policy in args.policies.split(",")
        ]
    )
    if runs is None:
        return 0
    report = {
        **report_header("lr_policies", load_start, "date"),
        "settings": {
            "epochs": args.epochs,
            "image_size": args.image_size,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "mixed_precision": args.mixed_precision,
        },
        "runs": runs,
    }
    write_report(report, args.output, echo=False)
    print(render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

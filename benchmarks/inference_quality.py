#!/usr/bin/env python
"""Benchmark: is `predict()` as good as the paper's training-mode inference?

Trains Pix2Pix on the real CMP facades pairs in ../shared/data (label map ->
photo, `direction="BtoA"`) for a fixed number of steps at 128×128, batch 1,
and scores the translations of the val split (centre crops, no jitter):

  predict            `model.predict(x)`: moving batch-norm statistics,
                     dropout off (the package's default inference);
  export             the SavedModel from `model.export()`, `serve(x)`;
  train_mode         `generator(x, training=True)` one image at a time:
                     batch statistics and dropout, as the paper tests;
  train_mode_no_dropout  batch statistics, dropout off (diagnostic);
  predict_dropout    `predict()` with `inference_dropout=True` (dropout as
                     noise, moving statistics).

L1 (mean absolute error in [-1, 1]), PSNR and SSIM (`max_val=2`) are means
over the val images. The target: `predict` and `export` are within 2 % of
the better of `predict` and `train_mode` (L1 and SSIM).

Each configuration in `--configs` is trained from the same seed:

  default   the package default (`Pix2Pix.from_preset("unet_128")`: batch
            norm with momentum 0.9, innermost block not normalized);
  classic   the classic TensorFlow-tutorial generator (batch-norm momentum
            0.99, innermost block normalized);
  instance  instance norm (`norm="instance"`) in G and D.

Usage:
    .venv/bin/python benchmarks/inference_quality.py            # ~25 min
    .venv/bin/python benchmarks/inference_quality.py --quick    # smoke test
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import pix2pix_keras as pk  # noqa: E402
from _common import machine  # noqa: E402
from _common import resolve_args  # noqa: E402
from _common import versions  # noqa: E402
from _common import write_report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
DATA = os.path.join(HERE, "..", "..", "shared", "data", "cmp_facade_base")
TARGET_GAP = 0.02

FULL = dict(steps=2000, size=128, val_images=100)
QUICK = dict(steps=20, size=64, val_images=8)
CONFIGS = ("default", "classic", "instance")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Inference-mode quality of Pix2Pix on CMP facades."
    )
    p.add_argument("--steps", type=int, help="training steps (batch 1)")
    p.add_argument("--size", type=int, help="image side")
    p.add_argument("--val-images", type=int, help="val images scored")
    p.add_argument(
        "--configs", default="default,classic",
        help=f"comma-separated, among {CONFIGS}",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=DATA, help="CMP facades folder")
    p.add_argument("--quick", action="store_true", help="smoke test")
    p.add_argument("--output", help="JSON path")
    args = p.parse_args(argv)
    args = resolve_args(p, args, FULL, QUICK, "inference_quality",
                        RESULTS_DIR)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in args.configs:
        if c not in CONFIGS:
            p.error(f"--configs: unknown {c!r}; choose among {CONFIGS}")
    return args


def build_model(config, size):
    if config == "default":
        return pk.Pix2Pix.from_preset("unet_128", image_size=size)
    if config == "classic":
        g = pk.UNetGenerator(image_size=size, bn_momentum=0.99,
                             normalize_innermost=True)
        return pk.Pix2Pix(generator=g, image_size=size)
    g = pk.UNetGenerator(image_size=size, norm="instance")
    d = pk.PatchDiscriminator(image_size=size, norm="instance")
    return pk.Pix2Pix(generator=g, discriminator=d, image_size=size)


def score(fake, target):
    """Per-image mean L1, PSNR and SSIM (inputs in [-1, 1])."""
    fake = np.clip(np.asarray(fake, "float32"), -1, 1)
    target = np.asarray(target, "float32")
    l1 = np.mean(np.abs(fake - target), axis=(1, 2, 3))
    psnr = pk.PSNR()
    ssim = pk.SSIM()
    psnr.update_state(target, fake)
    ssim.update_state(target, fake)
    return {
        "l1": float(np.mean(l1)),
        "psnr": float(psnr.result()),
        "ssim": float(ssim.result()),
    }


def run_config(config, args, train, sources, targets):
    keras.utils.set_random_seed(args.seed)
    model = build_model(config, args.size)
    model.compile()
    start = time.perf_counter()
    history = model.fit(train, epochs=10, steps_per_epoch=args.steps // 10,
                        verbose=2)
    train_s = time.perf_counter() - start
    results = {}
    results["predict"] = score(model.predict(sources, batch_size=8,
                                             verbose=0), targets)
    with tempfile.TemporaryDirectory() as tmp:
        served = tf.saved_model.load(model.export(os.path.join(tmp, "g")))
        out = np.concatenate([served.serve(sources[i:i + 8]).numpy()
                              for i in range(0, len(sources), 8)])
        results["export"] = score(out, targets)
    weights = model.generator.get_weights()  # training=True moves BN stats
    g = model.generator
    out = np.concatenate([g(sources[i:i + 1], training=True).numpy()
                          for i in range(len(sources))])
    results["train_mode"] = score(out, targets)
    g.set_weights(weights)
    drops = [layer for layer in g._flatten_layers()
             if isinstance(layer, keras.layers.Dropout)]
    rates = [layer.rate for layer in drops]
    for layer in drops:
        layer.rate = 0.0
    out = np.concatenate([g(sources[i:i + 1], training=True).numpy()
                          for i in range(len(sources))])
    results["train_mode_no_dropout"] = score(out, targets)
    for layer, rate in zip(drops, rates):
        layer.rate = rate
    g.set_weights(weights)
    model.inference_dropout = True
    results["predict_dropout"] = score(model.predict(sources, batch_size=8,
                                                     verbose=0), targets)
    model.inference_dropout = False
    best = {
        "l1": min(results["predict"]["l1"], results["train_mode"]["l1"]),
        "ssim": max(results["predict"]["ssim"], results["train_mode"]["ssim"]),
    }
    gaps = {}
    for mode in ("predict", "export"):
        gaps[mode] = {
            "l1": results[mode]["l1"] / best["l1"] - 1.0,
            "ssim": 1.0 - results[mode]["ssim"] / best["ssim"],
        }
    ok = all(v <= TARGET_GAP + 1e-9 for g_ in gaps.values()
             for v in g_.values())
    return {
        "train_seconds": round(train_s, 1),
        "final_train_logs": {k: float(v[-1])
                             for k, v in history.history.items()},
        "modes": results,
        "gap_to_better_mode": gaps,
        "pass": ok,
    }


def main(argv=None):
    args = parse_args(argv)
    load_start = os.getloadavg()
    keras.utils.set_random_seed(args.seed)
    load = int(round(args.size * 286 / 256))
    train = pk.load_paired_dataset(
        os.path.join(args.data, "train"), direction="BtoA",
        image_size=args.size, load_size=load, seed=args.seed,
    ).repeat()
    val = pk.load_paired_dataset(
        os.path.join(args.data, "val"), direction="BtoA",
        image_size=args.size, training=False, batch_size=1,
    ).take(args.val_images)
    pairs = list(val.as_numpy_iterator())
    sources = np.concatenate([s for s, _ in pairs])
    targets = np.concatenate([t for _, t in pairs])
    report = {
        "benchmark": "inference_quality",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "task": "CMP facades label map -> photo (BtoA)",
        "settings": {"steps": args.steps, "size": args.size, "batch": 1,
                     "val_images": len(sources), "seed": args.seed,
                     "target_gap": TARGET_GAP},
        "configs": {},
    }
    for config in args.configs:
        report["configs"][config] = run_config(config, args, train, sources,
                                               targets)
        print(json.dumps({config: report["configs"][config]["modes"]}),
              flush=True)
    report["pass"] = report["configs"].get("default", {}).get("pass")
    report["versions"] = versions()
    report["machine"] = machine(load_start)
    write_report(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark: training-step time of each generator and discriminator variant.

Every variant is trained through `Pix2Pix.fit` (defaults: LSGAN + 100·L1,
two Adam optimizers) on random pairs at `--size` (256 by default), batch 1.
Generator variants are paired with the default 70×70 PatchGAN and
discriminator variants with the default U-Net, so each row changes one
network. A callback times every step (`on_train_batch_end`, which makes
Keras wait for the step's logs); the median over the timed steps after
warm-up is reported with the parameter counts. Variants run one after
another (one model in memory at a time), in two passes (the second in
reverse order); the report takes the median of the two per-pass medians
and the step time relative to the default pair (U-Net + 70×70 PatchGAN).

Usage:
    .venv/bin/python benchmarks/variants.py            # ~10 min at 256
    .venv/bin/python benchmarks/variants.py --quick    # smoke test at 64
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _common import StepTimer  # noqa: E402
from _common import add_preset_flags  # noqa: E402
from _common import machine  # noqa: E402
from _common import resolve_args  # noqa: E402
from _common import versions  # noqa: E402
from _common import write_report  # noqa: E402

import pix2pix_keras as pk  # noqa: E402
from pix2pix_keras.models.discriminator import MultiScaleDiscriminator  # noqa: E402,E501
from pix2pix_keras.models.discriminator import PixelDiscriminator  # noqa: E402
from pix2pix_keras.models.resnet import ResnetGenerator  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
FULL = dict(size=256, steps=4, rounds=3, warmup=3)
QUICK = dict(size=64, steps=2, rounds=1, warmup=1)


def generators(size):
    return {
        "unet_batch": lambda: pk.UNetGenerator(image_size=size),
        "unet_instance": lambda: pk.UNetGenerator(image_size=size, norm="instance"),
        "unet_attention": lambda: pk.UNetGenerator(image_size=size, attention=True),
        "unet_residual": lambda: pk.UNetGenerator(image_size=size, residual_blocks=1),
        "resnet_6": lambda: ResnetGenerator(image_size=size, n_blocks=6),
        "resnet_9": lambda: ResnetGenerator(image_size=size, n_blocks=9),
    }


def discriminators(size):
    d = {
        f"patch_n{n}": (lambda n=n: pk.PatchDiscriminator(image_size=size, n_layers=n))
        for n in (1, 2, 3, 4, 5)
        if size > 2 ** (n + 1)
    }
    d["patch_n3_spectral"] = lambda: pk.PatchDiscriminator(
        image_size=size, spectral_norm=True
    )
    d["pixel"] = lambda: PixelDiscriminator(image_size=size)
    for scales in (2, 3):
        # The coarsest scale must see more than 2 ** (n_layers + 1) pixels.
        if size // 2 ** (scales - 1) > 16:
            d[f"multiscale_{scales}"] = lambda s=scales: MultiScaleDiscriminator(
                image_size=size, num_scales=s
            )
    return d


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_preset_flags(p, FULL, QUICK, "variants")
    p.add_argument("--only", help="comma-separated variant names")
    args = p.parse_args(argv)
    return resolve_args(
        p, args, FULL, QUICK, "variants", RESULTS_DIR, minimums={"warmup": 0}
    )


def main(argv=None):
    args = parse_args(argv)
    load_start = os.getloadavg()
    rng = np.random.default_rng(0)
    shape = (1, args.size, args.size, 3)
    data = tf.data.Dataset.from_tensors(
        (
            rng.uniform(-1, 1, shape).astype("float32"),
            rng.uniform(-1, 1, shape).astype("float32"),
        )
    ).repeat()
    variants = {}
    for name, make in generators(args.size).items():
        variants[f"G:{name}"] = (
            make,
            lambda: pk.PatchDiscriminator(image_size=args.size),
        )
    for name, make in discriminators(args.size).items():
        variants[f"D:{name}"] = (lambda: pk.UNetGenerator(image_size=args.size), make)
    if args.only:
        keep = {v.strip() for v in args.only.split(",")}
        variants = {
            k: v for k, v in variants.items() if k in keep or k.split(":")[1] in keep
        }
    # Two passes, the second in reverse order, so a change of the machine's
    # load between early and late variants evens out; the baseline runs
    # first and last in each pass, and its spread shows the drift.
    names = list(variants)
    samples = {name: [] for name in names}
    params = {}
    for order in (names, names[::-1]):
        for name in order:
            make_g, make_d = variants[name]
            keras.utils.set_random_seed(0)
            model = pk.Pix2Pix(
                generator=make_g(), discriminator=make_d(), image_size=args.size
            )
            model.compile()
            model.fit(data, steps_per_epoch=max(args.warmup, 1), epochs=1, verbose=0)
            timer = StepTimer()
            for _ in range(args.rounds):
                model.fit(
                    data,
                    steps_per_epoch=args.steps,
                    epochs=1,
                    verbose=0,
                    callbacks=[timer],
                )
            samples[name].append(statistics.median(timer.times))
            params[name] = (
                model.generator.count_params(),
                model.discriminator.count_params(),
            )
            print(json.dumps({name: round(samples[name][-1], 4)}), flush=True)
            del model
            keras.backend.clear_session()
    rows = {}
    base = statistics.median(samples[names[0]])
    for name in names:
        med = statistics.median(samples[name])
        rows[name] = {
            "median_step_s": round(med, 4),
            "steps_per_s": round(1 / med, 3),
            "relative_to_default": round(med / base, 3),
            "per_pass_step_s": [round(t, 4) for t in samples[name]],
            "generator_params": params[name][0],
            "discriminator_params": params[name][1],
        }
    report = {
        "benchmark": "variants",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "settings": {k: getattr(args, k) for k in FULL},
        "rows": rows,
        "versions": versions(),
        "machine": machine(load_start),
    }
    write_report(report, args.output, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

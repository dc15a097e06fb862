"""`pix2pix demo`: train briefly on the bundled facades sample.

The demo is an ordinary `pix2pix train` run on the 24 bundled CMP facade
pairs (label map → photo), with settings chosen to give the best picture a
2-core CPU can make in about four minutes: 128×128, 20 epochs (480 steps at
batch size 1), the default linear learning-rate decay, bfloat16 compute
where the CPU supports it. It writes the usual run folder to `--output`
(default `runs/demo`: `config.json`, `metrics.csv`, `training_curves.png`,
`samples/`, `checkpoints/`, `tensorboard/`, `model.keras`) and
`metrics.json`: the exact command, the settings, the CPU, the time and the
scores of `predict` on the 6 held-out bundled pairs.
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import time

__all__ = [
    "DEMO_SETTINGS",
    "DESCRIPTION",
    "FAST_SETTINGS",
    "METRICS_FILE",
    "add_arguments",
    "build_parser",
    "main",
    "report",
    "run",
    "train_argv",
]

#: The settings of `pix2pix demo` (flags of `pix2pix train`).
DEMO_SETTINGS = {
    "direction": "BtoA",
    "image_size": 128,
    "epochs": 20,
    "batch_size": 1,
    "mixed_precision": "auto",
    "num_samples": 6,
    "sample_every": 5,
    "checkpoint_every": 20,
    "seed": 0,
}
#: `--fast`: a smoke run for tests (64×64, one epoch, float32).
FAST_SETTINGS = {
    "image_size": 64,
    "epochs": 1,
    "sample_every": 1,
    "checkpoint_every": 1,
    "mixed_precision": "off",
}
METRICS_FILE = "metrics.json"


def add_arguments(p):
    """The demo's flags, on `p` (an `argparse` parser)."""
    p.add_argument(
        "--output",
        default=os.path.join("runs", "demo"),
        help="run folder (default runs/demo); an earlier demo there is replaced",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=DEMO_SETTINGS["seed"],
        help="seed of the weights, shuffling and augmentation",
    )
    p.add_argument(
        "--fast", action="store_true", help="a smoke run: 64×64, one epoch, float32"
    )
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="Keras progress output (default 2: a line per epoch)",
    )
    return p


DESCRIPTION = (
    "Train Pix2Pix for a few minutes on the bundled CMP facades "
    "sample (label map -> photo): a `pix2pix train` run folder "
    "plus metrics.json."
)


def build_parser(prog="pix2pix demo"):
    return add_arguments(argparse.ArgumentParser(prog=prog, description=DESCRIPTION))


def train_argv(output, seed=0, fast=False):
    """The `pix2pix train` arguments of the demo.

    Args:
        output: str. The run folder.
        seed: int. Defaults to `0`.
        fast: bool. The smoke-test settings. Defaults to `False`.

    Returns:
        list of str, without the leading `"train"`.
    """
    from pix2pix_keras import cli
    from pix2pix_keras.data import sample_data_dir

    settings = {**DEMO_SETTINGS, **(FAST_SETTINGS if fast else {}), "seed": seed}
    argv = [
        "--data",
        sample_data_dir("train"),
        "--val",
        sample_data_dir("val"),
        "--output",
        output,
    ]
    for key, value in settings.items():
        argv += [cli.OPTIONS[key].flag, str(value)]
    return argv


def _clear_previous_demo(output):
    """Removes an earlier demo's run folder; refuses any other folder."""
    if not os.path.exists(output):
        return
    if os.path.isfile(os.path.join(output, METRICS_FILE)):
        try:
            with open(os.path.join(output, METRICS_FILE)) as f:
                earlier = json.load(f).get("demo") is True
        except (OSError, ValueError, AttributeError):
            earlier = False
        if earlier:
            shutil.rmtree(output)
            return
    if os.listdir(output):
        raise SystemExit(
            f"pix2pix demo: {output} exists and does not hold an earlier "
            "demo; choose another --output"
        )


def run(output=os.path.join("runs", "demo"), seed=0, fast=False, verbose=2):
    """Trains on the bundled sample with `pix2pix train` and scores it.

    Args:
        output: str. The run folder. Defaults to `"runs/demo"`.
        seed: int. Defaults to `0`.
        fast: bool. 64×64, one epoch, float32 (for tests). Defaults to
            `False`.
        verbose: int. Keras progress output. Defaults to `2`.

    Returns:
        dict: the contents of `metrics.json`.
    """
    from pix2pix_keras import cli
    from pix2pix_keras import runs

    _clear_previous_demo(output)
    argv = train_argv(output, seed=seed, fast=fast)
    start = time.perf_counter()
    status = cli.main(["train", *argv, "--verbose", str(verbose)])
    train_seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(status)

    import keras

    import pix2pix_keras as pk
    from pix2pix_keras.utils import atomic_path
    from pix2pix_keras.utils import cpu_info

    with open(os.path.join(output, runs.CONFIG_FILE)) as f:
        config = json.load(f)
    model = keras.saving.load_model(os.path.join(output, runs.MODEL_FILE))
    val = pk.load_paired_dataset(
        pk.sample_data_dir("val"),
        training=False,
        direction=config["direction"],
        image_size=config["image_size"],
    )
    report = pk.evaluate(model, val, metrics=("l1", "psnr", "ssim"))
    shown = [
        a.replace(pk.sample_data_dir("train"), "<sample>/train").replace(
            pk.sample_data_dir("val"), "<sample>/val"
        )
        for a in argv
    ]
    metrics = {
        "demo": True,
        "command": "pix2pix train " + shlex.join(shown),
        "settings": {k: config[k] for k in DEMO_SETTINGS},
        "train_pairs": len(pk.find_pairs(config["data"])[1]),
        "val_pairs": len(pk.find_pairs(config["val"])[1]),
        "train_steps": int(model.g_optimizer.iterations),
        "compute_dtype": model.generator.dtype_policy.compute_dtype,
        "seconds": round(train_seconds, 1),
        "val": {k: round(float(report[k]), 4) for k in ("l1", "psnr", "ssim")},
        "machine": {
            "cpu": cpu_info().model,
            "bf16_cpu": cli.cpu_has_bf16(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "pix2pix_keras": pk.__version__,
        },
    }
    with atomic_path(os.path.join(output, METRICS_FILE), suffix=".json") as t:
        with open(t, "w") as f:
            json.dump(metrics, f, indent=2)
    return metrics


def report(args):
    """Runs the demo of parsed `args` and prints where its outputs are."""
    metrics = run(
        output=args.output, seed=args.seed, fast=args.fast, verbose=args.verbose
    )
    val = metrics["val"]
    out = args.output
    print(
        f"\nTrained {metrics['train_steps']} steps in "
        f"{metrics['seconds']:.0f} s ({metrics['compute_dtype']} compute). "
        f"On the {metrics['val_pairs']} held-out pairs: L1 {val['l1']:.3f}, "
        f"PSNR {val['psnr']:.1f} dB, SSIM {val['ssim']:.3f}.\n"
        f"  grid:    {os.path.join(out, 'samples', 'samples_latest.png')}\n"
        f"  curves:  {os.path.join(out, 'training_curves.png')}\n"
        f"  metrics: {os.path.join(out, METRICS_FILE)}\n"
        f"  model:   {os.path.join(out, 'model.keras')}"
    )
    return 0


def main(argv=None, prog="pix2pix demo"):
    return report(build_parser(prog).parse_args(argv))


if __name__ == "__main__":
    sys.exit(main(prog="python -m pix2pix_keras.demo"))

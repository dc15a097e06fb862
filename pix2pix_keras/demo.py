"""`python -m pix2pix_keras.demo`: train briefly on the bundled facades sample.

Trains the classic label-map → photo Pix2Pix on the 24 bundled CMP facade
pairs, then writes to `--output` (default `runs/demo`):

- `samples_latest.png` (and one grid per epoch): input | generated | target
  rows of the 6 held-out pairs;
- `metrics.json`: the per-epoch training history, the final validation
  losses, the timing;
- `model.keras`: the trained model (both networks and optimizers).
"""

import argparse
import json
import os
import sys
import time


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m pix2pix_keras.demo",
        description="Train Pix2Pix briefly on the bundled CMP facades sample "
        "(label map -> photo) and write a grid, metrics and the model.",
    )
    p.add_argument("--output", default="runs/demo", help="output folder")
    p.add_argument("--epochs", type=int, default=8, help="training epochs")
    p.add_argument(
        "--image-size", type=int, default=256, help="training resolution"
    )
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--fast",
        action="store_true",
        help="tiny settings (64×64, 1 epoch) for smoke tests",
    )
    return p


def run(output="runs/demo", epochs=8, image_size=256, batch_size=1, seed=0,
        fast=False):
    """Trains on the bundled sample and writes the demo outputs.

    Args:
        output: str. Output folder. Defaults to `"runs/demo"`.
        epochs: int. Training epochs. Defaults to `8`.
        image_size: int. Training resolution. Defaults to `256`.
        batch_size: int. Defaults to `1` (as in the paper).
        seed: int. Seeds weights, shuffling and jitter. Defaults to `0`.
        fast: bool. 64×64 and one epoch, for tests. Defaults to `False`.

    Returns:
        dict with the paths written and the final metrics.
    """
    import keras

    import pix2pix_keras as pk

    if fast:
        image_size, epochs = 64, 1
    keras.utils.set_random_seed(seed)
    # The sample pairs are photo (A, .jpg) + label map (B, .png).
    common = dict(direction="BtoA", image_size=image_size, batch_size=batch_size)
    # load_size defaults to image_size * 286 / 256 (286 at 256).
    train = pk.load_paired_dataset(
        pk.sample_data_dir("train"), training=True, seed=seed, **common)
    val = pk.load_paired_dataset(
        pk.sample_data_dir("val"), training=False, **common)
    model = pk.Pix2Pix.from_preset("untrained_unet_256", image_size=image_size)
    model.compile()
    os.makedirs(output, exist_ok=True)
    grid = pk.SampleGrid(val.unbatch().batch(6), output, every=1)
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=epochs,
        validation_data=val,
        callbacks=[pk.LearningRateHalving(every=10), grid],
        verbose=2,
    )
    seconds = time.perf_counter() - start
    steps = epochs * int(train.cardinality())
    model_path = os.path.join(output, "model.keras")
    model.save(model_path)
    metrics = {
        "task": "CMP facades sample, label map -> photo",
        "image_size": image_size,
        "epochs": epochs,
        "train_pairs": len(pk.find_pairs(pk.sample_data_dir("train"))[1]),
        "train_steps": steps,
        "train_seconds": round(seconds, 2),
        "steps_per_second": round(steps / seconds, 3),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "final": {k: float(vs[-1]) for k, vs in history.history.items()},
    }
    metrics_path = os.path.join(output, "metrics.json")
    from pix2pix_keras.utils import atomic_path

    with atomic_path(metrics_path) as tmp:
        with open(tmp, "w") as f:
            json.dump(metrics, f, indent=2)
    grid_path = os.path.join(output, "samples_latest.png")
    return {"grid": grid_path, "metrics": metrics_path, "model": model_path,
            "final": metrics["final"], "seconds": seconds}


def main(argv=None):
    args = build_parser().parse_args(argv)
    result = run(output=args.output, epochs=args.epochs,
                 image_size=args.image_size, batch_size=args.batch_size,
                 seed=args.seed, fast=args.fast)
    final = result["final"]
    print(
        f"\nTrained in {result['seconds']:.0f} s. Validation L1 "
        f"{final.get('val_g_l1', float('nan')):.3f} (pixel range [-1, 1]).\n"
        f"  grid:    {os.path.abspath(result['grid'])}\n"
        f"  metrics: {os.path.abspath(result['metrics'])}\n"
        f"  model:   {os.path.abspath(result['model'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

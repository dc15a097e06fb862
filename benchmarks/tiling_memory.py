#!/usr/bin/env python
"""Benchmark: peak memory and time of tiled against full-image inference.

Translates one random image of each size with `pk.translate_tiled` (tiles
of the generator's training size, a quarter overlap, cosine blending) and,
for comparison, with one full-image call of the same generator rebuilt at
the image's size (same weights; a `ResnetGenerator` is fully
convolutional). Every (mode, size) runs in its own subprocess, so its peak
resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) is its
own: `rss_after_build_mb` is the peak after importing TensorFlow, building
the network and making the input; `peak_rss_mb` the peak at the end; the
difference is what the translation needed. Each translation runs twice:
`first_s` includes tracing, `time_s` is the second (steady) run.

Defaults: `ResnetGenerator()` at 256×256 (9 blocks, 11.4 M parameters),
images 512², 1024² and 2048×1536, tiles of 256 overlapping by 64, 4 tiles
per call. `--quick`: an 8-filter, 2-block ResNet at 64×64 and images 128²,
256² and 512×384, written to `results/tiling_memory_quick.json`.

Usage:
    .venv/bin/python benchmarks/tiling_memory.py            # ~5-10 min
    .venv/bin/python benchmarks/tiling_memory.py --quick    # ~1 min
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
RESULTS_DIR = os.path.join(HERE, "results")

FULL = dict(
    train_size=256,
    filters=64,
    n_blocks=9,
    batch_size=4,
    sizes=[(512, 512), (1024, 1024), (1536, 2048)],
)
QUICK = dict(
    train_size=64,
    filters=8,
    n_blocks=2,
    batch_size=4,
    sizes=[(128, 128), (256, 256), (384, 512)],
)


def _peak_mb():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(mode, height, width, train_size, filters, n_blocks, batch_size):
    import keras
    import numpy as np

    import pix2pix_keras as pk

    keras.utils.set_random_seed(0)
    generator = pk.ResnetGenerator(
        image_size=train_size, filters=filters, n_blocks=n_blocks
    )
    image = (
        np.random.default_rng(0).uniform(-1, 1, (height, width, 3)).astype("float32")
    )
    result = {"params": generator.count_params()}
    if mode == "tiled":
        layout = pk.tile_layout(
            height, width, train_size, overlap=train_size // 4, align=4
        )
        result["tiles"] = len(layout.tops) * len(layout.lefts)

        def run():
            return pk.translate_tiled(generator, image, batch_size=batch_size)
    else:
        full = pk.ResnetGenerator(
            image_size=(height, width), filters=filters, n_blocks=n_blocks
        )
        full.set_weights(generator.get_weights())
        result["tiles"] = 1

        def run():
            return np.asarray(full.predict_on_batch(image[None]))[0]

    result["rss_after_build_mb"] = round(_peak_mb(), 1)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    assert out.shape == (height, width, 3) and np.isfinite(out).all()
    result.update(
        peak_rss_mb=round(_peak_mb(), 1),
        first_s=round(times[0], 3),
        time_s=round(times[1], 3),
    )
    result["translation_rss_mb"] = round(
        result["peak_rss_mb"] - result["rss_after_build_mb"], 1
    )
    print(json.dumps(result), flush=True)


def run_one(mode, size, cfg):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        mode,
        str(size[0]),
        str(size[1]),
        str(cfg["train_size"]),
        str(cfg["filters"]),
        str(cfg["n_blocks"]),
        str(cfg["batch_size"]),
    ]
    print(f"{mode} {size[0]}x{size[1]} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    row = {
        "mode": mode,
        "height": size[0],
        "width": size[1],
        "megapixels": round(size[0] * size[1] / 1e6, 3),
        "process_wall_s": round(wall, 1),
    }
    if out.returncode:
        row["error"] = (out.stderr.strip().splitlines() or ["?"])[-1][:500]
        row["returncode"] = out.returncode
    else:
        row.update(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"  {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    p.add_argument(
        "--quick",
        action="store_true",
        help="small network and images, writes results/tiling_memory_quick.json",
    )
    p.add_argument(
        "--no-full", action="store_true", help="skip the full-image comparison"
    )
    p.add_argument(
        "--output",
        help="JSON path (default: results/"
        "tiling_memory.json, or tiling_memory_quick.json)",
    )
    args = p.parse_args(argv)
    if args.worker:
        mode, *numbers = args.worker
        worker(mode, *(int(n) for n in numbers))
        return 0

    from _common import machine
    from _common import versions
    from _common import write_report

    load_start = os.getloadavg()
    cfg = QUICK if args.quick else FULL
    output = args.output or os.path.join(
        RESULTS_DIR, "tiling_memory_quick.json" if args.quick else "tiling_memory.json"
    )
    rows = []
    for size in cfg["sizes"]:
        rows.append(run_one("tiled", size, cfg))
        if not args.no_full:
            rows.append(run_one("full", size, cfg))
    tiled = [r for r in rows if r["mode"] == "tiled" and "error" not in r]
    full = [r for r in rows if r["mode"] == "full" and "error" not in r]
    summary = {}
    if len(tiled) >= 2:
        small, large = tiled[0], tiled[-1]
        summary["tiled_pixels_ratio"] = round(
            large["megapixels"] / small["megapixels"], 2
        )
        summary["tiled_translation_rss_ratio"] = round(
            large["translation_rss_mb"] / max(small["translation_rss_mb"], 1.0), 2
        )
        summary["tiled_ms_per_megapixel"] = {
            f"{r['height']}x{r['width']}": round(
                1000 * r["time_s"] / r["megapixels"], 1
            )
            for r in tiled
        }
    if full:
        summary["full_translation_rss_mb"] = {
            f"{r['height']}x{r['width']}": r["translation_rss_mb"] for r in full
        }
    report = {
        "benchmark": "tiling_memory",
        "timestamp": datetime.datetime.now().isoformat(timespec="seconds"),
        "versions": versions(),
        "machine": machine(load_start),
        "config": {
            "generator": f"ResnetGenerator(image_size={cfg['train_size']}, "
            f"filters={cfg['filters']}, n_blocks={cfg['n_blocks']})",
            "tile_size": cfg["train_size"],
            "overlap": cfg["train_size"] // 4,
            "blend": "cosine",
            "batch_size": cfg["batch_size"],
            "quick": args.quick,
        },
        "results": rows,
        "summary": summary,
    }
    write_report(report, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

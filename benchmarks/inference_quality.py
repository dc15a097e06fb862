#!/usr/bin/env python
"""Benchmark: does `predict()` translate as well as the training-mode network?

Trains the default Pix2Pix (`Pix2Pix.from_preset("untrained_unet_128")`, the paper's
losses and optimizers) from several seeds on two paired tasks built from
the CMP facades photos in ../shared/data/cmp_facade_base, 128×128, batch
size 1, and scores the held-out pairs (the val and test splits, 76 images,
centre crops, no jitter) in these modes:

  predict                `model.predict(x)` with the default inference
                         statistics (each image's own, `"image"`);
  export                 the SavedModel of `model.export()`, `serve(x)`;
  predict_moving         `predict()` with `inference_statistics="moving"`
                         (the moving averages; the earlier default);
  recalibrated           the moving statistics recomputed over 200 training
                         images after training (population mean and
                         variance of each layer's input), then `"moving"`;
  train_mode             `generator(x, training=True)` one image at a time
                         (batch statistics and dropout, as the paper tests);
  train_mode_no_dropout  batch statistics, dropout off.

Tasks: `facades` (label map -> photo, the classic pix2pix facades
direction) and `edges` (Sobel edge map of the photo -> photo, in the
spirit of edges2shoes; the edges are computed from each training crop).

L1 is the mean absolute error in [-1, 1]; SSIM uses `max_val=2`; PSNR too.
The target: `predict` and `export` within 2 % of `train_mode_no_dropout`
in L1 for every seed.

Each run also records why the moving statistics can fail: for every
batch-norm layer of the generator, how far its moving mean and variance are
from the per-image statistics that layer sees in training (on training
and held-out images), and a replay: with the trained weights fixed, only
the moving statistics are updated again by the last 30 training images in
`--replays` different orders, and `predict_moving` is scored after each.

Runs are resumable: each (task, seed) writes its own JSON into
`--workdir`; the report is assembled from all of them. A run in progress
holds a `.running` file there, so several processes (say one per task,
`--tasks facades --threads 1` and `--tasks edges --threads 1`) can share
the folder; the last one to finish writes the report (or run once more
with every run done to assemble it).

Usage:
    .venv/bin/python benchmarks/inference_quality.py           # hours
    .venv/bin/python benchmarks/inference_quality.py --quick   # ~2 min
    .venv/bin/python benchmarks/inference_quality.py --render \\
        benchmarks/results/inference_quality.json --update-docs
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
from _common import machine  # noqa: E402
from _common import read_reports  # noqa: E402
from _common import versions  # noqa: E402
from _common import write_report  # noqa: E402

import pix2pix_keras as pk  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
DOCS = os.path.join(HERE, "..", "docs", "inference.md")
DATA = os.path.join(HERE, "..", "..", "shared", "data", "cmp_facade_base")
TARGET_GAP = 0.02
TASKS = ("facades", "edges")
MODES = (
    "predict",
    "export",
    "predict_moving",
    "recalibrated",
    "train_mode",
    "train_mode_no_dropout",
)

FULL = dict(
    steps=2000, size=128, seeds=6, held_out=76, batch=1, calibration=200, replays=6
)
QUICK = dict(steps=20, size=64, seeds=2, held_out=8, batch=1, calibration=8, replays=2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Inference-mode quality of Pix2Pix across seeds."
    )
    for key in FULL:
        p.add_argument(f"--{key.replace('_', '-')}", type=int, dest=key)
    p.add_argument(
        "--tasks", default=",".join(TASKS), help=f"comma-separated, among {TASKS}"
    )
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--data", default=DATA, help="CMP facades folder")
    p.add_argument(
        "--workdir",
        help="per-run JSON (resumable); default "
        "results/inference_quality_runs[_batchN][_quick]",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow intra-op threads (0: TF's default); "
        "run one process per task with --threads 1 on 2 cores",
    )
    p.add_argument("--quick", action="store_true", help="smoke test")
    p.add_argument("--output", help="JSON path")
    p.add_argument(
        "--render", metavar="JSON", help="only render the tables of an existing report"
    )
    p.add_argument(
        "--update-docs",
        action="store_true",
        help="write the tables into docs/inference.md",
    )
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be >= 1")
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    for t in args.tasks:
        if t not in TASKS:
            p.error(f"--tasks: unknown {t!r}; choose among {TASKS}")
    name = "inference_quality" + ("" if args.batch == 1 else f"_batch{args.batch}")
    if args.output is None:
        args.output = os.path.join(
            RESULTS_DIR, name + ("_quick" if args.quick else "") + ".json"
        )
    if args.workdir is None:
        args.workdir = os.path.join(
            RESULTS_DIR, name + "_runs" + ("_quick" if args.quick else "")
        )
    return args


# ---------------------------------------------------------------- data


def sobel_edges(photo):
    """Edge map of `photo` batches in [-1, 1]: black edges on white.

    Sobel gradient magnitude of the grey image; the strongest 12 % of each
    image's pixels are edges (-1), the rest background (1); 3 channels.
    """
    grey = tf.reduce_mean(photo, axis=-1, keepdims=True)
    grad = tf.image.sobel_edges(grey)
    magnitude = tf.sqrt(tf.reduce_sum(tf.square(grad), axis=-1))
    flat = tf.reshape(magnitude, [tf.shape(magnitude)[0], -1])
    n = tf.shape(flat)[1]
    k = tf.cast(tf.cast(n, tf.float32) * 0.88, tf.int32)
    threshold = tf.sort(flat, axis=1)[:, k]
    edge = magnitude > threshold[:, None, None, None]
    out = tf.where(edge, -1.0, 1.0)
    return tf.tile(out, [1, 1, 1, 3])


def datasets(task, args, seed):
    load = int(round(args.size * 286 / 256))
    train = pk.load_paired_dataset(
        os.path.join(args.data, "train"),
        direction="BtoA",
        image_size=args.size,
        load_size=load,
        seed=seed,
        batch_size=args.batch,
    )
    held = None
    for split in ("val", "test"):
        ds = pk.load_paired_dataset(
            os.path.join(args.data, split),
            direction="BtoA",
            image_size=args.size,
            load_size=args.size,
            training=False,
            batch_size=1,
        )
        held = ds if held is None else held.concatenate(ds)
    calib = pk.load_paired_dataset(
        os.path.join(args.data, "train"),
        direction="BtoA",
        image_size=args.size,
        load_size=load,
        seed=seed + 1000,
        batch_size=1,
    )
    if task == "edges":
        train, held, calib = (
            d.map(lambda s, t: (sobel_edges(t), t)) for d in (train, held, calib)
        )
    held = held.take(args.held_out)
    pairs = list(held.as_numpy_iterator())
    sources = np.concatenate([s for s, _ in pairs])
    targets = np.concatenate([t for _, t in pairs])
    calib = list(calib.repeat().take(args.calibration).as_numpy_iterator())
    calib = np.concatenate([s for s, _ in calib])
    return train.repeat(), sources, targets, calib


# ---------------------------------------------------------------- scores


def score(fake, target):
    """Mean L1, PSNR and SSIM of images in [-1, 1]."""
    fake = np.clip(np.asarray(fake, "float32"), -1, 1)
    target = np.asarray(target, "float32")
    psnr, ssim = pk.PSNR(), pk.SSIM()
    psnr.update_state(target, fake)
    ssim.update_state(target, fake)
    return {
        "l1": float(np.mean(np.abs(fake - target))),
        "psnr": float(psnr.result()),
        "ssim": float(ssim.result()),
    }


def _layers_of(g, kind):
    from pix2pix_keras._compat import flatten_layers

    return [x for x in flatten_layers(g, include_self=False) if isinstance(x, kind)]


def batch_norms(g):
    return _layers_of(g, keras.layers.BatchNormalization)


def dropouts(g):
    return _layers_of(g, keras.layers.Dropout)


class Untouched:
    """Restores the generator's weights (moving statistics) on exit and,
    with `dropout=False`, disables dropout meanwhile."""

    def __init__(self, g, dropout=True):
        self.g, self.dropout = g, dropout

    def __enter__(self):
        self.weights = self.g.get_weights()
        self.rates = [d.rate for d in dropouts(self.g)]
        if not self.dropout:
            for d in dropouts(self.g):
                d.rate = 0.0
        return self.g

    def __exit__(self, *exc):
        for d, rate in zip(dropouts(self.g), self.rates):
            d.rate = rate
        self.g.set_weights(self.weights)


def train_mode(g, sources, dropout):
    with Untouched(g, dropout=dropout):
        return np.concatenate(
            [g(sources[i : i + 1], training=True).numpy() for i in range(len(sources))]
        )


def bn_inputs(g, images, dropout=True):
    """Per-image mean and variance `(n, c)` of every BN layer's input, the
    network running in training mode one image at a time."""
    norms = batch_norms(g)
    probe = keras.Model(g.inputs[0], [n.input for n in norms])
    stats = [([], []) for _ in norms]
    with Untouched(g, dropout=dropout):
        for i in range(len(images)):
            feats = probe(images[i : i + 1], training=True)
            for (means, vars_), f in zip(stats, feats):
                f = np.asarray(f, "float64")[0]
                means.append(f.mean(axis=(0, 1)))
                vars_.append(f.var(axis=(0, 1)))
    return norms, [(np.stack(m), np.stack(v)) for m, v in stats]


def layer_table(g, train_images, held_sources):
    """How far the moving statistics are from what each layer sees."""
    norms, train_stats = bn_inputs(g, train_images)
    _, held_stats = bn_inputs(g, held_sources)
    rows = []
    for layer, (tm, tv), (hm, hv) in zip(norms, train_stats, held_stats):
        mm = np.asarray(layer.moving_mean, "float64")
        mv = np.asarray(layer.moving_variance, "float64")
        spread = np.sqrt(hv.mean(axis=0)) + 1e-8
        rows.append(
            {
                "layer": layer.name,
                "shape": [int(d) for d in layer.input.shape[1:]],
                # |moving mean - mean of the per-image means|, in units of the
                # per-image standard deviation, averaged over channels:
                "mean_shift_held": float(np.mean(np.abs(mm - hm.mean(0)) / spread)),
                "mean_shift_train": float(
                    np.mean(np.abs(mm - tm.mean(0)) / (np.sqrt(tv.mean(0)) + 1e-8))
                ),
                # moving variance / mean per-image variance (geometric mean over
                # channels) and the worst channel's factor:
                "var_ratio_held": float(
                    np.exp(np.mean(np.log((mv + 1e-8) / (hv.mean(0) + 1e-8))))
                ),
                "var_ratio_worst": float(
                    np.exp(np.max(np.abs(np.log((mv + 1e-8) / (hv.mean(0) + 1e-8)))))
                ),
                # How much the per-image means differ between images, in the
                # same units (what a moving average of ~19 images samples):
                "between_image_spread": float(np.mean(hm.std(0) / spread)),
            }
        )
    return rows


def recalibrate(g, images):
    """Sets the moving statistics to the population statistics of each
    layer's input over `images` (the network in training mode)."""
    norms, stats = bn_inputs(g, images)
    for layer, (m, v) in zip(norms, stats):
        mean = m.mean(axis=0)
        # population variance = mean within-image variance + variance of
        # the per-image means
        var = v.mean(axis=0) + m.var(axis=0)
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(var.astype("float32"))


def replay(model, train_images, sources, targets, n_orders, last=30):
    """`predict_moving` L1 after the moving statistics are re-updated by
    `last` training images in `n_orders` orders (weights fixed)."""
    g = model.generator
    out = []
    for r in range(n_orders):
        order = np.random.default_rng(r).permutation(len(train_images))
        with Untouched(g):
            for i in order[:last]:
                g(train_images[i : i + 1], training=True)
            model.inference_statistics = "moving"
            fake = model.predict(sources, batch_size=8, verbose=0)
            model.inference_statistics = "image"
        out.append(score(fake, targets)["l1"])
    return out


def run_one(task, seed, args):
    train, sources, targets, calib = datasets(task, args, seed)
    keras.utils.set_random_seed(seed)
    model = pk.Pix2Pix.from_preset("untrained_unet_128", image_size=args.size)
    model.compile()
    start = time.perf_counter()
    history = model.fit(
        train, epochs=10, steps_per_epoch=max(1, args.steps // 10), verbose=2
    )
    train_s = time.perf_counter() - start
    g = model.generator
    modes = {}
    modes["predict"] = score(model.predict(sources, batch_size=8, verbose=0), targets)
    with tempfile.TemporaryDirectory() as tmp:
        served = tf.saved_model.load(model.export(os.path.join(tmp, "g")))
        out = np.concatenate(
            [
                served.serve(sources[i : i + 8]).numpy()
                for i in range(0, len(sources), 8)
            ]
        )
    modes["export"] = score(out, targets)
    model.inference_statistics = "moving"
    modes["predict_moving"] = score(
        model.predict(sources, batch_size=8, verbose=0), targets
    )
    modes["train_mode"] = score(train_mode(g, sources, True), targets)
    modes["train_mode_no_dropout"] = score(train_mode(g, sources, False), targets)
    layers_ = layer_table(g, calib[: min(64, len(calib))], sources)
    replays = replay(model, calib, sources, targets, args.replays)
    with Untouched(g):
        recalibrate(g, calib)
        model.inference_statistics = "moving"
        modes["recalibrated"] = score(
            model.predict(sources, batch_size=8, verbose=0), targets
        )
    model.inference_statistics = "image"
    ref = modes["train_mode_no_dropout"]["l1"]
    gaps = {m: modes[m]["l1"] / ref - 1.0 for m in modes}
    return {
        "task": task,
        "seed": seed,
        "train_seconds": round(train_s, 1),
        "final_train_logs": {k: float(v[-1]) for k, v in history.history.items()},
        "modes": modes,
        "l1_gap_to_train_mode_no_dropout": gaps,
        "pass": all(gaps[m] <= TARGET_GAP for m in ("predict", "export")),
        "layers": layers_,
        "replay_predict_moving_l1": replays,
    }


# ---------------------------------------------------------------- report


def fmt(mode):
    return f"{mode['l1']:.3f} / {mode['ssim']:.3f}"


def render(report):
    """Markdown: the per-seed table and the per-layer table of the run
    whose moving statistics did worst."""
    lines = [
        "| task | seed | `predict` | export | moving statistics | "
        "recalibrated | training mode | training mode, no dropout |",
        "|---|---|---|---|---|---|---|---|",
    ]
    runs = report["runs"]
    for r in runs:
        m = r["modes"]
        lines.append(
            f"| {r['task']} | {r['seed']} | {fmt(m['predict'])} | "
            f"{fmt(m['export'])} | {fmt(m['predict_moving'])} | "
            f"{fmt(m['recalibrated'])} | {fmt(m['train_mode'])} | "
            f"{fmt(m['train_mode_no_dropout'])} |"
        )
    worst = max(
        runs, key=lambda r: r["l1_gap_to_train_mode_no_dropout"]["predict_moving"]
    )

    def gaps(mode):
        return [r["l1_gap_to_train_mode_no_dropout"][mode] for r in runs]

    def pct(x):
        return f"{100 * x:+.1f} %"

    lines += [
        "",
        f"Over the {len(runs)} runs (L1 relative to the training-mode "
        f"output without dropout): `predict()` {pct(min(gaps('predict')))} "
        f"to {pct(max(gaps('predict')))}, the export "
        f"{pct(min(gaps('export')))} to {pct(max(gaps('export')))}; the "
        f"moving statistics {pct(min(gaps('predict_moving')))} to "
        f"{pct(max(gaps('predict_moving')))}; recalibrated statistics "
        f"{pct(min(gaps('recalibrated')))} to "
        f"{pct(max(gaps('recalibrated')))}; training mode with dropout "
        f"{pct(min(gaps('train_mode')))} to {pct(max(gaps('train_mode')))}.",
    ]
    table = "\n".join(lines)
    layer_lines = [
        f"Worst run for the moving statistics: {worst['task']}, seed "
        f"{worst['seed']} (`predict` with moving statistics L1 "
        f"{worst['modes']['predict_moving']['l1']:.3f}, with each image's "
        f"own statistics {worst['modes']['predict']['l1']:.3f}).",
        "",
        "| layer | input | mean shift (held-out) | variance ratio | "
        "worst channel's variance factor | spread of per-image means |",
        "|---|---|---|---|---|---|",
    ]
    for row in worst["layers"]:
        shape = "×".join(str(d) for d in row["shape"])
        layer_lines.append(
            f"| `{row['layer']}` | {shape} | {row['mean_shift_held']:.2f} | "
            f"{row['var_ratio_held']:.2f} | {row['var_ratio_worst']:.1f} | "
            f"{row['between_image_spread']:.2f} |"
        )
    replays = worst["replay_predict_moving_l1"]
    layer_lines += [
        "",
        f"Replay, same weights: the moving statistics updated again by the "
        f"last 30 training images in {len(replays)} different orders give "
        f"`predict` (moving statistics) L1 from {min(replays):.3f} to "
        f"{max(replays):.3f}.",
    ]
    return table, "\n".join(layer_lines)


def update_docs(report, path=DOCS):
    from pix2pix_keras.utils import atomic_path

    table, layers_ = render(report)
    with open(path) as f:
        text = f.read()
    for marker, body in (("seeds", table), ("layers", layers_)):
        begin = f"<!-- inference_quality:{marker} begin -->"
        end = f"<!-- inference_quality:{marker} end -->"
        if begin not in text or end not in text:
            raise SystemExit(f"{path}: markers {begin} / {end} missing")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    with atomic_path(path, suffix=".md") as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def main(argv=None):
    args = parse_args(argv)
    if args.render:
        with open(args.render) as f:
            report = json.load(f)
        if args.update_docs:
            update_docs(report)
        print("\n\n".join(render(report)))
        return 0
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    load_start = os.getloadavg()
    os.makedirs(args.workdir, exist_ok=True)
    # Seeds outer, tasks inner: a partial run covers every task.
    wanted = [
        (task, seed)
        for seed in range(args.first_seed, args.first_seed + args.seeds)
        for task in args.tasks
    ]
    for task, seed in wanted:
        path = os.path.join(args.workdir, f"{task}_seed{seed}.json")
        marker = path + ".running"
        if os.path.exists(path):
            continue
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            print(f"{task} seed {seed}: running elsewhere ({marker})")
            continue
        os.close(fd)
        try:
            run = run_one(task, seed, args)
            run["threads"] = args.threads or None
            write_report(run, path, echo=False)
        finally:
            os.remove(marker)
        print(json.dumps({k: run[k] for k in ("task", "seed", "modes")}), flush=True)
    runs = read_reports(
        [
            (
                os.path.join(args.workdir, f"{task}_seed{seed}.json"),
                f"{task} seed {seed} not done yet: no report written",
            )
            for task, seed in wanted
        ]
    )
    if runs is None:
        return 0
    report = {
        "benchmark": "inference_quality",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "settings": {k: getattr(args, k) for k in FULL}
        | {
            "tasks": args.tasks,
            "target_gap": TARGET_GAP,
            "model": "Pix2Pix.from_preset('untrained_unet_128'), compile() defaults",
        },
        "runs": runs,
        "pass": all(r["pass"] for r in runs),
        "versions": versions(),
        "machine": machine(load_start),
    }
    write_report(report, args.output, echo=False)
    if args.update_docs:
        update_docs(report)
    print("\n\n".join(render(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

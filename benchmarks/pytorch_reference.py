#!/usr/bin/env python
"""Benchmark: our training step against the PyTorch reference on the same CPU.

Issue 7 asks that training be faster than the classic loop and than the
PyTorch reference (junyanz/pytorch-CycleGAN-and-pix2pix) on the same CPU.
This script times, in one run and side by side:

  torch                 the reference's pix2pix training step:
                        `model.set_input(batch); model.optimize_parameters()`
                        (D update, then G update) of its `Pix2PixModel`,
                        built with its pix2pix defaults (U-Net `unet_256`, or
                        `unet_128` at 128×128; `basic` 70×70 PatchGAN; batch
                        norm; dropout; vanilla GAN loss + 100·L1;
                        Adam(2e-4, 0.5)), float32;
  torch_bf16_autocast   the same step with each forward pass of G and D
                        under `torch.autocast("cpu", dtype=torch.bfloat16)`
                        (outputs cast back to float32 for the losses; the
                        reference has no CPU AMP flag, so this is an extra
                        row, skipped with the recorded reason if it fails);
  loop, fit, best       our modes, from benchmarks/train_throughput.py: the
                        classic `@tf.function` loop (float32), `Pix2Pix.fit`
                        at defaults, and mixed_bfloat16 + `jit_optimizer`.

Our default GAN loss is LSGAN, the reference's pix2pix default is vanilla
(BCE with logits): the networks and FLOPs are the same, only the loss on
the 30×30 patch map differs.

Method: every (configuration, mode) runs in a fresh subprocess, ours with
train_throughput.py's worker, the reference's with the worker of this
script under `--torch-python` (a separate venv holding torch; the
reference's `data/` package, which imports torchvision, is never
imported). A worker builds the model, runs `--warmup` untimed steps on
random data in [-1, 1] (a few pre-generated pairs cycled, as our workers
do), then times `--steps` steps and reports the median step time. A torch
step ends with `model.get_current_losses()`, which turns every loss into a
Python float (a sync point, as the reference's train.py does when it
prints). Modes run in `--rounds` rounds, forward then reverse order, so
the load of a shared machine hits every mode alike; the report takes the
median over rounds. Speed ratios are `torch step time / our step time`
(> 1: we are faster).

Setup (outside this repository; never commit the reference's code):
    python3 -m venv /work/torchvenv
    /work/torchvenv/bin/pip install torch==2.13.0 numpy pillow
    # a checkout of junyanz/pytorch-CycleGAN-and-pix2pix in /work/torchref
    # (a git work tree, or a plain copy with its commit in REF_COMMIT)

Usage:
    .venv/bin/python benchmarks/pytorch_reference.py            # ~7 min
    .venv/bin/python benchmarks/pytorch_reference.py --quick    # smoke test, ~35 s
    .venv/bin/python benchmarks/pytorch_reference.py \\
        --torch-python /path/to/python --torch-ref /path/to/checkout
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import timed_result  # noqa: E402

RESULTS_DIR = os.path.join(HERE, "results")

REFERENCE = "junyanz/pytorch-CycleGAN-and-pix2pix"
TORCH_PYTHON = "/work/torchvenv/bin/python"
TORCH_REF = "/work/torchref"
TORCH_MODES = ("torch", "torch_bf16_autocast")
OUR_MODES = ("loop", "fit", "best")
MODES = TORCH_MODES + OUR_MODES
BF16 = "torch_bf16_autocast"
BEGIN = "<!-- BEGIN pytorch_reference table (generated) -->"
END = "<!-- END pytorch_reference table -->"

FULL = dict(steps=8, warmup=4, rounds=2, torch_threads=2)
QUICK = dict(steps=2, warmup=1, rounds=1, torch_threads=2)
CONFIGS_FULL = [(256, 1), (256, 4), (128, 4)]
CONFIGS_QUICK = [(128, 1)]

MODE_NAMES = {
    "torch": "PyTorch reference, float32",
    BF16: "PyTorch reference, bf16 autocast (extra)",
    "loop": "classic `@tf.function` loop, float32",
    "fit": "`fit`, defaults",
    "best": "`fit`, `mixed_bfloat16` + `jit_optimizer=True`",
}


def reference_options(size, batch):
    """The reference's options for a pix2pix training run (JSON-able).

    These are what `python train.py --model pix2pix` resolves to (the
    pix2pix model sets netG=unet_256, norm=batch, gan_mode=vanilla,
    pool_size=0, dataset_mode=aligned), plus the image size and batch.
    """
    if size not in (128, 256):
        raise ValueError(f"the reference's U-Nets take 128 or 256, not {size}")
    return {
        "model": "pix2pix",
        "isTrain": True,
        "input_nc": 3,
        "output_nc": 3,
        "ngf": 64,
        "ndf": 64,
        "netG": f"unet_{size}",
        "netD": "basic",
        "n_layers_D": 3,
        "norm": "batch",
        "init_type": "normal",
        "init_gain": 0.02,
        "no_dropout": False,
        "gan_mode": "vanilla",
        "lambda_L1": 100.0,
        "lr": 0.0002,
        "beta1": 0.5,
        "pool_size": 0,
        "direction": "AtoB",
        "dataset_mode": "aligned",
        "preprocess": "resize_and_crop",
        "load_size": size * 286 // 256,
        "crop_size": size,
        "batch_size": batch,
        "name": "bench",
        "checkpoints_dir": "/tmp/pytorch_reference_bench",
        "phase": "train",
        "continue_train": False,
        "epoch": "latest",
        "load_iter": 0,
        "verbose": False,
        "lr_policy": "linear",
        "epoch_count": 1,
        "n_epochs": 100,
        "n_epochs_decay": 100,
        "lr_decay_iters": 50,
    }


# ----------------------------------------------------------------------
# torch worker (runs in a subprocess under --torch-python)


def _maybe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a private API that may be absent
        return None


def torch_info(torch):
    return {
        "torch": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn_bf16_supported": _maybe(
            lambda: bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        ),
        "parallel_backend": next(
            (
                line.split(":", 1)[1].strip()
                for line in torch.__config__.parallel_info().splitlines()
                if line.startswith("ATen parallel backend")
            ),
            None,
        ),
    }


def torch_worker(mode, size, batch, steps, warmup, ref, threads, seed=0):
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    sys.path.insert(0, os.path.abspath(ref))
    from models.pix2pix_model import Pix2PixModel

    opt = argparse.Namespace(
        **reference_options(size, batch), device=torch.device("cpu")
    )
    with contextlib.redirect_stdout(sys.stderr):  # the reference prints
        model = Pix2PixModel(opt)
        model.setup(opt)  # as train.py: init weights, schedulers
    if mode == BF16:

        class Autocast(torch.nn.Module):
            """Runs a network's forward under bf16 autocast, float32 out."""

            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, x):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return self.net(x).float()

        model.netG = Autocast(model.netG)
        model.netD = Autocast(model.netD)
    elif mode != "torch":
        raise ValueError(f"unknown torch mode {mode!r}")

    rng = np.random.default_rng(seed)
    pairs = max(4, batch * 2)
    shape = (pairs, 3, size, size)
    source = torch.from_numpy(rng.uniform(-1, 1, shape).astype("float32"))
    target = torch.from_numpy(rng.uniform(-1, 1, shape).astype("float32"))
    batches = [
        {
            "A": source[i : i + batch].contiguous(),
            "B": target[i : i + batch].contiguous(),
            "A_paths": [f"a{j}" for j in range(i, i + batch)],
            "B_paths": [f"b{j}" for j in range(i, i + batch)],
        }
        for i in range(0, pairs - batch + 1, batch)
    ]

    def step(i):
        start = time.perf_counter()
        model.set_input(batches[i % len(batches)])
        model.optimize_parameters()
        losses = model.get_current_losses()  # float(): the sync point
        return time.perf_counter() - start, losses

    for i in range(warmup):
        step(i)
    times = []
    for i in range(warmup, warmup + steps):
        t, losses = step(i)
        times.append(t)
    if not all(np.isfinite(v) for v in losses.values()):
        raise FloatingPointError(f"non-finite losses: {losses}")
    return {
        **timed_result(times, batch),
        "losses": {k: round(v, 4) for k, v in losses.items()},
        "torch_info": {**torch_info(torch), "numpy": np.__version__},
    }


# ----------------------------------------------------------------------
# driver


def spawn_torch(args, mode, size, batch):
    cmd = [
        args.torch_python,
        os.path.abspath(__file__),
        "--torch-worker",
        mode,
        str(size),
        str(batch),
        str(args.steps),
        str(args.warmup),
        "--torch-ref",
        args.torch_ref,
        "--torch-threads",
        str(args.torch_threads),
    ]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(
            f"torch worker {mode} {size} {batch} failed:\n{out.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def run_mode(args, mode, size, batch):
    if mode in TORCH_MODES:
        return spawn_torch(args, mode, size, batch)
    from train_throughput import spawn

    return spawn(mode, size, batch, args.steps, args.warmup)


def reference_commit(path):
    """The commit of the reference checkout: git, else its REF_COMMIT file."""
    try:
        out = subprocess.run(
            ["git", "-C", path, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode == 0 and os.path.samefile(
            path,
            subprocess.run(
                ["git", "-C", path, "rev-parse", "--show-toplevel"],
                capture_output=True,
                text=True,
            ).stdout.strip(),
        ):
            return out.stdout.strip()
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(path, "REF_COMMIT")) as f:
            return f.read().strip() or None
    except OSError:
        return None


def parse_args(argv=None):
    from _common import add_sweep_flags

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--torch-worker", nargs=5, help=argparse.SUPPRESS)
    add_sweep_flags(p, FULL, QUICK, "pytorch_reference", MODES)
    p.add_argument(
        "--torch-python", default=TORCH_PYTHON, help="python of the venv holding torch"
    )
    p.add_argument("--torch-ref", default=TORCH_REF, help=f"checkout of {REFERENCE}")
    args = p.parse_args(argv)
    if args.render:
        return args
    if args.torch_worker:  # no TensorFlow in the torch venv: stop here
        if args.torch_threads is None:
            args.torch_threads = FULL["torch_threads"]
        return args
    from _common import resolve_args

    return resolve_args(p, args, FULL, QUICK, "pytorch_reference", RESULTS_DIR)


def summarise(runs, batch, size):
    from train_throughput import GFLOP_PER_256_STEP
    from train_throughput import step_summary

    rows = {}
    for mode, results in runs.items():
        if not results:
            continue
        med, rows[mode] = step_summary(results, batch)
        rows[mode]["gflops_achieved"] = round(
            GFLOP_PER_256_STEP * batch * (size / 256) ** 2 / med, 1
        )
        if "losses" in results[-1]:
            rows[mode]["last_losses"] = results[-1]["losses"]
    ratios = {}
    for base in TORCH_MODES:
        if base not in rows:
            continue
        for mode in OUR_MODES + ((BF16,) if base == "torch" else ()):
            if mode in rows:
                ratios[f"{mode}/{base}"] = round(
                    rows[base]["median_step_s"] / rows[mode]["median_step_s"], 3
                )
    return rows, ratios


def render_markdown(report):
    """The markdown table of a result, as written into docs/performance.md."""
    m = report.get("machine", {})
    t = report.get("torch") or {}
    v = report.get("versions", {})
    load = m.get("loadavg_start")
    lines = [
        f"Run of {report['date'][:10]} on {m.get('cpu_model', '?')} "
        f"({m.get('cpu_count', '?')} cores), reference commit "
        f"`{(report['reference'].get('commit') or '?')[:8]}`, torch "
        f"{t.get('torch', '?')} ({t.get('num_threads', '?')} threads, "
        f"{t.get('cpu_capability', '?')}), TensorFlow "
        f"{v.get('tensorflow', '?')}, Keras {v.get('keras', '?')}; 1-minute "
        f"load average {f'{load[0]:.2f}' if load else '?'} at the start. "
        f"Seconds per training step (median of {report['settings']['steps']}"
        f" steps, median over {report['settings']['rounds']} rounds); "
        "speed-up = reference's time / ours (> 1: ours is faster).",
        "",
        "| configuration | reference float32 | reference bf16 autocast "
        "| `loop` | `fit` | `best` | `fit` speed-up | `best` speed-up "
        "| `best` vs bf16 reference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, cfg in report["configs"].items():
        rows, ratios = cfg["rows"], cfg["ratios"]

        def step(mode):
            row = rows.get(mode)
            return f"{row['median_step_s']:.3f} s" if row else "–"

        def ratio(name):
            value = ratios.get(name)
            return f"{value:.2f}×" if value is not None else "–"

        size, batch = key.split("_b")
        lines.append(
            f"| {size.replace('x', '×')}, batch {batch} | {step('torch')} "
            f"| {step(BF16)} | {step('loop')} | {step('fit')} "
            f"| {step('best')} | {ratio('fit/torch')} "
            f"| {ratio('best/torch')} | {ratio(f'best/{BF16}')} |"
        )
    return "\n".join(lines)


def main(argv=None):
    from _common import answer_early

    args = parse_args(argv)
    if answer_early(
        args,
        render_markdown,
        args.torch_worker,
        lambda mode, *rest: torch_worker(
            mode, *map(int, rest), ref=args.torch_ref, threads=args.torch_threads
        ),
    ):
        return 0

    from _common import machine
    from _common import sweep_report_head
    from _common import sweep_selection
    from _common import versions
    from _common import write_report

    if not os.path.exists(args.torch_python):
        sys.exit(f"no torch python at {args.torch_python} (see --help)")
    if not os.path.exists(os.path.join(args.torch_ref, "models", "pix2pix_model.py")):
        sys.exit(f"no {REFERENCE} checkout at {args.torch_ref} (see --help)")

    started = time.perf_counter()
    load_start = os.getloadavg()
    modes, configs = sweep_selection(args, MODES, CONFIGS_FULL, CONFIGS_QUICK)
    report = {
        **sweep_report_head(
            "pytorch_reference",
            args,
            modes=modes,
            torch_threads=args.torch_threads,
            ratio="'X/base' = base step time / X step time "
            "(> 1: X is faster than base)",
        ),
        "reference": {
            "repository": REFERENCE,
            "commit": reference_commit(args.torch_ref),
            "step": "model.set_input({'A', 'B', 'A_paths', 'B_paths'}); "
            "model.optimize_parameters(); "
            "model.get_current_losses()",
            "model": "models.pix2pix_model.Pix2PixModel + setup(opt), device cpu",
            "options": {f"{s}x{s}_b{b}": reference_options(s, b) for s, b in configs},
            "bf16_autocast": "torch.autocast('cpu', dtype=torch.bfloat16) "
            "around the forward of netG and netD, outputs "
            ".float(); losses, backward and Adam in float32",
            "gan_mode_note": "the reference's pix2pix default gan_mode is "
            "vanilla (BCE with logits); ours is LSGAN. Same "
            "networks and FLOPs, only the patch-map loss "
            "differs.",
        },
        "ours": {m: MODE_NAMES[m] for m in OUR_MODES},
        "configs": {},
    }
    torch_meta = None
    for size, batch in configs:
        key = f"{size}x{size}_b{batch}"
        runs = {m: [] for m in modes}
        skipped = {}
        for r in range(args.rounds):
            order = modes if r % 2 == 0 else modes[::-1]
            for mode in order:
                if mode in skipped:
                    continue
                try:
                    res = run_mode(args, mode, size, batch)
                except RuntimeError as exc:
                    if mode != BF16:
                        raise
                    skipped[mode] = str(exc)[-1500:]
                    print(json.dumps({key: {mode: "skipped"}}), flush=True)
                    continue
                meta = res.pop("torch_info", None)
                torch_meta = torch_meta or meta
                runs[mode].append(res)
                print(json.dumps({key: {mode: res}}), flush=True)
        rows, ratios = summarise(runs, batch, size)
        report["configs"][key] = {"rows": rows, "ratios": ratios}
        if skipped:
            report["configs"][key]["skipped"] = skipped
    report["faster_than_torch"] = {
        key: {
            m: cfg["ratios"][f"{m}/torch"] > 1
            for m in OUR_MODES
            if f"{m}/torch" in cfg["ratios"]
        }
        for key, cfg in report["configs"].items()
    }
    report["torch"] = torch_meta
    report["versions"] = versions(torch=(torch_meta or {}).get("torch"))
    report["machine"] = machine(load_start)
    report["runtime_s"] = round(time.perf_counter() - started, 1)
    write_report(report, args.output)
    if args.update_docs:
        from train_throughput import update_docs

        update_docs(report, begin=BEGIN, end=END, render=render_markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

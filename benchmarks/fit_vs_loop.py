#!/usr/bin/env python
"""Benchmark: `Pix2Pix.fit` against the classic TensorFlow-tutorial loop.

Both sides train the same networks (default `UNetGenerator` and
`PatchDiscriminator`, batch norm, LSGAN + 100·L1, Adam(2e-4, 0.5) for G and
for D, fresh instances built from the same seed) on the same tf.data pipeline
of pre-generated random pairs (cached, repeated, prefetched):

  loop  a `@tf.function` train step with two GradientTapes, the losses from
        `pix2pix_keras.losses`, `g_opt.apply_gradients` and
        `d_opt.apply_gradients`, fed from a Python iterator over the dataset;
  fit   `Pix2Pix.compile()` at defaults, then `Pix2Pix.fit(dataset, ...)`.

After warm-up steps (excluded: tracing, first-call costs) both run in
alternating rounds (ABBA order: loop/fit, fit/loop, ...), so load from other
tenants of the machine hits both. Every step is timed as the interval between
two consecutive synchronisation points:

  loop  perf_counter() after `train_step(...)` returned and both losses were
        fetched with `.numpy()`;
  fit   perf_counter() in `on_train_batch_end`. A callback that overrides
        `on_train_batch_end` makes Keras dispatch batch callbacks
        synchronously and convert the logs to Python floats first, so that
        point also comes after the step finished and its losses (six
        metrics) were fetched.

The first step of a round is measured from the start of the round (loop) or
from `on_train_batch_begin` (fit), so the per-call setup of `fit()` (epoch
iterator, callback list) and its teardown are not in the step times; they
are reported separately (`fit_call_setup_s`, `fit_call_teardown_s`). The
teardown is sometimes large on TF 2.21: fit() then returns only at the next
tick of tf.data's autotuning thread (10 ms, doubling: such fit() calls last
0.63, 1.27, ..., 5.11, 10.23, 20.47 s); see README.md.

Reported: median step time, steps/s and images/s for each side (over all
timed steps, and per round), and the ratio fit/loop in steps/s. Target:
ratio >= 0.95 (`pass`). Secondary, for a noisy machine: the median of the
per-round ratios and the ratio of the fastest steps.

Usage:
    .venv/bin/python benchmarks/fit_vs_loop.py            # full (~2-4 min)
    .venv/bin/python benchmarks/fit_vs_loop.py --quick    # smoke test
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _common import StepTimer  # noqa: E402
from _common import add_preset_flags  # noqa: E402
from _common import report_header  # noqa: E402
from _common import resolve_args  # noqa: E402

import pix2pix_keras as pk  # noqa: E402
from pix2pix_keras import losses  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
TARGET_RATIO = 0.95
LAMBDA_L1 = 100.0

# An even number of rounds balances the ABBA order; short rounds track the
# load of a shared machine, which changes every few seconds.
FULL = dict(size=256, batch=1, steps=8, rounds=6, warmup=5)
QUICK = dict(size=64, batch=1, steps=3, rounds=2, warmup=2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Pix2Pix.fit vs the classic tf.function training loop."
    )
    add_preset_flags(
        p,
        FULL,
        QUICK,
        "fit_vs_loop",
        helps=dict(
            steps="timed steps per round and side", warmup="untimed steps per side"
        ),
        smoke="tiny",
    )
    p.add_argument("--seed", type=int, default=1234, help="weights and data seed")
    p.add_argument("--pairs", type=int, default=16, help="random pairs pre-generated")
    args = p.parse_args(argv)
    resolve_args(
        p,
        args,
        FULL,
        QUICK,
        "fit_vs_loop",
        RESULTS_DIR,
        extra=("pairs",),
        minimums={"warmup": 0},
    )
    return args


def make_dataset(size, batch, pairs, seed):
    rng = np.random.default_rng(seed)
    shape = (pairs, size, size, 3)
    source = rng.uniform(-1.0, 1.0, shape).astype("float32")
    target = rng.uniform(-1.0, 1.0, shape).astype("float32")
    return (
        tf.data.Dataset.from_tensor_slices((source, target))
        .batch(batch)
        .cache()
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )


def make_networks(size, seed):
    keras.utils.set_random_seed(seed)
    return pk.UNetGenerator(image_size=size), pk.PatchDiscriminator(image_size=size)


def adam():
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999)


def weights_digest(*models):
    return float(
        sum(np.sum(np.abs(w), dtype="float64") for m in models for w in m.get_weights())
    )


# ----------------------------------------------------------------------
# (a) the classic loop


class ClassicLoop:
    """The TensorFlow pix2pix tutorial's train step, Keras 3 optimizers."""

    def __init__(self, generator, discriminator, dataset):
        self.generator = generator
        self.discriminator = discriminator
        self.g_opt = adam()
        self.d_opt = adam()
        self.g_opt.build(generator.trainable_variables)
        self.d_opt.build(discriminator.trainable_variables)
        self.iterator = iter(dataset)
        self.train_step = tf.function(self._train_step)

    def _train_step(self, source, target):
        gen, disc = self.generator, self.discriminator
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = gen(source, training=True)
            d_real = disc([source, target], training=True)
            d_fake = disc([source, fake], training=True)
            g_gan = losses.lsgan_generator_loss(d_fake)
            g_l1 = losses.l1_loss(target, fake)
            g_loss = g_gan + LAMBDA_L1 * g_l1
            d_loss = losses.lsgan_discriminator_loss(d_real, d_fake)
        g_grads = g_tape.gradient(g_loss, gen.trainable_variables)
        d_grads = d_tape.gradient(d_loss, disc.trainable_variables)
        self.g_opt.apply_gradients(zip(g_grads, gen.trainable_variables))
        self.d_opt.apply_gradients(zip(d_grads, disc.trainable_variables))
        return g_loss, d_loss

    def run(self, steps):
        """Runs `steps` steps; returns (per-step seconds, wall seconds)."""
        times = []
        start = prev = time.perf_counter()
        for _ in range(steps):
            source, target = next(self.iterator)
            g_loss, d_loss = self.train_step(source, target)
            g_loss.numpy(), d_loss.numpy()  # sync
            now = time.perf_counter()
            times.append(now - prev)
            prev = now
        return times, time.perf_counter() - start

    def traces(self):
        return self.train_step.experimental_get_tracing_count()


# ----------------------------------------------------------------------
# (b) Pix2Pix.fit


class FitRunner:
    def __init__(self, generator, discriminator, size, dataset):
        self.model = pk.Pix2Pix(
            generator=generator, discriminator=discriminator, image_size=size
        )
        self.model.compile()
        self.dataset = dataset
        self.timer = StepTimer()
        # Count traces of the train step (Python code runs only when traced).
        # Patched on this instance only; the package is untouched.
        self.trace_count = 0
        original = self.model.train_step

        def counting_train_step(data):
            self.trace_count += 1
            return original(data)

        self.model.train_step = counting_train_step

    def run(self, steps):
        start = time.perf_counter()
        self.model.fit(
            self.dataset,
            epochs=1,
            steps_per_epoch=steps,
            verbose=0,
            shuffle=False,  # ignored for a dataset; avoids a UserWarning
            callbacks=[self.timer],
        )
        end = time.perf_counter()
        times = self.timer.step_times()
        if len(times) != steps:
            raise RuntimeError(f"fit ran {len(times)} steps, expected {steps}")
        # Time spent in fit() outside the steps: before the first
        # on_train_batch_begin, and after the last on_train_batch_end.
        self.last_call = {
            "setup_s": self.timer.begins[0] - start,
            "teardown_s": end - self.timer.ends[-1],
        }
        return times, end - start

    def traces(self):
        return self.trace_count


# ----------------------------------------------------------------------


def summarize(times, batch):
    med = statistics.median(times)
    return {
        "median_step_s": med,
        "steps_per_s": 1.0 / med,
        "images_per_s": batch / med,
        "mean_step_s": statistics.fmean(times),
        "min_step_s": min(times),
        "max_step_s": max(times),
        "n_steps": len(times),
    }


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    dataset = make_dataset(args.size, args.batch, args.pairs, args.seed)

    g_a, d_a = make_networks(args.size, args.seed)
    g_b, d_b = make_networks(args.size, args.seed)
    same_init = weights_digest(g_a, d_a) == weights_digest(g_b, d_b)
    loop = ClassicLoop(g_a, d_a, dataset)
    fit = FitRunner(g_b, d_b, args.size, dataset)
    runners = {"loop": loop, "fit": fit}

    print(
        f"[fit_vs_loop] size={args.size} batch={args.batch} "
        f"warmup={args.warmup} rounds={args.rounds} steps={args.steps}",
        file=sys.stderr,
    )
    warmup_s = {}
    for name, runner in runners.items():
        t0 = time.perf_counter()
        if args.warmup:
            runner.run(args.warmup)
        warmup_s[name] = time.perf_counter() - t0
    traces_after_warmup = {k: r.traces() for k, r in runners.items()}

    all_times = {"loop": [], "fit": []}
    rounds = []
    for r in range(args.rounds):
        order = ("loop", "fit") if r % 2 == 0 else ("fit", "loop")
        entry = {"round": r, "order": list(order)}
        for name in order:
            times, wall = runners[name].run(args.steps)
            all_times[name].extend(times)
            med = statistics.median(times)
            entry[name] = {
                "median_step_s": med,
                "steps_per_s": 1.0 / med,
                "wall_s": wall,
                "sum_step_s": sum(times),
                "step_times_s": times,
            }
            if name == "fit":
                entry[name].update(fit.last_call)
        entry["ratio_fit_over_loop"] = (
            entry["loop"]["median_step_s"] / entry["fit"]["median_step_s"]
        )
        rounds.append(entry)
        print(
            f"[fit_vs_loop] round {r}: loop {entry['loop']['steps_per_s']:.3f} "
            f"steps/s, fit {entry['fit']['steps_per_s']:.3f} steps/s, "
            f"ratio {entry['ratio_fit_over_loop']:.3f}",
            file=sys.stderr,
        )

    summary = {k: summarize(v, args.batch) for k, v in all_times.items()}
    summary["fit"]["fit_call_overhead_s"] = statistics.median(
        e["fit"]["wall_s"] - e["fit"]["sum_step_s"] for e in rounds
    )
    summary["fit"]["fit_call_setup_s"] = statistics.median(
        e["fit"]["setup_s"] for e in rounds
    )
    summary["fit"]["fit_call_teardown_s"] = statistics.median(
        e["fit"]["teardown_s"] for e in rounds
    )
    ratio = summary["loop"]["median_step_s"] / summary["fit"]["median_step_s"]
    per_round = [e["ratio_fit_over_loop"] for e in rounds]
    # Secondary view: throughput over whole rounds (fit() setup included).
    wall_ratio = sum(e["loop"]["wall_s"] for e in rounds) / sum(
        e["fit"]["wall_s"] for e in rounds
    )

    result = {
        **report_header("fit_vs_loop", load_start),
        "config": {
            "image_size": args.size,
            "batch_size": args.batch,
            "warmup_steps": args.warmup,
            "rounds": args.rounds,
            "steps_per_round": args.steps,
            "random_pairs": args.pairs,
            "seed": args.seed,
            "quick": args.quick,
            "networks": "UNetGenerator() + PatchDiscriminator(), batch norm",
            "loss": "LSGAN + 100*L1",
            "optimizers": "Adam(2e-4, beta_1=0.5, beta_2=0.999) for G and D",
            "fit": "Pix2Pix.compile() defaults (steps_per_execution=1, "
            "jit_compile='auto'), verbose=0, one fit() per round",
            "timing": "per-step interval between sync points (loss fetched); "
            "ABBA-alternated rounds; warm-up excluded",
            "same_initial_weights": same_init,
        },
        "warmup_s": warmup_s,
        "traces": {
            "after_warmup": traces_after_warmup,
            "at_end": {k: r.traces() for k, r in runners.items()},
        },
        "rounds": rounds,
        "loop": summary["loop"],
        "fit": summary["fit"],
        "ratio_fit_over_loop": ratio,
        "ratio_per_round": per_round,
        "ratio_median_of_rounds": statistics.median(per_round),
        "ratio_min_step": summary["loop"]["min_step_s"] / summary["fit"]["min_step_s"],
        "ratio_round_wall": wall_ratio,
        "target_ratio": TARGET_RATIO,
        "pass": ratio >= TARGET_RATIO,
        "total_runtime_s": time.perf_counter() - t_start,
    }

    text = json.dumps(result, indent=2)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, args.output)
    print(
        f"[fit_vs_loop] loop {summary['loop']['steps_per_s']:.3f} steps/s, "
        f"fit {summary['fit']['steps_per_s']:.3f} steps/s, ratio {ratio:.3f} "
        f"(target {TARGET_RATIO}) -> {'PASS' if result['pass'] else 'FAIL'}; "
        f"wrote {args.output}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Subprocess helpers for tests/test_resume.py and tests/test_determinism.py.

Not a test module; nothing runs on import (pytest --doctest-modules imports
every file). Every command seeds everything (`keras.utils.set_random_seed`)
and, unless `--no-op-determinism`, calls
`tf.config.experimental.enable_op_determinism()` first.

    python tests/_resume_worker.py train OUT [--lockstep] [--keras-callback]
        [--finite]

trains the tiny 32×32 Pix2Pix of tests/conftest.py (U-Net with dropout,
`d_every=2`) for `EPOCHS` epochs of `STEPS` batches of 3 pairs of the
bundled facades sample (`load_paired_dataset(..., seed=DATA_SEED)`: it
reshuffles and redraws its crops and flips every iteration), `.repeat()`ed
with `steps_per_epoch` (`--finite`: the finite dataset without
`steps_per_epoch`), with `LearningRateHalving(every=1)`,
`LambdaSchedule(end=10, end_epoch=EPOCHS)`, `Diagnostics` and
`pix2pix_keras.BackupAndRestore(OUT/backup, save_freq=SAVE_FREQ)`
(`--keras-callback`: Keras's own). It prints one line per event:

    begin {"initial_epoch": .., "g_iterations": .., ...}   (after the restore)
    epoch {"epoch": .., "g_lr": .., "d_lr": .., "lambda": ..}
    batch {"epoch": .., "batch": .., "g_iterations": .., "logs": {...}}
    backup {...training_metadata.json...}                 (when it changed)
    end {...}

and with `--lockstep` waits for a line on stdin after every `batch` line
(the test SIGKILLs it there). At the end it writes every variable of G, D,
both optimizers and the wrapper (step counter, λ, dropout RNG states) to
OUT/final.npz and the history to OUT/history.json. Run again with the same
command after a kill, it resumes from OUT/backup.

    python tests/_resume_worker.py steps OUT.npz SEED [SEED ...]
        [--steps N] [--no-op-determinism]

for each seed: `set_random_seed(seed)`, builds the tiny model, trains N
steps (default 12) on the facades sample pipeline (seeded by the same
seed) and stores every variable as `s<i>/<name>` in OUT.npz (i = position
of the seed in the list).

    python tests/_resume_worker.py steptime [--size 64] [--steps 60]
        [--filters 8] [--no-op-determinism]

prints the median step time (ms) of `fit()` on the tiny model (base
`--filters`, 4× that at most) at `--size` after 10 warm-up steps, as JSON.
"""

import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

EPOCHS = 3
STEPS = 8  # 24 sample pairs / batches of 3
SAVE_FREQ = 3
BATCH = 3
DATA_SEED = 1234
SEED = 7


def _setup(seed, op_determinism):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if op_determinism:
        tf.config.experimental.enable_op_determinism()


def _dataset(seed, size=32):
    import pix2pix_keras as pk

    return pk.load_paired_dataset(
        pk.sample_data_dir("train"),
        direction="BtoA",
        image_size=size,
        load_size=size + size // 8,
        batch_size=BATCH,
        seed=seed,
    )


def _model(size=32, filters=8):
    import keras

    from tests.conftest import tiny_pix2pix

    model = tiny_pix2pix(size=size, filters=filters)
    model.compile(
        g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        d_every=2,
    )
    return model


def state(model):
    """Every variable of G, D, both optimizers and the wrapper, by path."""
    import keras
    import numpy as np

    out = {}
    for prefix, variables in (
        ("model", model.variables),
        ("g_optimizer", model.g_optimizer.variables),
        ("d_optimizer", model.d_optimizer.variables),
    ):
        for i, v in enumerate(variables):
            out[f"{prefix}/{i:03d}/{v.path}"] = np.array(keras.ops.convert_to_numpy(v))
    return out


def _scalar(v):
    import keras

    return keras.ops.convert_to_numpy(v).item()


def _emit(kind, payload):
    print(f"{kind} {json.dumps(payload, sort_keys=True)}", flush=True)


def train(out, lockstep=False, keras_callback=False, finite=False):
    _setup(SEED, True)
    import keras
    import numpy as np

    import pix2pix_keras as pk

    model = _model()
    data = _dataset(DATA_SEED)
    backup_dir = os.path.join(out, "backup")
    metadata = os.path.join(backup_dir, "training_metadata.json")
    backup = (
        keras.callbacks.BackupAndRestore(backup_dir, save_freq=SAVE_FREQ)
        if keras_callback
        else pk.BackupAndRestore(backup_dir, save_freq=SAVE_FREQ)
    )

    def counters():
        return {
            "g_iterations": _scalar(model.g_optimizer.iterations),
            "d_iterations": _scalar(model.d_optimizer.iterations),
            "step_counter": _scalar(model.step_counter),
        }

    class Progress(keras.callbacks.Callback):
        last = None

        def on_train_begin(self, logs=None):
            _emit("begin", {"initial_epoch": model._initial_epoch or 0, **counters()})

        def on_epoch_begin(self, epoch, logs=None):
            _emit(
                "epoch",
                {
                    "epoch": epoch,
                    "g_lr": _scalar(model.g_optimizer.learning_rate),
                    "d_lr": _scalar(model.d_optimizer.learning_rate),
                    "lambda": _scalar(model.l1_weight),
                },
            )
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if os.path.exists(metadata):
                with open(metadata) as f:
                    text = f.read()
                if text != self.last:
                    self.last = text
                    meta = json.loads(text)
                    meta.pop("metrics", None)
                    _emit("backup", meta)
            _emit(
                "batch",
                {
                    "epoch": self.epoch,
                    "batch": batch,
                    **counters(),
                    "logs": {k: float(v) for k, v in (logs or {}).items()},
                },
            )
            if lockstep:
                sys.stdin.readline()

    if finite:
        fit_args = {"x": data}
    else:
        fit_args = {"x": data.repeat(), "steps_per_epoch": STEPS}
    history = model.fit(
        epochs=EPOCHS,
        verbose=0,
        callbacks=[
            pk.LearningRateHalving(every=1),
            pk.LambdaSchedule(end=10.0, start_epoch=0, end_epoch=EPOCHS),
            pk.Diagnostics(verbose=0),
            backup,
            Progress(),
        ],
        **fit_args,
    )
    np.savez(os.path.join(out, "final.npz"), **state(model))
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(history.history, f)
    _emit(
        "end",
        {
            **counters(),
            "g_lr": _scalar(model.g_optimizer.learning_rate),
            "d_lr": _scalar(model.d_optimizer.learning_rate),
            "lambda": _scalar(model.l1_weight),
        },
    )


def steps(out, seeds, n=12, op_determinism=True):
    import numpy as np

    _setup(seeds[0], op_determinism)
    arrays = {}
    for i, seed in enumerate(seeds):
        _setup(seed, False)
        model = _model()
        data = _dataset(seed).repeat()
        model.fit(data, epochs=1, steps_per_epoch=n, verbose=0)
        for key, value in state(model).items():
            # Paths differ between models built in one process (suffixes).
            index = key.split("/")[0] + "/" + key.split("/")[1]
            arrays[f"s{i}/{index}"] = value
    np.savez(out, **arrays)


def steptime(size=64, n=60, op_determinism=True, filters=8):
    import time

    import keras
    import numpy as np

    _setup(0, op_determinism)
    model = _model(size, filters)
    data = _dataset(0, size).repeat()

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    timer = Timer()
    timer.ends = []
    model.fit(data, epochs=1, steps_per_epoch=n + 10, verbose=0, callbacks=[timer])
    times = np.diff(timer.ends[9:]) * 1000.0
    print(
        json.dumps(
            {
                "size": size,
                "filters": filters,
                "op_determinism": op_determinism,
                "steps": len(times),
                "median_ms": float(np.median(times)),
                "p25_ms": float(np.percentile(times, 25)),
            }
        )
    )


def main(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, ROOT)
    command, args = argv[0], argv[1:]
    flags = {a for a in args if a.startswith("--")}
    values = {}
    rest = []
    i = 0
    while i < len(args):
        if args[i] in ("--steps", "--size", "--filters"):
            values[args[i]] = int(args[i + 1])
            i += 2
            continue
        if not args[i].startswith("--"):
            rest.append(args[i])
        i += 1
    op_determinism = "--no-op-determinism" not in flags
    if command == "train":
        train(
            rest[0],
            lockstep="--lockstep" in flags,
            keras_callback="--keras-callback" in flags,
            finite="--finite" in flags,
        )
    elif command == "steps":
        steps(
            rest[0],
            [int(s) for s in rest[1:]],
            n=values.get("--steps", 12),
            op_determinism=op_determinism,
        )
    elif command == "steptime":
        steptime(
            values.get("--size", 64),
            values.get("--steps", 60),
            op_determinism,
            values.get("--filters", 8),
        )
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Subprocess helpers for tests/test_reliability.py and test_nan_guard.py.

Not a test module; nothing runs on import (pytest --doctest-modules imports
every file).

    python tests/_reliability_worker.py save_loop DIR BASE

builds the tiny Pix2Pix of tests/conftest.py, prints `ready`, waits for a
line on stdin, then saves forever, alternately `model.save(DIR/model.keras)`
and `model.save_weights(DIR/model.weights.h5)`. Before save number i (i =
BASE, BASE + 1, ...) every float weight, every optimizer variable,
`step_counter` and `lambda_l1` are set to i, so a file holds one value
throughout if and only if it is one complete save. After each save returns
it prints `keras i` or `weights i`. The test kills it at random moments.

    python tests/_reliability_worker.py mirrored_nan OUT_JSON

trains an instance-norm model with one NaN sample on the second of two
logical CPUs (MirroredStrategy) and on one device, with
`on_nonfinite="skip"` and `"stop"`, and writes counters, errors and the
largest weight difference to OUT_JSON.
"""

import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def set_everything(model, value):
    """Sets every float weight and optimizer variable (and counters)."""
    import numpy as np

    variables = list(model.weights)
    for opt in (model.g_optimizer, model.d_optimizer):
        variables += list(opt.variables)
    for v in variables:
        v.assign(np.full(v.shape, value, dtype=v.dtype))


def save_loop(directory, base):
    from tests.conftest import tiny_pix2pix

    model = tiny_pix2pix()
    model.compile()
    keras_path = os.path.join(directory, "model.keras")
    weights_path = os.path.join(directory, "model.weights.h5")
    print("ready", flush=True)
    sys.stdin.readline()
    i = base
    while True:
        set_everything(model, i)
        model.save(keras_path)
        print(f"keras {i}", flush=True)
        model.save_weights(weights_path)
        print(f"weights {i}", flush=True)
        i += 1


def mirrored_nan(out):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    import keras
    import numpy as np

    from tests.conftest import tiny_arrays
    from tests.conftest import tiny_pix2pix

    def build():
        return tiny_pix2pix(
            g_kw=dict(norm="instance", dropout=0.0), d_kw=dict(norm="instance")
        )

    x, y = tiny_arrays(n=12)
    y[6] = np.nan  # second global batch of 4: on the second replica
    report = {}
    keras.utils.set_random_seed(0)
    init = build().get_weights()
    for mode in ("skip", "stop"):
        for name, scope in (("mirrored", strategy), ("single", None)):
            if scope is not None:
                with scope.scope():
                    model = build()
            else:
                model = build()
            model.set_weights(init)

            def compile_it():
                model.compile(
                    g_optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
                    d_optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
                    on_nonfinite=mode,
                )

            if scope is not None:
                with scope.scope():
                    compile_it()
            else:
                compile_it()
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
            entry = {"error": None}
            try:
                history = model.fit(ds, epochs=1, verbose=0)
                entry["skipped_steps"] = history.history["skipped_steps"]
            except FloatingPointError as e:
                entry["error"] = f"{type(e).__name__}: {e}"
            entry["g_iterations"] = int(model.g_optimizer.iterations.numpy())
            entry["d_iterations"] = int(model.d_optimizer.iterations.numpy())
            entry["step_counter"] = int(keras.ops.convert_to_numpy(model.step_counter))
            weights = model.get_weights()
            entry["finite"] = bool(all(np.isfinite(w).all() for w in weights))
            report[f"{mode}/{name}"] = entry
            report[f"{mode}/{name}/weights"] = weights
    for mode in ("skip", "stop"):
        a, b = (
            report.pop(f"{mode}/mirrored/weights"),
            report.pop(f"{mode}/single/weights"),
        )
        report[f"{mode}/max_weight_diff"] = float(
            max(np.max(np.abs(u - v)) for u, v in zip(a, b))
        )
    with open(out, "w") as f:
        json.dump(report, f, indent=1)


def main(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, ROOT)
    if argv[0] == "save_loop":
        save_loop(argv[1], int(argv[2]))
    elif argv[0] == "mirrored_nan":
        mirrored_nan(argv[1])
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

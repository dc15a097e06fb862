"""Trains tiny Pix2Pix models under one tf.distribute setup, in a fresh process.

Run by tests/test_distribute.py; not a test module. Logical CPU devices and
MultiWorkerMirroredStrategy must be set up before TensorFlow initializes, so
each strategy gets its own process:

    python tests/_distribute_worker.py MODE OUT_DIR [MODEL ...]

MODE is `single` (no strategy, one device), `mirrored` (MirroredStrategy over
two logical CPUs) or `multiworker` (MultiWorkerMirroredStrategy, one CPU per
worker, the cluster from the TF_CONFIG environment variable). MODEL names
(default: all of `MODELS`) choose the normalizations to train. Every model
starts from `OUT_DIR/init_<model>.weights.h5`, which the `single` run writes
(the other modes wait for it, so all can start at once), trains `STEPS` SGD
steps on the same global batches of `GLOBAL_BATCH`, and the `EVALUATE` ones
are evaluated once. The process (the chief under multiworker) writes
`OUT_DIR/<MODE>.npz` (weights before and after training) and
`OUT_DIR/<MODE>.json` (per-batch logs, history, evaluate() results,
counters, batch-norm replica spread).

Nothing runs on import (pytest --doctest-modules imports every file).
"""

import json
import os
import sys
import time

GLOBAL_BATCH = 4
STEPS = 3
SIZE = 32
# Both networks use the same normalization; "sync_batch" is batch norm with
# every BatchNormalization layer switched to synchronized=True.
MODELS = ("instance", "sync_batch", "batch")
# Models also evaluated once after training (tracing costs time).
EVALUATE = ("instance",)
# Seconds to wait for the `single` run's initial weights.
INIT_WAIT = 240


def make_strategy(mode):
    import tensorflow as tf

    if mode == "mirrored":
        # Must happen before any TF op creates the context.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    if mode == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if mode == "single":
        return tf.distribute.get_strategy()
    raise SystemExit(f"unknown mode {mode!r}")


def dataset(n, seed):
    import tensorflow as tf

    from tests.conftest import tiny_arrays

    x, y = tiny_arrays(n, SIZE, seed=seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    # Each worker takes its share of every global batch (in-memory data has
    # no files to shard, and AUTO would warn before falling back to DATA).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return ds.with_options(options)


def synchronize_batch_norm(model):
    """Switches every BatchNormalization layer to cross-replica statistics."""
    import keras

    count = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True
            count += 1
    return count


def build(norm):
    from tests.conftest import tiny_pix2pix

    layer_norm = "batch" if norm == "sync_batch" else norm
    model = tiny_pix2pix(
        SIZE,
        # No dropout: replicas draw other masks than one device.
        g_kw={"norm": layer_norm, "dropout": 0.0},
        d_kw={"norm": layer_norm},
    )
    synced = synchronize_batch_norm(model) if norm == "sync_batch" else 0
    return model, synced


def run(mode, strategy, out, norm, weights, report):
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    init = os.path.join(out, f"init_{norm}.weights.h5")
    with strategy.scope():
        model, synced = build(norm)
        if mode == "single":
            # Written under a temporary name and renamed: the other
            # processes start at the same time and wait for the file.
            partial = init.replace(".weights.h5", ".partial.weights.h5")
            model.save_weights(partial)
            os.replace(partial, init)
        else:
            deadline = time.monotonic() + INIT_WAIT
            while not os.path.exists(init):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{init} did not appear")
                time.sleep(0.1)
            model.load_weights(init)
        # SGD, not Adam: its update is proportional to the gradient, so a
        # wrong loss scaling across replicas shows in the weights.
        model.compile(
            g_optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
            d_optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
        )

    initial = model.get_weights()
    batch_logs = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(
            {k: float(v) for k, v in logs.items()}
        )
    )
    history = model.fit(
        dataset(GLOBAL_BATCH * STEPS, 0), epochs=1, verbose=0, callbacks=[record]
    )
    evaluated = {}
    if norm in EVALUATE:
        evaluated = model.evaluate(
            dataset(2 * GLOBAL_BATCH, 1), verbose=0, return_dict=True
        )
    paths = [w.path for w in model.weights]
    for i, (w0, w1) in enumerate(zip(initial, model.get_weights())):
        weights[f"{norm}/init/{i:03d}"] = w0
        weights[f"{norm}/final/{i:03d}"] = w1

    def count(v):
        return int(keras.ops.convert_to_numpy(v))

    # How far this process's replica copies of the batch-norm moving
    # statistics drifted apart (0 with one local replica).
    spread = 0.0
    for w in model.weights:
        if "moving_" in w.path:
            local = [v.numpy() for v in strategy.experimental_local_results(w.value)]
            spread = max(
                [spread] + [float(np.max(np.abs(v - local[0]))) for v in local]
            )

    report[norm] = {
        "replicas": strategy.num_replicas_in_sync,
        "synchronized_bn_layers": synced,
        "weight_paths": paths,
        "batch_logs": batch_logs,
        "history": {k: v[-1] for k, v in history.history.items()},
        "evaluate": {k: float(v) for k, v in evaluated.items()},
        "g_iterations": count(model.g_optimizer.iterations),
        "d_iterations": count(model.d_optimizer.iterations),
        "step_counter": count(model.step_counter),
        "moving_stats_replica_spread": spread,
    }


def main(argv):
    mode, out, *norms = argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    strategy = make_strategy(mode)

    import keras
    import numpy as np

    keras.config.disable_traceback_filtering()  # full tracebacks in logs
    weights, report = {}, {}
    for norm in norms or MODELS:
        run(mode, strategy, out, norm, weights, report)
    with strategy.scope():
        model, _ = build("instance")
        try:
            model.compile(d_every=2)
            report["d_every_2"] = "accepted"
        except ValueError as e:
            report["d_every_2"] = f"ValueError: {e}"
    if mode != "multiworker" or strategy.cluster_resolver.task_id == 0:
        np.savez(os.path.join(out, f"{mode}.npz"), **weights)
        with open(os.path.join(out, f"{mode}.json"), "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    main(sys.argv[1:])

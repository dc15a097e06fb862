"""Every use of a private Keras or TensorFlow name, in one place.

The package needs a few things that Keras and TensorFlow do not offer
through public API. Each of them lives here, as a small function or class
with one clear interface, and with a note on the behaviour it works around
and the versions it was checked with. The rest of the package uses only
these names (`tests/test_compat.py` fails on a private Keras / TensorFlow
attribute anywhere else), so a new release that breaks one of them breaks
it here, where the note says what to look for.

Checked with tensorflow 2.21.0 and keras 3.15.1 (TensorFlow backend).
"""

import keras
import tensorflow as tf

# ---------------------------------------------------------------------------
# Attributes that Keras must not track


def set_untracked(obj, name, value):
    """Sets `obj.name = value` without Keras's attribute tracking.

    `keras.Layer.__setattr__` tracks layers, variables, lists and dicts (and
    saves them, and counts their weights); a `tf.function` or a helper
    model stored on a layer would be tracked too. `object.__setattr__`
    skips that hook (checked: keras 3.15.1).
    """
    object.__setattr__(obj, name, value)


def get_untracked(obj, name, default=None):
    """The value `set_untracked` stored, or `default` (no Keras lookup)."""
    return vars(obj).get(name, default)


# ---------------------------------------------------------------------------
# Layers


def flatten_layers(layer, include_self=True):
    """All layers nested in `layer` (depth first), itself first if asked.

    Keras has no public recursive walk (`Model.layers` lists one level);
    `Layer._flatten_layers` is what `Layer.weights` itself uses (checked:
    keras 3.15.1). Without it, the walk falls back to the public `layers`
    attribute of nested models.
    """
    walk = getattr(layer, "_flatten_layers", None)
    if walk is not None:
        return list(walk(include_self=include_self))
    out, stack = [], [layer]
    while stack:
        current = stack.pop()
        if current is not layer or include_self:
            out.append(current)
        stack.extend(reversed(list(getattr(current, "layers", ()))))
    return out


# ---------------------------------------------------------------------------
# Models and training loop


class SkipSymbolicBuild:
    """Mixin for a model whose networks are built in `__init__`.

    Keras's `fit()` calls `Trainer._maybe_symbolic_build` to build a model
    by tracing one batch. A Pix2Pix model is built already, so there is
    nothing to do; under `MultiWorkerMirroredStrategy` Keras 3.15 would
    also pass the `(source, target)` batch to `strategy.reduce`, which that
    strategy cannot reduce. Overrides a private hook (checked: keras
    3.15.1).
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        return


def scope_strategy(model):
    """The strategy `model` was created under, or `None` (no scope).

    `Model.distribute_strategy` falls back to the current default
    strategy; this is only the one Keras recorded at creation
    (`Trainer._distribute_strategy`; checked: keras 3.15.1).
    """
    return getattr(model, "_distribute_strategy", None)


def forget_initial_epoch(model):
    """Clears the epoch `BackupAndRestore` left on `model`.

    Keras's BackupAndRestore sets `model._initial_epoch` when it restores
    a backup and never clears it, so a later `fit()` of the same model
    would start at that epoch too (checked: keras 3.15.1).
    """
    model._initial_epoch = None


def learning_rate_schedule(optimizer):
    """The object behind `optimizer.learning_rate`: a variable or a
    `LearningRateSchedule` (`learning_rate` evaluates a schedule; the
    schedule itself is `Optimizer._learning_rate`; checked: keras
    3.15.1)."""
    return getattr(optimizer, "_learning_rate", optimizer.learning_rate)


def iterator_dataset(iterator):
    """The `tf.data.Dataset` a tf.data iterator iterates, or `None`.

    `OwnedIterator` has no public link to its dataset; `_dataset` is set by
    its constructor (checked: tensorflow 2.21.0). Keras's distributed
    iterators have no such attribute (then `None`).
    """
    return getattr(iterator, "_dataset", None)


# ---------------------------------------------------------------------------
# tf.distribute


def in_multi_worker_mode(strategy=None):
    """Whether `strategy` (default: the current one) spans several workers.

    `MultiWorkerMirroredStrategy` with a one-worker cluster is not
    multi-worker; `StrategyExtended._in_multi_worker_mode` is the only way
    to tell (checked: tensorflow 2.21.0).
    """
    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    return bool(strategy.extended._in_multi_worker_mode())


def reducible_logs(logs):
    """Step logs in a form Keras can average across workers.

    Keras 3.15 averages step logs across the workers of a multi-worker
    strategy with `strategy.reduce("MEAN", v, axis=0)`, which rejects
    scalars (tensorflow/tensorflow#72388): each value gets a batch axis of
    1 there. Elsewhere `logs` is returned as is.
    """
    if not in_multi_worker_mode():
        return logs
    return {key: keras.ops.reshape(v, (1,)) for key, v in logs.items()}


def run_if(condition, fn, args):
    """Runs `fn(*args)` (which may apply gradients) if `condition`.

    `condition` must be the same on all replicas. Outside a strategy, or
    under one that needs no `merge_call` to apply gradients, this is a
    `tf.cond`. Under `MirroredStrategy` an optimizer's `apply_gradients`
    synchronizes the replicas with `merge_call`, which a `tf.cond` in
    replica context cannot contain (RuntimeError "`merge_call` called
    while defining a new graph"): the decision is then taken in
    cross-replica context, as Keras's `LossScaleOptimizer` does, and each
    replica runs `fn` with its own `args`. Whether a strategy needs the
    merge call is only exposed as
    `tf.__internal__.distribute.strategy_supports_no_merge_call`
    (checked: tensorflow 2.21.0).
    """

    def run():
        fn(*args)
        return tf.constant(True)

    def skip():
        return tf.constant(False)

    if not tf.distribute.has_strategy() or (
        tf.__internal__.distribute.strategy_supports_no_merge_call()
    ):
        tf.cond(condition, run, skip)
        return

    def cross_replica(distribution, condition, *args):
        first = distribution.experimental_local_results(condition)[0]

        def run_all():
            distribution.extended.call_for_each_replica(fn, args=args)
            return tf.constant(True)

        return tf.cond(first, run_all, skip)

    tf.distribute.get_replica_context().merge_call(
        cross_replica, args=(condition, *args)
    )


# ---------------------------------------------------------------------------
# keras.callbacks.BackupAndRestore


def _read_write(attribute):
    """A property reading and writing the private attribute `attribute`."""
    return property(
        lambda self: getattr(self, attribute),
        lambda self, value: setattr(self, attribute, value),
    )


class BackupAndRestoreBase(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` with its state under public names.

    The package's `BackupAndRestore` writes the backup itself (atomically)
    and resumes mid-epoch, so it needs the state Keras keeps in private
    attributes (checked: keras 3.15.1): the backup paths, the epoch and batch
    counters, and the hook that writes a backup (`_save_model`), which
    calls `save_backup()` here.
    """

    @property
    def weights_path(self):
        return self._weights_path

    @property
    def metadata_path(self):
        return self._training_metadata_path

    current_epoch = _read_write("_current_epoch")
    last_batch_seen = _read_write("_last_batch_seen")

    def reset_save_counter(self):
        """Counts the batches towards `save_freq` from zero again."""
        self._batches_seen_since_last_saving = 0

    def save_backup(self):
        """Writes the backup (Keras's own writer by default)."""
        super()._save_model()

    def _save_model(self):
        self.save_backup()

"""The machinery of a GAN training step that is not the GAN itself.

`Pix2Pix.train_step` (and `BicycleGAN.train_step`) compute the losses and
gradients; the pieces here do the rest, each behind one small interface:

- `replica_scaled(loss)`: a loss divided for the gradient all-reduce of a
  multi-replica strategy; `scaled_loss(loss, optimizer)` also applies the
  optimizer's loss scale (`LossScaleOptimizer` under float16).
- `loss_scaled(optimizer, network)`: the optimizer wrapped in a
  `keras.optimizers.LossScaleOptimizer` when the network computes in
  float16.
- `Updates`: applies `{"g": [(optimizer, gradients, variables), ...],
  "d": [...]}`, through XLA when `compile(jit_optimizer=...)` asks for it.
- `StepGuardMixin`: the step guard of `compile(on_nonfinite=...,
  check_inputs=...)`. It checks the batch, applies the same updates only
  if every value is finite, counts the step, and makes `fit()` raise.
- `wrap_train_function` / `unwrap_train_function`: a wrapper around
  `model.train_function` that can be removed again.
- `current_learning_rate(optimizer)`: an optimizer's rate as a float.
"""

import keras
import tensorflow as tf
from keras import ops

from pix2pix_keras import _compat

__all__ = [
    "INPUT_RANGE_TOLERANCE",
    "NonFiniteError",
    "ON_NONFINITE",
    "StepGuardMixin",
    "XlaUpdates",
    "apply_updates",
    "current_learning_rate",
    "replica_scaled",
    "unwrap_train_function",
    "wrap_train_function",
]

# What each entry of the guard's per-step flag vector means. Entries 0-5
# are non-finite values (skipped with on_nonfinite="skip"); 6-7 are finite
# inputs outside [-1, 1] (always stop training).
_GUARD_FLAGS = (
    "g_loss",
    "d_loss",
    "g_gradient",
    "d_gradient",
    "source_nonfinite",
    "target_nonfinite",
    "source_range",
    "target_range",
)
_SKIPPABLE = 6
ON_NONFINITE = ("stop", "skip", None)
# Inputs may exceed [-1, 1] by this much (float rounding of x / 127.5 - 1).
INPUT_RANGE_TOLERANCE = 1e-3


def replica_scaled(loss):
    """`loss` divided by the number of replicas in sync.

    Keras all-reduces gradients with SUM across replicas, so each replica's
    mean loss is divided by their number (1 without a strategy). Call it
    inside the gradient tape.
    """
    return loss / tf.distribute.get_strategy().num_replicas_in_sync


def scaled_loss(loss, optimizer):
    """The loss a step differentiates for `optimizer`'s update.

    `replica_scaled(loss)`, then `optimizer.scale_loss(...)`: multiplied by
    the dynamic loss scale of a `keras.optimizers.LossScaleOptimizer` (its
    `apply` divides the gradients by the same scale, and skips the update
    and halves the scale when they are not finite), by a plain optimizer's
    `loss_scale_factor` when one is set, and returned unchanged otherwise
    (the same tensor: float32 and bfloat16 steps are unchanged). Call it
    inside the gradient tape. The logged losses stay unscaled.
    """
    return optimizer.scale_loss(replica_scaled(loss))


def is_loss_scaled(optimizer):
    """Whether `optimizer` is a `keras.optimizers.LossScaleOptimizer`."""
    return isinstance(optimizer, keras.optimizers.LossScaleOptimizer)


def loss_scaled(optimizer, network):
    """`optimizer`, wrapped in a `LossScaleOptimizer` when `network`
    computes in float16 (dtype policy `"mixed_float16"`) and it is not one
    already, as `keras.Model.compile` wraps the optimizer of a standard
    model: float16 gradients underflow without loss scaling."""
    policy = getattr(network, "dtype_policy", None)
    if getattr(policy, "name", None) == "mixed_float16" and not is_loss_scaled(
        optimizer
    ):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def current_learning_rate(optimizer):
    """The optimizer's current learning rate as a float, or `None` when it
    is not a number (a schedule)."""
    try:
        return float(ops.convert_to_numpy(optimizer.learning_rate))
    except (TypeError, ValueError):
        return None


def apply_updates(updates):
    """Applies `{side: [(optimizer, gradients, variables), ...]}` in order."""
    for triples in updates.values():
        for optimizer, grads, variables in triples:
            optimizer.apply_gradients(zip(grads, variables))


class XlaUpdates:
    """`apply_updates` compiled with XLA, one function per set of optimizers.

    Only the gradients are arguments of the compiled function; the
    optimizers and variables of each update are fixed when it is first
    traced.
    """

    def __init__(self):
        self._functions = {}

    def __call__(self, updates):
        key = tuple(
            (side, tuple(id(opt) for opt, _, _ in triples))
            for side, triples in updates.items()
        )
        function = self._functions.get(key)
        if function is None:
            plan = {
                side: [(opt, variables) for opt, _, variables in triples]
                for side, triples in updates.items()
            }

            def apply(grads):
                apply_updates(
                    {
                        side: [
                            (opt, g, variables)
                            for (opt, variables), g in zip(plan[side], grads[side])
                        ]
                        for side in plan
                    }
                )

            function = tf.function(apply, jit_compile=True)
            self._functions[key] = function
        function(
            {
                side: [list(grads) for _, grads, _ in triples]
                for side, triples in updates.items()
            }
        )


# ---------------------------------------------------------------------------
# The train function


def wrap_train_function(model, wrapper, tag):
    """Sets `model.train_function = wrapper(model.train_function)`.

    `tag` names the wrapper, so that `unwrap_train_function(model, tag)`
    removes it (and only it) again. Returns the new train function.
    """
    inner = model.train_function
    outer = wrapper(inner)
    outer.pix2pix_wrapped = (tag, inner)
    model.train_function = outer
    return outer


def unwrap_train_function(model, tag):
    """Removes the outermost wrappers of `model.train_function` made with
    `tag` by `wrap_train_function`."""
    function = getattr(model, "train_function", None)
    while getattr(function, "pix2pix_wrapped", (None,))[0] == tag:
        function = function.pix2pix_wrapped[1]
        model.train_function = function


# ---------------------------------------------------------------------------
# The step guard


class NonFiniteError(FloatingPointError):
    """Raised by `fit()` when a step has a NaN or Inf loss, gradient or input.

    The step's updates were not applied. Attributes: `step` (the value of
    `model.step_counter`, which the stop left unchanged) and `flags`
    (names from `g_loss`, `d_loss`, `g_gradient`, `d_gradient`,
    `source_nonfinite`, `target_nonfinite`).
    """

    def __init__(self, message, step=None, flags=()):
        super().__init__(message)
        self.step = step
        self.flags = tuple(flags)


class _StepGuard(keras.metrics.Metric):
    """The first step that stopped training, recorded inside the graph.

    Kept out of `Pix2Pix.metrics` and out of saved files. `mask` has bit i
    set for `_GUARD_FLAGS[i]`; `step` is `step_counter` at that step;
    `values` holds its g_loss, d_loss and the largest finite |x| of the
    source and target batches. Zero `mask`: nothing happened.
    """

    def __init__(self, name="step_guard"):
        super().__init__(name=name)
        self.mask = self.add_variable(
            (), "zeros", "float32", aggregation="only_first_replica", name="mask"
        )
        self.step = self.add_variable(
            (), "zeros", "int64", aggregation="only_first_replica", name="step"
        )
        self.values = self.add_variable(
            (4,), "zeros", "float32", aggregation="only_first_replica", name="values"
        )

    def update_state(self, *args, **kwargs):
        raise NotImplementedError("Written by Pix2Pix.train_step only.")

    def result(self):
        return self.mask


def _global_norm(grads):
    squares = [
        ops.sum(ops.square(ops.cast(g, "float32"))) for g in grads if g is not None
    ]
    if not squares:
        return ops.zeros((), "float32")
    return ops.sqrt(sum(squares))


def _not_finite(x):
    return 1.0 - ops.cast(ops.all(ops.isfinite(x)), "float32")


def _step_guard_error(mask, step, values):
    """The exception `fit()` raises for a step the guard stopped."""
    bad = [name for i, name in enumerate(_GUARD_FLAGS) if int(mask) >> i & 1]
    g_loss, d_loss, source_max, target_max = (float(v) for v in values)
    said = {
        "source_nonfinite": "the source batch contains NaN or Inf",
        "target_nonfinite": "the target batch contains NaN or Inf",
        "source_range": f"the source batch has values up to |x| = {source_max:.4g}",
        "target_range": f"the target batch has values up to |x| = {target_max:.4g}",
        "g_loss": f"g_loss = {g_loss}",
        "d_loss": f"d_loss = {d_loss}",
        "g_gradient": "the gradient of g_loss (generator) is NaN or Inf",
        "d_gradient": "the gradient of d_loss (discriminator) is NaN or Inf",
    }
    order = [name for name in _GUARD_FLAGS[4:] + _GUARD_FLAGS[:4] if name in bad]
    found = "; ".join(said[name] for name in order)
    kept = (
        "The step was not applied: the weights and both optimizers are as "
        f"before it (model.step_counter is still {step}), so no checkpoint "
        "holds it."
    )
    if any(name.endswith("_range") for name in bad):
        return ValueError(
            f"Bad input batch at training step {step} (model.step_counter): "
            f"{found}. Pix2Pix expects float images in [-1, 1] (8-bit "
            f"images: x / 127.5 - 1). {kept} compile(check_inputs=False) "
            "turns this check off."
        )
    hint = (
        "Check the data of this batch; lower the learning rate or clip the "
        "gradients (`global_clipnorm` on both optimizers); or "
        'compile(on_nonfinite="skip") to skip such steps (counted in '
        "`skipped_steps`)."
    )
    return NonFiniteError(
        f"Non-finite values at training step {step} (model.step_counter): "
        f"{found}. Training stopped. {kept} {hint}",
        step=step,
        flags=bad,
    )


class StepGuardMixin:
    """The step guard and the update of a two-player model's step.

    The model provides `step_counter`, `on_nonfinite`, `check_inputs` and
    `networks()` (whose non-trainable variables a step that is not
    applied puts back). The step calls, in order:

    1. `checks = self._check_batch(source, target)` (`None`: guard off);
    2. `self.apply_updates(updates, values, checks)` with the step's
       `{"g": [(optimizer, gradients, variables), ...], "d": [...]}`;
    3. `self._end_step(values, checks)`, which counts the step.
    """

    def _setup_guard(self, jit_optimizer_on):
        """Called by `compile()`: the XLA updates and the guard's state."""
        # Neither is tracked by Keras (not saved, not a listed metric).
        _compat.set_untracked(
            self, "_xla_updates", XlaUpdates() if jit_optimizer_on else None
        )
        # In the model's strategy, as the step writes it on every replica.
        with self.distribute_strategy.scope():
            _compat.set_untracked(self, "_step_guard", _StepGuard())

    def _guard_on(self):
        return _compat.get_untracked(self, "_step_guard") is not None and (
            getattr(self, "on_nonfinite", None) is not None
            or getattr(self, "check_inputs", False)
        )

    def _check_batch(self, source, target):
        """Flags for non-finite and out-of-range inputs, or None (no guard).

        Returns a dict: `bad`, a float vector (source non-finite, target
        non-finite, source out of range, target out of range) of 0/1, the
        largest finite |x| of each batch, and `state`: the values of the
        networks' non-trainable variables before the step (batch-norm
        statistics and dropout RNG states change in the forward pass; a
        step that is not applied puts them back).
        """
        on_nonfinite = getattr(self, "on_nonfinite", None)
        check_inputs = getattr(self, "check_inputs", False)
        if on_nonfinite is None and not check_inputs:
            return None
        zero = ops.zeros((), "float32")
        maxima = [
            ops.max(ops.where(ops.isfinite(x), ops.abs(x), ops.zeros_like(x)))
            for x in (source, target)
        ]
        nonfinite = [
            zero if on_nonfinite is None else _not_finite(x) for x in (source, target)
        ]
        outside = [
            ops.cast(m > 1.0 + INPUT_RANGE_TOLERANCE, "float32")
            if check_inputs
            else zero
            for m in maxima
        ]
        return {
            "bad": ops.stack(nonfinite + outside),
            "source_max": maxima[0],
            "target_max": maxima[1],
            # tf.identity reads now (a Keras variable converts to itself).
            "state": [tf.identity(v.value) for v in self._forward_state()],
        }

    def _forward_state(self):
        seen, out = set(), []
        for net in self.networks():
            for v in net.non_trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def _restore_forward_state(self, values):
        for v, value in zip(self._forward_state(), values):
            v.assign(value)

    def _apply_now(self, updates):
        xla = _compat.get_untracked(self, "_xla_updates")
        if xla is not None:
            xla(updates)
        else:
            apply_updates(updates)

    def apply_updates(self, updates, values, checks=None):
        """Applies the step's updates, or (guard on) only if all is finite.

        Args:
            updates: dict. `"g"` (and, on a step that updates D, `"d"`):
                lists of `(optimizer, gradients, variables)`, applied in
                order. The guard checks the `"g"` gradients with
                `values["g_loss"]` and the `"d"` ones with
                `values["d_loss"]`.
            values: dict of the step's losses; gets `_bad` (the 8 flags
                of `_GUARD_FLAGS`, agreed by all replicas) and `_applied`
                (1.0 or 0.0) when the guard is on.
            checks: what `_check_batch` returned (`None`: no guard).

        A step is not applied when a flag is set or an earlier step of
        this `fit()` stopped training (with `steps_per_execution > 1` the
        rest of the execution then changes nothing).
        """
        if checks is None:
            self._apply_now(updates)
            return
        zero = ops.zeros((), "float32")
        d_step = "d" in updates
        if self.on_nonfinite is None:
            found = [zero] * 4
        else:
            found = [
                _not_finite(values["g_loss"]),
                _not_finite(values["d_loss"]) if d_step else zero,
                self._grads_not_finite(updates["g"]),
                self._grads_not_finite(updates["d"]) if d_step else zero,
            ]
        bad = ops.concatenate([ops.stack(found), checks["bad"]])
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            # A NaN on one replica reaches all through the gradient
            # all-reduce: every replica must skip the same steps.
            context = tf.distribute.get_replica_context()
            bad = ops.minimum(context.all_reduce(tf.distribute.ReduceOp.SUM, bad), 1.0)
        ok = ops.logical_and(
            ops.all(ops.equal(bad, 0.0)),
            ops.equal(self._step_guard.mask, 0.0),
        )
        # Only the gradients pass through the replica machinery; the
        # optimizers and variables stay fixed.
        plan = {
            side: [(opt, variables) for opt, _, variables in triples]
            for side, triples in updates.items()
        }

        def apply(grads):
            self._apply_now(
                {
                    side: [
                        (opt, g, variables)
                        for (opt, variables), g in zip(plan[side], grads[side])
                    ]
                    for side in plan
                }
            )

        grads = {
            side: [list(g) for _, g, _ in triples] for side, triples in updates.items()
        }
        _compat.run_if(ok, apply, (grads,))
        _compat.run_if(
            ops.logical_not(ok), self._restore_forward_state, (checks["state"],)
        )
        values["_bad"] = bad
        values["_applied"] = ops.cast(ok, "float32")

    @staticmethod
    def _grads_not_finite(triples):
        # A LossScaleOptimizer handles its own non-finite gradients (an
        # overflow of the loss scale): it skips that update and halves the
        # scale, so they are not a reason to stop or skip the step.
        grads = [
            g
            for opt, gradients, _ in triples
            if not is_loss_scaled(opt)
            for g in gradients
        ]
        return _not_finite(_global_norm(grads))

    def _end_step(self, values, checks):
        """Counts the step if applied; records the first one that stops."""
        if checks is None:
            self.step_counter.assign_add(1)
            return
        guard = self._step_guard
        step = tf.identity(self.step_counter.value)  # before this step
        bad = values["_bad"]
        halted = ops.greater(guard.mask, 0.0)
        stopping = bad if self.on_nonfinite == "stop" else bad[_SKIPPABLE:]
        stops = ops.logical_and(
            ops.any(ops.greater(stopping, 0.0)), ops.logical_not(halted)
        )
        bits = 2.0 ** ops.arange(len(_GUARD_FLAGS), dtype="float32")
        guard.mask.assign(ops.where(stops, ops.sum(bad * bits), guard.mask))
        guard.step.assign(ops.where(stops, step, guard.step))
        found = ops.stack(
            [
                ops.cast(values["g_loss"], "float32"),
                ops.cast(values["d_loss"], "float32"),
                checks["source_max"],
                checks["target_max"],
            ]
        )
        guard.values.assign(ops.where(stops, found, guard.values))
        if self.on_nonfinite == "skip":
            skipped = ops.logical_and(
                ops.any(ops.greater(bad[:_SKIPPABLE], 0.0)),
                ops.logical_not(
                    ops.logical_or(halted, ops.any(ops.greater(bad[_SKIPPABLE:], 0.0)))
                ),
            )
            values["_skipped"] = ops.cast(skipped, "float32")
        self.step_counter.assign_add(ops.cast(values["_applied"], "int64"))

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=True)
        if not self._guard_on():
            return self.train_function

        def raising(step_function):
            def train_function(iterator):
                logs = step_function(iterator)
                self._raise_if_stopped()
                return logs

            return train_function

        # Raising here, before the callbacks see the step, keeps
        # ModelCheckpoint & co. from writing anything after a bad step.
        return wrap_train_function(self, raising, "step_guard")

    def _raise_if_stopped(self):
        """Raises the error of a step the guard stopped (and resets it)."""
        guard = self._step_guard
        mask = int(round(float(ops.convert_to_numpy(guard.mask))))
        if not mask:
            return
        step = int(ops.convert_to_numpy(guard.step))
        values = ops.convert_to_numpy(guard.values)
        guard.reset_state()
        raise _step_guard_error(mask, step, values)

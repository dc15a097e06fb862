"""The step guard: compile(on_nonfinite="stop" | "skip" | None).

NaN targets are injected at known steps. "stop": fit raises NonFiniteError
naming the step and what was non-finite, and every variable (weights,
batch-norm statistics, dropout RNG states, both optimizers) is bit-equal to
its value after the last good step; a checkpoint written before stays
loadable. "skip": training goes on, `skipped_steps` counts exactly the bad
steps, the optimizers move only on good steps and nothing becomes NaN. Both
with and without XLA (jit_compile=True), and on the generator-only steps of
d_every=2. Under MirroredStrategy in a subprocess.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from pix2pix_keras.models.pix2pix import NonFiniteError
from tests.conftest import tiny_arrays
from tests.conftest import tiny_pix2pix

WORKER = os.path.join(os.path.dirname(__file__), "_reliability_worker.py")
JIT = pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])


def _state(model):
    """Every variable the step may change, as arrays."""
    variables = (
        list(model.variables)
        + list(model.g_optimizer.variables)
        + list(model.d_optimizer.variables)
    )
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _int(v):
    return int(keras.ops.convert_to_numpy(v))


class StateRecorder(keras.callbacks.Callback):
    """Snapshots the whole state after every batch."""

    def __init__(self):
        super().__init__()
        self.states = []

    def on_train_batch_end(self, batch, logs=None):
        self.states.append(_state(self.model))


def _data(bad_batches=(), n=8, batch_size=2):
    x, y = tiny_arrays(n)
    for b in bad_batches:
        y[b * batch_size] = np.nan  # one image of batch b
    return x, y


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


# ----------------------------------------------------------------------
# on_nonfinite="stop" (the default)


@JIT
def test_stop_raises_at_the_bad_step_and_keeps_the_last_good_state(
    tmp_path, jit_compile
):
    model = tiny_pix2pix()
    model.compile(jit_compile=jit_compile)
    assert model.on_nonfinite == "stop"
    x, y = _data(bad_batches=[2])
    recorder = StateRecorder()
    checkpoint = tmp_path / "ckpt.keras"
    with pytest.raises(NonFiniteError) as info:
        model.fit(
            x,
            y,
            batch_size=2,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[
                recorder,
                keras.callbacks.ModelCheckpoint(str(checkpoint), save_freq=1),
            ],
        )
    message = str(info.value)
    assert message.startswith(
        "Non-finite values at training step 2 (model.step_counter): the "
        "target batch contains NaN or Inf; g_loss = nan; d_loss = nan;"
    )
    assert "model.step_counter is still 2" in message
    assert info.value.step == 2
    assert set(info.value.flags) == {
        "g_loss",
        "d_loss",
        "g_gradient",
        "d_gradient",
        "target_nonfinite",
    }
    assert isinstance(info.value, FloatingPointError)

    # The callbacks never saw the bad step; the state is bit-equal to the
    # one after the last good step (batch 1), BN statistics and RNG too.
    assert len(recorder.states) == 2
    _assert_same(_state(model), recorder.states[-1])
    assert _int(model.step_counter) == 2
    assert _int(model.g_optimizer.iterations) == 2
    assert _int(model.d_optimizer.iterations) == 2

    # The last checkpoint (after batch 1) loads and equals that state.
    assert os.listdir(tmp_path) == ["ckpt.keras"]
    loaded = keras.saving.load_model(checkpoint)
    _assert_same(_state(loaded), _state(model))

    # The guard was reset: the model trains on clean data afterwards.
    model.fit(*_data(), batch_size=2, epochs=1, verbose=0)
    assert _int(model.step_counter) == 6


def test_stop_names_the_step_counted_over_all_training():
    model = tiny_pix2pix()
    model.compile()
    model.fit(*_data(), batch_size=2, epochs=1, verbose=0)  # steps 0-3
    with pytest.raises(NonFiniteError, match=r"training step 5 \("):
        model.fit(
            *_data(bad_batches=[1]), batch_size=2, epochs=1, shuffle=False, verbose=0
        )
    assert _int(model.step_counter) == 5


def test_stop_on_an_overflowing_loss_names_that_loss():
    """Finite but huge targets (range check off): 100·L1 overflows."""
    model = tiny_pix2pix()
    model.compile(check_inputs=False)
    x, y = _data()
    y[2:4] = 1e38  # batch 1; the L1 term is ~1e38, λ·L1 = inf
    with pytest.raises(NonFiniteError) as info:
        model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert str(info.value).startswith(
        "Non-finite values at training step 1 (model.step_counter): g_loss = inf"
    )
    assert "g_loss" in info.value.flags
    assert not {"source_nonfinite", "target_nonfinite"} & set(info.value.flags)
    assert all(np.isfinite(s).all() for s in _state(model))


def test_stop_within_steps_per_execution_applies_no_later_step():
    """With 3 steps per execution, the steps after the bad one in the same
    execution change nothing either."""
    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    model.compile(steps_per_execution=3)
    with pytest.raises(NonFiniteError, match="training step 1 "):
        model.fit(
            *_data(bad_batches=[1]), batch_size=2, epochs=1, shuffle=False, verbose=0
        )
    assert _int(model.g_optimizer.iterations) == 1

    # Same as one clean step from the same start.
    keras.utils.set_random_seed(0)
    reference = tiny_pix2pix()
    reference.compile(steps_per_execution=3)
    x, y = _data()
    reference.fit(x[:2], y[:2], batch_size=2, epochs=1, verbose=0)
    _assert_same(_state(model), _state(reference))


def test_stop_from_train_on_batch():
    model = tiny_pix2pix()
    model.compile()
    x, y = _data(bad_batches=[0])
    before = _state(model)
    with pytest.raises(NonFiniteError, match="training step 0 "):
        model.train_on_batch(x[:2], y[:2])
    _assert_same(_state(model), before)
    logs = model.train_on_batch(x[2:4], y[2:4], return_dict=True)
    assert sorted(logs) == ["d_fake", "d_loss", "d_real", "g_gan", "g_l1", "g_loss"]
    assert _int(model.step_counter) == 1


def test_stop_on_the_generator_only_step_of_d_every_2():
    model = tiny_pix2pix()
    model.compile(d_every=2)
    with pytest.raises(NonFiniteError) as info:
        model.fit(
            *_data(bad_batches=[1]), batch_size=2, epochs=1, shuffle=False, verbose=0
        )
    # A G-only step: D's loss and gradient are not computed there.
    assert set(info.value.flags) == {"g_loss", "g_gradient", "target_nonfinite"}
    assert "d_loss" not in str(info.value)
    assert _int(model.g_optimizer.iterations) == 1
    assert _int(model.d_optimizer.iterations) == 1


# ----------------------------------------------------------------------
# on_nonfinite="skip"


@JIT
@pytest.mark.parametrize("d_every", [1, 2])
def test_skip_counts_exactly_the_bad_steps(jit_compile, d_every):
    model = tiny_pix2pix()
    model.compile(on_nonfinite="skip", jit_compile=jit_compile, d_every=d_every)
    recorder = StateRecorder()
    # Batch 1 of each epoch is bad: 2 of 8 steps.
    history = model.fit(
        *_data(bad_batches=[1]),
        batch_size=2,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[recorder],
    )
    assert history.history["skipped_steps"] == [1.0, 1.0]
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert _int(model.step_counter) == 6
    assert _int(model.g_optimizer.iterations) == 6
    # D steps: counter 0, 2, 4 with d_every=2 (a skipped step keeps the
    # counter, so the next batch takes its phase).
    assert _int(model.d_optimizer.iterations) == (6 if d_every == 1 else 3)
    assert all(np.isfinite(s).all() for s in _state(model))
    # A skipped step changes nothing at all.
    _assert_same(recorder.states[1], recorder.states[0])
    _assert_same(recorder.states[5], recorder.states[4])
    assert not all(
        np.array_equal(a, b) for a, b in zip(recorder.states[2], recorder.states[1])
    )


def test_skip_logs_per_epoch_and_is_saved_with_the_model(tmp_path):
    model = tiny_pix2pix()
    model.compile(on_nonfinite="skip")
    assert [m.name for m in model.metrics][-3:] == ["skipped_steps", "psnr", "ssim"]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.on_nonfinite == "skip"
    assert loaded.check_inputs is True
    history = loaded.fit(
        *_data(bad_batches=[0, 3]), batch_size=2, epochs=1, shuffle=False, verbose=0
    )
    assert history.history["skipped_steps"] == [2.0]
    # evaluate() reports no skip count.
    result = loaded.evaluate(*_data(), batch_size=2, verbose=0, return_dict=True)
    assert "skipped_steps" not in result


# ----------------------------------------------------------------------
# on_nonfinite=None: the check is off


def test_none_applies_every_step_as_before():
    model = tiny_pix2pix()
    model.compile(on_nonfinite=None)
    history = model.fit(
        *_data(bad_batches=[2]), batch_size=2, epochs=1, shuffle=False, verbose=0
    )
    assert "skipped_steps" not in history.history
    assert _int(model.g_optimizer.iterations) == 4
    assert not np.isfinite(history.history["g_loss"][0])
    assert not all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize(
    "kwargs, shown",
    [
        (dict(on_nonfinite="ignore"), "on_nonfinite='ignore'"),
        (dict(on_nonfinite=True), "on_nonfinite=True"),
        (dict(check_inputs="yes"), "check_inputs='yes'"),
    ],
)
def test_compile_rejects_bad_guard_arguments(kwargs, shown):
    with pytest.raises(ValueError, match=shown):
        tiny_pix2pix().compile(**kwargs)


# ----------------------------------------------------------------------
# MirroredStrategy (two logical CPUs, in a fresh process)


def test_guard_under_mirrored_strategy(tmp_path):
    out = tmp_path / "mirrored.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(
        [sys.executable, WORKER, "mirrored_nan", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    for name in ("mirrored", "single"):
        skip = report[f"skip/{name}"]
        # 3 global batches of 4, the second with one NaN target (on the
        # second replica): skipped on both replicas.
        assert skip["skipped_steps"] == [1.0]
        assert (skip["g_iterations"], skip["d_iterations"], skip["step_counter"]) == (
            2,
            2,
            2,
        )
        assert skip["finite"]
        stop = report[f"stop/{name}"]
        assert stop["error"].startswith(
            "NonFiniteError: Non-finite values at training step 1 "
        )
        assert (stop["g_iterations"], stop["step_counter"]) == (1, 1)
        assert stop["finite"]
    # The replicas' all-reduced gradients match one device (as in
    # test_distribute.py, measured 8e-8).
    assert report["skip/max_weight_diff"] < 1e-5
    assert report["stop/max_weight_diff"] < 1e-5

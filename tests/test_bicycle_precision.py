"""BicycleGAN under the `mixed_float16` dtype policy (tiny 32×32 networks).

Float16 gradients underflow without loss scaling, so `BicycleGAN.compile`
wraps every optimizer (G, D, E and D2) in a `LossScaleOptimizer` when its
network computes in float16, and `train_step` scales each loss by its own
optimizer's scale. These tests check that with numbers: the wrapped
optimizers, finite weights and float32 losses after a few steps, float32
outputs, an overflow that skips the update and halves the scale, and a
save/load round trip that keeps the optimizers' state. Tracing a float16
BicycleGAN step is slow on a CPU, so one model trained once (`trained`)
serves every test that only reads it.
"""

import contextlib
import math

import keras
import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras._compat import flatten_layers
from tests.conftest import tiny_arrays
from tests.test_bicycle import LATENT
from tests.test_bicycle import tiny_bicycle

SIZE = 32


@contextlib.contextmanager
def _policy(name):
    previous = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy(name)
    keras.utils.set_random_seed(0)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert keras.config.dtype_policy().name == previous.name


@pytest.fixture
def float16():
    """The global dtype policy `mixed_float16`, restored afterwards."""
    with _policy("mixed_float16"):
        yield


@pytest.fixture(scope="module")
def trained():
    """A float16 BicycleGAN trained 2 epochs of 2 steps, with its data, its
    weights before training and the fit history. Tests must not change it."""
    with _policy("mixed_float16"):
        model = tiny_bicycle()
        model.compile()
        x, y = tiny_arrays(n=4, size=SIZE)
        before = {n.name: values(n.trainable_weights) for n in model.networks()}
        history = model.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
        yield model, x, y, before, history.history


def optimizers(model):
    """`{name: optimizer}` of every network the model trains."""
    names = ["g", "d", "e"] + ([] if model.discriminator2 is None else ["d2"])
    return {n: getattr(model, f"{n}_optimizer") for n in names}


def values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def conv_dtypes(network):
    return {
        (layer.compute_dtype, layer.variable_dtype)
        for layer in flatten_layers(network)
        if isinstance(layer, keras.layers.Conv2D)
    }


@pytest.mark.parametrize("shared", [False, True], ids=["two_d", "shared_d"])
def test_compile_wraps_every_optimizer_in_a_loss_scale_optimizer(float16, shared):
    model = tiny_bicycle(shared=shared)
    model.compile()
    opts = optimizers(model)
    assert sorted(opts) == (["d", "e", "g"] if shared else ["d", "d2", "e", "g"])
    for name, opt in opts.items():
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer), name
        assert isinstance(opt.inner_optimizer, keras.optimizers.Adam), name
        assert float(opt.dynamic_scale) == 2.0**15, name
    # Four different optimizers: no two networks share one loss scale.
    assert len({id(o) for o in opts.values()}) == len(opts)
    # The networks compute in float16 (a discriminator's last convolution,
    # its logits, in float32) and keep float32 weights.
    for net in model.networks():
        assert ("float16", "float32") in conv_dtypes(net), net.name
        assert {v.dtype for v in net.weights} == {"float32"}, net.name
    # An optimizer that is already a LossScaleOptimizer is kept as given.
    given = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(1e-4), initial_scale=2.0**8
    )
    model.compile(e_optimizer=given)
    assert model.e_optimizer is given


def test_a_few_float16_steps_give_finite_weights_and_float32_losses(trained):
    model, _, _, before, history = trained
    for key in ("g_loss", "d_loss", "d2_loss", "g_l1", "kl", "z_l1"):
        logged = history[key]
        assert len(logged) == 2, key
        assert all(math.isfinite(v) for v in logged), (key, logged)
    assert history["g_l1"][0] > 0
    # The logged losses are float32 (not the float16 of the networks, and
    # not multiplied by the loss scale of 2**15).
    assert max(history["g_loss"]) < 1e3
    for metric in model.metrics:
        for v in metric.variables:
            assert v.dtype == "float32", (metric.name, v.name, v.dtype)
    # 2 epochs × 2 steps = 4 applied steps per optimizer, none skipped for
    # an overflow at this size (the scale is unchanged).
    for name, opt in optimizers(model).items():
        assert int(opt.iterations) == 4, name
        assert float(opt.dynamic_scale) == 2.0**15, name
    for net in model.networks():
        after = values(net.trainable_weights)
        assert all(np.isfinite(w).all() for w in after), net.name
        changed = sum(not np.array_equal(a, b) for a, b in zip(before[net.name], after))
        assert changed == len(after), net.name  # every weight was updated


def test_predict_sample_and_encode_return_float32(trained):
    model, x, _, _, _ = trained
    x = x[:3]
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float32 and out.shape == (3, SIZE, SIZE, 3)
    assert np.isfinite(out).all() and np.abs(out).max() <= 1.0

    samples = model.sample(x, n=2, seed=1)
    assert samples.dtype == np.float32
    assert samples.shape == (3, 2, SIZE, SIZE, 3)
    assert np.isfinite(samples).all()
    np.testing.assert_array_equal(samples, model.sample(x, n=2, seed=1))
    # Different codes, different outputs (float16 does not flatten them).
    assert np.abs(samples[:, 0] - samples[:, 1]).mean() > 0

    mu, log_var = model.encode(x)
    assert mu.dtype == log_var.dtype == np.float32
    assert mu.shape == log_var.shape == (3, LATENT)


def test_an_overflow_skips_the_update_and_halves_the_scale(float16):
    """A loss scale of 2**40 overflows float16: every LossScaleOptimizer
    skips its update and halves its scale, and the step guard
    (`on_nonfinite="stop"`, the default) does not stop training for it."""
    model = tiny_bicycle()

    def huge():
        return keras.optimizers.LossScaleOptimizer(
            keras.optimizers.Adam(2e-4), initial_scale=2.0**40
        )

    model.compile(
        g_optimizer=huge(), d_optimizer=huge(), e_optimizer=huge(), d2_optimizer=huge()
    )
    before = {n.name: values(n.trainable_weights) for n in model.networks()}
    x, y = tiny_arrays(n=2, size=SIZE)
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)

    assert not model.stop_training
    assert len(history.history["g_loss"]) == 1
    assert math.isfinite(history.history["g_loss"][0])
    assert math.isfinite(history.history["d_loss"][0])
    for name, opt in optimizers(model).items():
        assert float(opt.dynamic_scale) == 2.0**39, name
        assert int(opt.iterations) == 0, name  # the update was skipped
    for net in model.networks():
        for a, w in zip(before[net.name], values(net.trainable_weights)):
            np.testing.assert_array_equal(a, w)

    # Training goes on: each step either halves the scale (an overflow) or
    # applies the update (the scale grows only after 2000 good steps), so
    # after 41 steps in all, updates + halvings = 41 for every optimizer,
    # and once the scale is low enough the updates resume.
    history = model.fit(x, y, batch_size=2, epochs=40, verbose=0)
    assert len(history.history["g_loss"]) == 40
    for name, opt in optimizers(model).items():
        halvings = 40 - math.log2(float(opt.dynamic_scale))
        assert halvings == int(halvings) >= 1, name
        assert int(opt.iterations) >= 1, name
        assert int(opt.iterations) + halvings == 41, name
    for net in model.networks():
        assert all(np.isfinite(w).all() for w in values(net.trainable_weights))


def test_save_and_load_keep_the_loss_scaled_optimizers(trained, tmp_path):
    model, x, y, _, _ = trained
    path = str(tmp_path / "bicycle.keras")
    # A scale that is not the default, to see that it is saved.
    scale = model.e_optimizer.dynamic_scale
    default = float(scale)
    scale.assign(2.0**9)
    try:
        model.save(path)
        at_save = {n: values(o.variables) for n, o in optimizers(model).items()}
    finally:
        scale.assign(default)
    loaded = keras.saving.load_model(path)

    assert isinstance(loaded, pk.BicycleGAN)
    saved, restored = optimizers(model), optimizers(loaded)
    assert sorted(saved) == sorted(restored) == ["d", "d2", "e", "g"]
    for name in saved:
        opt = restored[name]
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer), name
        assert isinstance(opt.inner_optimizer, keras.optimizers.Adam), name
        assert int(opt.iterations) == 4, name
        assert len(at_save[name]) == len(opt.variables), name
        for a, b in zip(at_save[name], values(opt.variables)):
            np.testing.assert_array_equal(a, b)
    assert float(loaded.e_optimizer.dynamic_scale) == 2.0**9
    assert float(loaded.g_optimizer.dynamic_scale) == 2.0**15
    for net, net2 in zip(model.networks(), loaded.networks()):
        assert conv_dtypes(net2) == conv_dtypes(net), net2.name
        assert ("float16", "float32") in conv_dtypes(net2), net2.name
        for a, b in zip(values(net.weights), values(net2.weights)):
            np.testing.assert_array_equal(a, b)
    z = np.random.default_rng(0).standard_normal((2, LATENT)).astype("float32")
    np.testing.assert_array_equal(model.sample(x, z=z), loaded.sample(x, z=z))

    # Training continues from the restored state, on the loss-scaled path.
    loaded.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    for name, opt in optimizers(loaded).items():
        assert int(opt.iterations) == 6, name

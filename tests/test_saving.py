"""Tests of Pix2Pix serialization: config, .keras save/load and resume."""

import contextlib
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

import pix2pix_keras as pk
from pix2pix_keras.models.blocks import apply_upsample
from tests._helpers import config_round_trip
from tests._helpers import disk_full
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix


@keras.saving.register_keras_serializable(package="pix2pix_tests")
class ResidualUNet(pk.UNetGenerator):
    """U-Net whose up blocks end in a residual block."""

    def up_block(self, x, filters, *, norm, dropout, name):
        x = apply_upsample(x, filters, norm=norm, dropout=dropout, name=name)
        return pk.ResidualBlock(norm=norm, name=f"{name}_res")(x)


class UnregisteredUNet(pk.UNetGenerator):
    """Same blocks, but never registered with Keras."""


@contextlib.contextmanager
def op_determinism(enabled):
    """Sets TF op determinism for a block and restores it afterwards.

    Bit-equal comparisons of two runs want it on; but with it on, Keras
    3.15 silently compiles `jit_compile=True` models without XLA
    (`trainer.model_supports_jit`), so the XLA runs need it off. It is
    process-global, hence scoped here instead of set at import time.
    """
    was = tf_config.is_op_determinism_enabled()
    if enabled:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()
    try:
        yield
    finally:
        if was:
            tf.config.experimental.enable_op_determinism()
        else:
            tf_config.disable_op_determinism()


def _np(v):
    return np.array(keras.ops.convert_to_numpy(v))


def _values(variables):
    return [_np(v) for v in variables]


def _int(v):
    return int(_np(v))


def _state(model):
    """All model variables (weights + RNG states) and both optimizers'."""
    return {
        "model": _values(model.variables),
        "g_opt": _values(model.g_optimizer.variables),
        "d_opt": _values(model.d_optimizer.variables),
    }


def _assert_same_state(a, b):
    for part in ("model", "g_opt", "d_opt"):
        assert len(a[part]) == len(b[part]), part
        for i, (x, y) in enumerate(zip(a[part], b[part])):
            np.testing.assert_array_equal(x, y, err_msg=f"{part}[{i}]")


COMPILE = dict(gan_loss="vanilla", lambda_l1=10.0, d_every=2)


def _train_data():
    # 3 batches per epoch, fixed order.
    return tiny_dataset(n=6, batch_size=2)


def _build(seed=0, make=tiny_pix2pix, **compile_kw):
    keras.utils.set_random_seed(seed)
    model = make()
    model.compile(**{**COMPILE, **compile_kw})
    return model


# ----------------------------------------------------------------------
# config


def test_get_config_round_trip_is_json_equal():
    model = tiny_pix2pix()
    clone = config_round_trip(model)
    assert type(clone) is pk.Pix2Pix
    assert type(clone.generator) is pk.UNetGenerator
    assert type(clone.discriminator) is pk.PatchDiscriminator
    assert clone.generator.count_params() == model.generator.count_params()
    assert clone.discriminator.count_params() == model.discriminator.count_params()


# ----------------------------------------------------------------------
# resume == uninterrupted


def _check_loaded(resumed, at_save, jit_compile):
    # The loaded state is exactly the saved one, before any training.
    _assert_same_state(_state(resumed), at_save)
    assert type(resumed) is pk.Pix2Pix
    assert resumed.gan_loss == "vanilla"
    assert resumed.lambda_l1 == 10.0
    assert resumed.d_every == 2
    assert resumed.jit_compile is jit_compile
    assert resumed.optimizer is None
    assert _int(resumed.step_counter) == 3
    # Counters 0 and 2 of the first three steps updated D.
    assert _int(resumed.g_optimizer.iterations) == 3
    assert _int(resumed.d_optimizer.iterations) == 2


def _check_resumed(resumed, reference, jit_compile):
    assert resumed.jit_compile is reference.jit_compile is jit_compile
    assert _int(resumed.step_counter) == _int(reference.step_counter) == 6
    assert _int(resumed.g_optimizer.iterations) == 6
    assert _int(reference.g_optimizer.iterations) == 6
    assert _int(resumed.d_optimizer.iterations) == 3
    assert _int(reference.d_optimizer.iterations) == 3
    _assert_same_state(_state(resumed), _state(reference))


def _save_after_one_epoch(model, path):
    """Trains `model` one epoch and saves it; returns its state then."""
    model.fit(_train_data(), epochs=1, verbose=0)
    model.save(path)
    return _state(model)


def _train_second_epoch(model):
    model.fit(_train_data(), initial_epoch=1, epochs=2, verbose=0)


def _resume(path, at_save, jit_compile):
    """Loads the checkpoint, checks that it holds `at_save`, trains on."""
    resumed = keras.saving.load_model(path)
    _check_loaded(resumed, at_save, jit_compile)
    _train_second_epoch(resumed)
    return resumed


def test_resume_after_save_load_equals_uninterrupted(tmp_path):
    path = os.fspath(tmp_path / "ckpt.keras")
    with op_determinism(True):
        # Dropout is active: the default U-Net has dropout 0.5 in 3 blocks.
        reference = _build()
        assert len(reference._rng_states()) == 3
        reference.fit(_train_data(), epochs=2, verbose=0)

        at_save = _save_after_one_epoch(_build(), path)
        resumed = _resume(path, at_save, jit_compile=False)

    _check_resumed(resumed, reference, jit_compile=False)


def test_resume_after_save_load_equals_uninterrupted_xla(tmp_path):
    # Each XLA train function costs ~10 s to compile on 2 CPU cores, so
    # the reference saves its own checkpoint after epoch 1 and trains on
    # (save only reads state; the reference never reloads): two compiled
    # models instead of three.
    path = os.fspath(tmp_path / "ckpt.keras")
    with op_determinism(False):
        reference = _build(jit_compile=True)
        assert reference.jit_compile is True
        at_save = _save_after_one_epoch(reference, path)
        _train_second_epoch(reference)
        resumed = _resume(path, at_save, jit_compile=True)

    _check_resumed(resumed, reference, jit_compile=True)


def test_learning_rate_halving_state_survives_save_load(tmp_path):
    path = os.fspath(tmp_path / "lr.keras")
    model = _build(
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(1e-4, beta_1=0.5),
        d_every=1,
    )
    history = model.fit(
        tiny_dataset(n=2),
        epochs=2,
        callbacks=[pk.LearningRateHalving(every=1)],
        verbose=0,
    )
    np.testing.assert_allclose(history.history["g_lr"], [2e-4, 1e-4], rtol=1e-6)
    np.testing.assert_allclose(history.history["d_lr"], [1e-4, 5e-5], rtol=1e-6)

    model.save(path)
    loaded = keras.saving.load_model(path)

    for name, want in (("g_optimizer", 1e-4), ("d_optimizer", 5e-5)):
        lr = float(_np(getattr(loaded, name).learning_rate))
        assert lr == pytest.approx(want, rel=1e-6), name
        assert lr == float(_np(getattr(model, name).learning_rate))
    assert set(loaded.base_learning_rates) == {"g", "d"}
    assert loaded.base_learning_rates["g"] == pytest.approx(2e-4, rel=1e-6)
    assert loaded.base_learning_rates["d"] == pytest.approx(1e-4, rel=1e-6)
    # The schedule continues from the saved base rates: epoch 2 -> base / 4.
    loaded.fit(
        tiny_dataset(n=2),
        initial_epoch=2,
        epochs=3,
        callbacks=[pk.LearningRateHalving(every=1)],
        verbose=0,
    )
    assert float(_np(loaded.g_optimizer.learning_rate)) == pytest.approx(5e-5, rel=1e-6)
    assert float(_np(loaded.d_optimizer.learning_rate)) == pytest.approx(
        2.5e-5, rel=1e-6
    )


# ----------------------------------------------------------------------
# generator subclass with swapped blocks


def _unet_kwargs(depth=4):
    # depth=4 keeps the innermost decoder map at 4×4 (see the 2×2 test).
    return dict(image_size=32, filters=8, max_filters=32, depth=depth)


def _residual_pix2pix():
    return pk.Pix2Pix(
        generator=ResidualUNet(**_unet_kwargs()),
        discriminator=pk.PatchDiscriminator(
            image_size=32, filters=8, max_filters=32, n_layers=2
        ),
        image_size=32,
    )


@pytest.mark.parametrize(
    "depth, decoder_filters",
    [(None, [32, 32, 16, 8]), (4, [32, 16, 8])],
    ids=["default-depth", "depth4"],
)
def test_residual_unet_adds_exactly_the_residual_block_parameters(
    depth, decoder_filters
):
    # At the default depth (5 for 32×32) the innermost up block outputs
    # 2×2 maps, which the reflect-padded 3×3 ResidualBlock handles.
    plain = pk.UNetGenerator(**_unet_kwargs(depth))
    residual = ResidualUNet(**_unet_kwargs(depth))
    blocks = [l for l in residual.layers if isinstance(l, pk.ResidualBlock)]
    n = len(decoder_filters)
    # One per up block.
    names = [f"generator_up{i}_res" for i in range(n)]
    assert [b.name for b in blocks] == names
    assert residual.decoder_filters == plain.decoder_filters == decoder_filters
    # Batch norm: two bias-free 3×3 convs (9f²) and two BN layers (4f).
    per_block = [2 * 9 * f * f + 2 * 4 * f for f in decoder_filters]
    assert [b.count_params() for b in blocks] == per_block
    assert residual.count_params() - plain.count_params() == sum(per_block)
    assert residual.output_shape == plain.output_shape == (None, 32, 32, 3)
    x, _ = tiny_arrays(2)
    assert tuple(residual(x, training=False).shape) == (2, 32, 32, 3)


def test_residual_unet_save_load_and_resume(tmp_path):
    path = os.fspath(tmp_path / "residual.keras")
    data = tiny_dataset(n=4)  # 2 steps per epoch
    x, _ = tiny_arrays(3, seed=5)
    with op_determinism(True):
        model = _build(make=_residual_pix2pix)
        model.fit(data, epochs=1, verbose=0)
        assert _int(model.g_optimizer.iterations) == 2
        assert _int(model.d_optimizer.iterations) == 1  # d_every=2
        want = model.predict(x, verbose=0)
        model.save(path)
        at_save = _state(model)

        loaded = keras.saving.load_model(path)

        assert type(loaded.generator) is ResidualUNet
        assert type(loaded.generator).__module__ == __name__
        n_blocks = sum(isinstance(l, pk.ResidualBlock) for l in loaded.generator.layers)
        assert n_blocks == 3
        assert loaded.generator.count_params() == model.generator.count_params()
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), want)
        _assert_same_state(_state(loaded), at_save)

        # Resume: the saved model trains on in memory (save only reads
        # state), the loaded one from the file; both take one more epoch.
        model.fit(data, initial_epoch=1, epochs=2, verbose=0)
        loaded.fit(data, initial_epoch=1, epochs=2, verbose=0)

    for m in (model, loaded):
        assert _int(m.g_optimizer.iterations) == 4
        assert _int(m.d_optimizer.iterations) == 2
        assert _int(m.step_counter) == 4
    _assert_same_state(_state(loaded), _state(model))


def test_unregistered_generator_subclass_fails_to_load(tmp_path):
    path = os.fspath(tmp_path / "unregistered.keras")
    model = pk.Pix2Pix(
        generator=UnregisteredUNet(**_unet_kwargs()),
        discriminator=pk.PatchDiscriminator(
            image_size=32, filters=8, max_filters=32, n_layers=2
        ),
        image_size=32,
    )
    model.compile()
    model.save(path)  # saving works
    # Keras blames the outer class; the cause is at the end of the message
    # (documented in docs/subclassing.md).
    with pytest.raises(TypeError) as info:
        keras.saving.load_model(path)
    message = str(info.value)
    assert "Pix2Pix'> could not be deserialized properly" in message
    assert "Could not locate class 'UnregisteredUNet'" in message
    loaded = keras.saving.load_model(
        path, custom_objects={"UnregisteredUNet": UnregisteredUNet}
    )
    assert type(loaded.generator) is UnregisteredUNet


# ----------------------------------------------------------------------
# file safety


def test_save_leaves_previous_file_when_interrupted(tmp_path):
    path = tmp_path / "model.keras"
    model = _build(d_every=1)
    model.fit(tiny_dataset(n=2), epochs=1, verbose=0)
    model.save(path)
    saved = _values(model.weights)
    model.fit(tiny_dataset(n=2), epochs=1, verbose=0)  # weights move on
    assert not all(np.array_equal(a, b) for a, b in zip(saved, _values(model.weights)))

    with disk_full("save", b"PK\x03\x04 half a zip file") as targets:
        model.save(path)

    # The parent wrote beside the target, never onto it.
    assert len(targets) == 1
    assert os.path.dirname(targets[0]) == os.fspath(tmp_path)
    assert targets[0] != os.fspath(path)
    assert os.listdir(tmp_path) == ["model.keras"]
    loaded = keras.saving.load_model(path)
    weights = _values(loaded.weights)
    assert len(weights) == len(saved) == 55
    for a, b in zip(weights, saved):
        np.testing.assert_array_equal(a, b)
    assert _int(loaded.g_optimizer.iterations) == 1


def test_load_weights_from_other_architecture_fails(tmp_path):
    path = os.fspath(tmp_path / "filters8.keras")
    model = tiny_pix2pix()
    model.compile()
    model.save(path)

    wider = tiny_pix2pix(filters=16)
    wider.compile()
    with pytest.raises(Exception) as info:
        wider.load_weights(path)
    assert str(info.value).strip()

    # Same weights, but no dropout layers: the RNG states do not fit.
    no_dropout = pk.Pix2Pix(
        generator=pk.UNetGenerator(**_unet_kwargs(None), dropout=0.0),
        discriminator=pk.PatchDiscriminator(
            image_size=32, filters=8, max_filters=32, n_layers=2
        ),
        image_size=32,
    )
    no_dropout.compile()
    with pytest.raises(Exception) as info:
        no_dropout.load_weights(path)
    assert "different architecture" in str(info.value)


NETWORKS = {
    "UNetGenerator": lambda: pk.UNetGenerator(image_size=32, filters=8, max_filters=32),
    "ResnetGenerator": lambda: pk.ResnetGenerator(image_size=32, filters=8, n_blocks=1),
    "PatchDiscriminator": lambda: pk.PatchDiscriminator(
        image_size=32, filters=8, max_filters=32, n_layers=2
    ),
    "PixelDiscriminator": lambda: pk.PixelDiscriminator(image_size=32, filters=8),
    "MultiScaleDiscriminator": lambda: pk.MultiScaleDiscriminator(
        image_size=32, filters=8, max_filters=32, n_layers=1, num_scales=2
    ),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_config_round_trip_and_unknown_keys(name):
    net = NETWORKS[name]()
    config = net.get_config()
    clone = type(net).from_config(json.loads(json.dumps(config)))
    assert clone.count_params() == net.count_params() > 0
    assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(config))
    with pytest.raises(
        ValueError,
        match=rf"Unknown key\(s\) in the {name} "
        r"config: \['filtres'\]",
    ):
        type(net).from_config({**config, "filtres": 8})

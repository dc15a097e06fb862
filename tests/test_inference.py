"""Inference behaviour: predict() = the documented inference mode = export.

Issue 12: `predict()`, `model(x)` and the SavedModel must all give the same,
deterministic translation by default (moving batch-norm statistics, dropout
off), and inference-time dropout is an explicit, saved choice.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from pix2pix_keras.models.blocks import NoiseDropout
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def trained():
    """A tiny model after two epochs: moving statistics away from init."""
    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    model.compile()
    model.fit(tiny_dataset(n=8), epochs=2, verbose=0)
    return model


def _batch_norms(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def test_predict_is_the_inference_mode_exactly(trained):
    x, _ = tiny_arrays(4, seed=3)
    want = _np(trained.generator(x, training=False))
    np.testing.assert_array_equal(trained.predict(x, verbose=0), want)
    np.testing.assert_array_equal(_np(trained(x)), want)
    # Deterministic: a second call gives the same bits.
    np.testing.assert_array_equal(trained.predict(x, verbose=0), want)
    # ...and it is not the training mode (batch statistics + dropout).
    train_mode = _np(trained.generator(x[:1], training=True))
    assert np.mean(np.abs(train_mode - want[:1])) > 1e-3


def test_inference_uses_moving_statistics_not_batch_statistics(trained):
    """One image alone or among others translates the same: no batch stats."""
    x, _ = tiny_arrays(4, seed=4)
    together = trained.predict(x, batch_size=4, verbose=0)
    alone = trained.predict(x[:1], batch_size=1, verbose=0)
    np.testing.assert_allclose(alone, together[:1], atol=1e-5)


def test_evaluate_scores_the_predict_output(trained):
    x, y = tiny_arrays(4, seed=5)
    logs = trained.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    fake = trained.predict(x, verbose=0)
    assert logs["g_l1"] == pytest.approx(float(np.mean(np.abs(fake - y))),
                                         rel=1e-5)


def test_export_equals_predict(trained, tmp_path):
    x, _ = tiny_arrays(3, seed=6)
    served = tf.saved_model.load(trained.export(os.fspath(tmp_path / "g")))
    np.testing.assert_allclose(
        served.serve(tf.constant(x)).numpy(),
        trained.predict(x, verbose=0),
        atol=1e-6,
    )


def test_batch_norm_momentum_and_unnormalized_bottleneck_by_default():
    g = pk.UNetGenerator(image_size=32, filters=8, max_filters=32)
    norms = _batch_norms(g)
    # depth 5 at 32: down1-3 normalized (not down0, not the innermost
    # down4), plus the 4 up blocks.
    assert len(norms) == 3 + 4
    assert {layer.momentum for layer in norms} == {0.9}
    assert g.get_layer("generator_down4_act").output.shape[1:3] == (1, 1)
    assert "generator_down4_norm" not in [layer.name for layer in g.layers]


def test_classic_configuration_is_reproducible():
    plain = pk.UNetGenerator(image_size=32, filters=8, max_filters=32)
    classic = pk.UNetGenerator(
        image_size=32, filters=8, max_filters=32, bn_momentum=0.99,
        normalize_innermost=True,
    )
    norms = _batch_norms(classic)
    assert len(norms) == len(_batch_norms(plain)) + 1
    assert {layer.momentum for layer in norms} == {0.99}
    # The extra BN on the 32-channel bottleneck: gamma, beta, mean, var.
    assert classic.count_params() == plain.count_params() + 4 * 32
    config = classic.get_config()
    assert config["bn_momentum"] == 0.99
    assert config["normalize_innermost"] is True
    again = pk.UNetGenerator.from_config(config)
    assert {layer.momentum for layer in _batch_norms(again)} == {0.99}
    assert again.count_params() == classic.count_params()


def test_momentum_is_the_moving_average_rate():
    """moving_mean after one training call = m·0 + (1 - m)·batch mean."""
    keras.utils.set_random_seed(0)
    for m in (0.9, 0.99):
        g = pk.UNetGenerator(image_size=32, filters=8, max_filters=32,
                             bn_momentum=m, dropout=0.0)
        bn = g.get_layer("generator_down1_norm")
        x, _ = tiny_arrays(2, seed=7)
        probe = keras.Model(g.input, g.get_layer("generator_down1_conv").output)
        batch_mean = _np(probe(x)).mean(axis=(0, 1, 2))
        g(x, training=True)
        np.testing.assert_allclose(_np(bn.moving_mean), (1 - m) * batch_mean,
                                   rtol=1e-4, atol=1e-7)


def test_inference_dropout_is_off_by_default_and_switchable(trained):
    x, _ = tiny_arrays(2, seed=8)
    assert trained.inference_dropout is False
    base = trained.predict(x, verbose=0)  # traces predict_function
    trained.inference_dropout = True
    try:
        drops = [layer for layer in trained.generator._flatten_layers()
                 if isinstance(layer, NoiseDropout)]
        assert len(drops) == 3 and all(d.at_inference for d in drops)
        a = trained.predict(x, verbose=0)
        b = trained.predict(x, verbose=0)
        # The cached predict function was dropped: outputs now vary (the
        # tiny model's outputs are small, so count differing values).
        assert np.mean(a != b) > 0.9
        assert np.mean(a != base) > 0.9
    finally:
        trained.inference_dropout = False
    np.testing.assert_array_equal(trained.predict(x, verbose=0), base)


def test_inference_dropout_survives_save_load_and_export(trained, tmp_path):
    x, _ = tiny_arrays(2, seed=9)
    trained.inference_dropout = True
    try:
        path = os.fspath(tmp_path / "m.keras")
        trained.save(path)
        served = tf.saved_model.load(trained.export(os.fspath(tmp_path / "g")))
    finally:
        trained.inference_dropout = False
    loaded = keras.saving.load_model(path)
    assert loaded.inference_dropout is True
    assert loaded.generator.get_config()["inference_dropout"] is True
    a, b = loaded.predict(x, verbose=0), loaded.predict(x, verbose=0)
    assert np.mean(a != b) > 0.9
    c, d = served.serve(tf.constant(x)).numpy(), served.serve(tf.constant(x)).numpy()
    assert np.mean(c != d) > 0.9
    # Dropout only: without it, the loaded model predicts like the original.
    loaded.inference_dropout = False
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               trained.predict(x, verbose=0), atol=1e-6)


def test_deterministic_model_saves_deterministic(trained, tmp_path):
    path = os.fspath(tmp_path / "m.keras")
    trained.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.inference_dropout is False
    x, _ = tiny_arrays(2, seed=10)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0),
                                  loaded.predict(x, verbose=0))


def test_generator_option_in_constructor():
    g = pk.UNetGenerator(image_size=32, filters=8, inference_dropout=True)
    assert g.inference_dropout is True
    x, _ = tiny_arrays(1, seed=11)
    assert float(np.max(np.abs(_np(g(x)) - _np(g(x))))) > 0.0
    g.inference_dropout = False
    np.testing.assert_array_equal(_np(g(x)), _np(g(x)))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="inference_dropout"):
        pk.UNetGenerator(image_size=32, filters=8, inference_dropout="yes")
    with pytest.raises(ValueError, match="bn_momentum"):
        pk.UNetGenerator(image_size=32, filters=8, bn_momentum=1.0)
    model = pk.Pix2Pix(
        generator=pk.UNetGenerator(image_size=32, filters=8, dropout=0.0),
        discriminator=pk.PatchDiscriminator(image_size=32, filters=8,
                                            n_layers=2),
        image_size=32,
    )
    with pytest.raises(ValueError, match="no NoiseDropout layer"):
        model.inference_dropout = True
    model.inference_dropout = False  # a no-op, allowed


def test_noise_dropout_layer_round_trips():
    layer = NoiseDropout(0.25, at_inference=True, seed=3, name="d")
    config = layer.get_config()
    assert config["at_inference"] is True and config["rate"] == 0.25
    again = NoiseDropout.from_config(config)
    assert again.at_inference is True
    x = keras.ops.ones((1, 4000))
    dropped = float(keras.ops.mean(keras.ops.equal(again(x), 0.0)))
    assert dropped == pytest.approx(0.25, abs=0.03)
    off = NoiseDropout(0.25)
    np.testing.assert_array_equal(_np(off(x)), _np(x))

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
from pix2pix_keras._compat import flatten_layers
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
    bn = keras.layers.BatchNormalization
    return [x for x in flatten_layers(model, include_self=False) if isinstance(x, bn)]


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
    assert logs["g_l1"] == pytest.approx(float(np.mean(np.abs(fake - y))), rel=1e-5)


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
        image_size=32,
        filters=8,
        max_filters=32,
        bn_momentum=0.99,
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
        g = pk.UNetGenerator(
            image_size=32, filters=8, max_filters=32, bn_momentum=m, dropout=0.0
        )
        bn = g.get_layer("generator_down1_norm")
        x, _ = tiny_arrays(2, seed=7)
        probe = keras.Model(g.input, g.get_layer("generator_down1_conv").output)
        batch_mean = _np(probe(x)).mean(axis=(0, 1, 2))
        g(x, training=True)
        np.testing.assert_allclose(
            _np(bn.moving_mean), (1 - m) * batch_mean, rtol=1e-4, atol=1e-7
        )


def test_inference_dropout_is_off_by_default_and_switchable(trained):
    x, _ = tiny_arrays(2, seed=8)
    assert trained.inference_dropout is False
    base = trained.predict(x, verbose=0)  # traces predict_function
    trained.inference_dropout = True
    try:
        drops = [
            layer
            for layer in trained.generator._flatten_layers()
            if isinstance(layer, NoiseDropout)
        ]
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
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6
    )


def test_deterministic_model_saves_deterministic(trained, tmp_path):
    path = os.fspath(tmp_path / "m.keras")
    trained.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.inference_dropout is False
    x, _ = tiny_arrays(2, seed=10)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )


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
        discriminator=pk.PatchDiscriminator(image_size=32, filters=8, n_layers=2),
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


# ---------------------------------------------------------------------------
# Batch-norm statistics at inference: each image's own ("image", default)
# or the moving averages ("moving").

HERE = os.path.dirname(os.path.abspath(__file__))


def _skewed(model, mean=3.0, variance=0.05):
    """Makes the moving statistics unrepresentative of any image (what a
    moving average of the last few training images can end up as)."""
    for layer in _batch_norms(model.generator):
        shape = layer.moving_mean.shape
        layer.moving_mean.assign(np.full(shape, mean, "float32"))
        layer.moving_variance.assign(np.full(shape, variance, "float32"))


def _training_mode_no_dropout(g, x):
    """`g(x_i, training=True)` one image at a time, dropout off, weights
    (moving statistics) restored afterwards."""
    drops = [d for d in g._flatten_layers() if isinstance(d, NoiseDropout)]
    rates = [d.rate for d in drops]
    weights = g.get_weights()
    for d in drops:
        d.rate = 0.0
    try:
        return np.concatenate(
            [_np(g(x[i : i + 1], training=True)) for i in range(len(x))]
        )
    finally:
        for d, rate in zip(drops, rates):
            d.rate = rate
        g.set_weights(weights)


def test_default_inference_statistics_are_per_image():
    g = pk.UNetGenerator(image_size=32, filters=8)
    assert g.inference_statistics == "image"
    assert g.get_config()["inference_statistics"] == "image"
    norms = _batch_norms(g)
    assert len(norms) == 7
    assert all(isinstance(n, pk.BatchNormalization) for n in norms)
    assert {n.inference_statistics for n in norms} == {"image"}
    assert (
        pk.ResnetGenerator(
            image_size=32, filters=4, n_blocks=1, norm="batch"
        ).inference_statistics
        == "image"
    )


def test_unrepresentative_moving_statistics_break_only_the_moving_mode():
    """The failure mode and its fix on a tiny deterministic model.

    With moving statistics far from any image's, inference on them drifts
    far from what the network computes in training; normalizing each image
    by its own statistics gives the training-mode output exactly (batch
    size 1 training sees the same statistics).
    """
    keras.utils.set_random_seed(0)
    model = tiny_pix2pix()
    _skewed(model)
    x, _ = tiny_arrays(4, seed=12)
    reference = _training_mode_no_dropout(model.generator, x)

    model.inference_statistics = "moving"  # the classic behaviour
    moving = model.predict(x, verbose=0)
    moving_gap = float(np.mean(np.abs(moving - reference)))
    model.inference_statistics = "image"
    fixed = model.predict(x, verbose=0)
    fixed_gap = float(np.mean(np.abs(fixed - reference)))

    assert moving_gap > 0.05  # tanh outputs of a 32×32 net at init: ~0.1
    assert fixed_gap < 1e-6
    np.testing.assert_allclose(fixed, reference, atol=1e-5)


def test_per_image_inference_is_batch_independent_and_ignores_moving_stats():
    keras.utils.set_random_seed(1)
    model = tiny_pix2pix()
    x, _ = tiny_arrays(5, seed=13)
    together = model.predict(x, batch_size=5, verbose=0)
    for i in range(5):
        alone = model.predict(x[i : i + 1], batch_size=1, verbose=0)
        np.testing.assert_allclose(alone, together[i : i + 1], atol=1e-5)
    # In a batch with other images, or with other moving averages: same.
    mixed = np.concatenate([x[:1], -x[1:]])
    np.testing.assert_allclose(
        model.predict(mixed, verbose=0)[:1], together[:1], atol=1e-5
    )
    _skewed(model)
    np.testing.assert_allclose(model.predict(x, verbose=0), together, atol=1e-5)


def test_export_evaluate_and_serving_equal_predict_with_image_statistics(
    tmp_path,
):
    keras.utils.set_random_seed(2)
    model = tiny_pix2pix()
    model.compile()
    _skewed(model, mean=-1.0, variance=4.0)
    x, y = tiny_arrays(3, seed=14)
    want = model.predict(x, verbose=0)
    served = tf.saved_model.load(model.export(os.fspath(tmp_path / "g")))
    np.testing.assert_allclose(served.serve(tf.constant(x)).numpy(), want, atol=1e-5)
    logs = model.evaluate(x, y, batch_size=3, verbose=0, return_dict=True)
    assert logs["g_l1"] == pytest.approx(float(np.mean(np.abs(want - y))), rel=1e-5)
    # `pix2pix serve` (a .keras model and a SavedModel) translates an image
    # of the model's size as predict() does, to uint8 rounding.
    from pix2pix_keras.serve import Translator

    model_path = os.fspath(tmp_path / "m.keras")
    model.save(model_path)
    image = np.round((x[0] + 1.0) * 127.5).astype("uint8")
    expected = model.predict(image[None].astype("float32") / 127.5 - 1.0, verbose=0)[0]
    expected = np.clip(np.round((expected + 1.0) * 127.5), 0, 255)
    for path, size in ((model_path, None), (os.fspath(tmp_path / "g"), 32)):
        out, _ = Translator(path, image_size=size).translate_array(image)
        assert np.max(np.abs(out.astype("float32") - expected)) <= 1.0


def test_inference_statistics_survive_save_load(tmp_path):
    keras.utils.set_random_seed(3)
    model = tiny_pix2pix()
    _skewed(model)
    x, _ = tiny_arrays(2, seed=15)
    for value in ("moving", "image"):
        model.inference_statistics = value
        path = os.fspath(tmp_path / f"{value}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert loaded.inference_statistics == value
        assert loaded.generator.get_config()["inference_statistics"] == value
        np.testing.assert_array_equal(
            loaded.predict(x, verbose=0), model.predict(x, verbose=0)
        )


def test_models_saved_before_the_option_keep_the_moving_statistics():
    """A model saved by the previous release (tools/make_legacy_model.py)
    loads, keeps normalizing with its moving statistics, and predicts what
    it predicted then."""
    path = os.path.join(HERE, "data", "legacy_pix2pix.keras")
    data = np.load(os.path.join(HERE, "data", "legacy_pix2pix.npz"))
    model = keras.saving.load_model(path)
    assert model.inference_statistics == "moving"
    np.testing.assert_allclose(
        model.predict(data["x"], verbose=0), data["predict"], atol=1e-6
    )
    model.inference_statistics = "image"  # the one-line opt-in
    assert (
        float(np.max(np.abs(model.predict(data["x"], verbose=0) - data["predict"])))
        > 1e-3
    )


def test_switching_drops_the_cached_predict_function():
    keras.utils.set_random_seed(4)
    model = tiny_pix2pix()
    _skewed(model)
    x, _ = tiny_arrays(2, seed=16)
    image = model.predict(x, verbose=0)
    model.inference_statistics = "moving"
    moving = model.predict(x, verbose=0)
    assert float(np.mean(np.abs(image - moving))) > 0.05
    model.generator.inference_statistics = "image"
    np.testing.assert_array_equal(model.generator.predict(x, verbose=0), image)


def test_bad_inference_statistics_are_refused():
    with pytest.raises(ValueError, match="inference_statistics.*'image'"):
        pk.UNetGenerator(image_size=32, filters=8, inference_statistics="batch")
    g = pk.UNetGenerator(image_size=32, filters=8)
    with pytest.raises(ValueError, match="Received: inference_statistics=1"):
        g.inference_statistics = 1
    with pytest.raises(ValueError, match="inference_statistics"):
        pk.BatchNormalization(inference_statistics="population")


def test_batch_normalization_layer_matches_training_at_batch_one():
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(3, 6, 5, 4)) * 2 + 1).astype("float32")
    layer = pk.BatchNormalization(
        inference_statistics="image",
        beta_initializer="ones",
        gamma_initializer=keras.initializers.Constant(2.0),
    )
    layer.build(x.shape)
    for i in range(3):
        inference = _np(layer(x[i : i + 1], training=False))
        weights = layer.get_weights()
        training = _np(layer(x[i : i + 1], training=True))
        layer.set_weights(weights)
        np.testing.assert_array_equal(inference, training)
        # Instance norm with the layer's scale and offset:
        mean = x[i].mean(axis=(0, 1))
        var = x[i].var(axis=(0, 1))
        np.testing.assert_allclose(
            inference[0], 2.0 * (x[i] - mean) / np.sqrt(var + 1e-3) + 1.0, atol=1e-5
        )
    # A frozen layer in training mode normalizes as at inference.
    layer.trainable = False
    np.testing.assert_array_equal(
        _np(layer(x, training=True)), _np(layer(x, training=False))
    )
    again = pk.BatchNormalization.from_config(layer.get_config())
    assert again.inference_statistics == "image"


def test_resnet_with_a_noise_input_keeps_the_moving_statistics():
    """Per-image statistics would erase the spatially constant code z, as
    instance norm does; a noisy ResNet defaults to the moving averages."""
    g = pk.ResnetGenerator(
        image_size=32, filters=4, n_blocks=1, norm="batch", latent_dim=4
    )
    assert g.inference_statistics == "moving"
    x, _ = tiny_arrays(1, seed=17)
    z = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    a = _np(g([x, z[:1]]))
    b = _np(g([x, z[1:]]))
    assert float(np.abs(a - b).mean() / np.abs(a).mean()) > 0.01
    g.inference_statistics = "image"
    a = _np(g([x, z[:1]]))
    b = _np(g([x, z[1:]]))
    assert float(np.abs(a - b).max()) < 1e-5  # the code is erased

"""Pix2Pix.compile combines GAN, L1/L2, VGG and feature-matching losses."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from pix2pix_keras import losses
from pix2pix_keras.models.discriminator import feature_matching_loss
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix

LAYERS = ("block1_conv1", "block2_conv1")  # cheap VGG19 cut for tests


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def multiscale_pix2pix(size=32, num_scales=2):
    return pk.Pix2Pix(
        generator=pk.UNetGenerator(image_size=size, filters=8, max_filters=32),
        discriminator=pk.MultiScaleDiscriminator(
            image_size=size,
            num_scales=num_scales,
            n_layers=1,
            filters=8,
            max_filters=32,
        ),
        image_size=size,
    )


def _lsgan(logits_real, logits_fake):
    g = np.mean((logits_fake - 1) ** 2)
    d = 0.5 * (np.mean((logits_real - 1) ** 2) + np.mean(logits_fake**2))
    return g, d


def test_l2_reconstruction_replaces_l1_in_g_loss():
    model = tiny_pix2pix()
    model.compile(reconstruction="l2", lambda_l1=50.0)
    x, y = tiny_arrays(4, seed=1)
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    fake = model.predict(x, verbose=0)
    assert logs["g_l2"] == pytest.approx(float(np.mean((fake - y) ** 2)), rel=1e-5)
    assert logs["g_l1"] == pytest.approx(float(np.mean(np.abs(fake - y))), rel=1e-5)
    assert logs["g_loss"] == pytest.approx(
        logs["g_gan"] + 50.0 * logs["g_l2"], rel=1e-5
    )
    history = model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
    assert "g_l2" in history.history


def test_vgg_perceptual_loss_is_weighted_and_reported():
    keras.utils.set_random_seed(0)
    vgg = losses.VGGPerceptualLoss(
        layers=LAYERS, layer_weights=(1.0, 0.5), weights=None
    )
    model = tiny_pix2pix()
    model.compile(perceptual_weight=2.0, perceptual_loss=vgg)
    x, y = tiny_arrays(4, seed=2)
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    fake = model.predict(x, verbose=0)
    assert logs["g_vgg"] == pytest.approx(float(vgg(y, fake)), rel=1e-4)
    assert logs["g_vgg"] > 0
    assert logs["g_loss"] == pytest.approx(
        logs["g_gan"] + 100.0 * logs["g_l1"] + 2.0 * logs["g_vgg"], rel=1e-5
    )
    # The VGG weights are not the model's: same weight count as without it.
    assert len(model.weights) == len(tiny_pix2pix().weights)
    g_before = [w.copy() for w in model.generator.get_weights()]
    vgg_before = [w.copy() for w in vgg.feature_model.get_weights()]
    history = model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_vgg"][0])
    assert any(np.any(a != b) for a, b in zip(g_before, model.generator.get_weights()))
    for a, b in zip(vgg_before, vgg.feature_model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_perceptual_loss_from_a_weights_file_survives_save_load(tmp_path):
    keras.utils.set_random_seed(0)
    vgg_model = keras.applications.VGG19(
        include_top=False, weights=None, input_shape=(None, None, 3)
    )
    weights = os.fspath(tmp_path / "vgg19.weights.h5")
    vgg_model.save_weights(weights)
    model = tiny_pix2pix()
    model.compile(
        perceptual_weight=1.0,
        perceptual_loss=losses.VGGPerceptualLoss(
            layers=LAYERS, layer_weights=(1.0, 1.0), weights=weights
        ),
    )
    model.fit(tiny_dataset(n=2), epochs=1, verbose=0)
    path = os.fspath(tmp_path / "m.keras")
    model.save(path)
    # The .keras file holds the tiny model only, not the 20 M VGG weights.
    assert os.path.getsize(path) < 2_000_000
    loaded = keras.saving.load_model(path)
    assert loaded.perceptual_weight == 1.0
    assert loaded.perceptual_loss.get_config() == model.perceptual_loss.get_config()
    x, y = tiny_arrays(2, seed=3)
    a = model.evaluate(x, y, verbose=0, return_dict=True)
    b = loaded.evaluate(x, y, verbose=0, return_dict=True)
    for key in ("g_vgg", "g_loss", "g_l1"):
        assert b[key] == pytest.approx(a[key], rel=1e-5)


def test_multiscale_gan_loss_is_the_mean_over_scales():
    model = multiscale_pix2pix()
    model.compile()
    x, y = tiny_arrays(2, seed=4)
    logs = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    fake = model.predict(x, verbose=0)
    real_logits = [_np(t) for t in model.discriminator([x, y])]
    fake_logits = [_np(t) for t in model.discriminator([x, fake])]
    assert [t.shape[1:3] for t in real_logits] == [(14, 14), (6, 6)]
    per_scale = [_lsgan(r, f) for r, f in zip(real_logits, fake_logits)]
    assert logs["g_gan"] == pytest.approx(np.mean([g for g, _ in per_scale]), rel=1e-5)
    assert logs["d_loss"] == pytest.approx(np.mean([d for _, d in per_scale]), rel=1e-5)
    # LSGAN reports the raw mean output, averaged over the scales.
    d_real = np.mean([np.mean(r) for r in real_logits])
    assert logs["d_real"] == pytest.approx(float(d_real), rel=1e-5)


def test_feature_matching_trains_every_scale_and_round_trips(tmp_path):
    model = multiscale_pix2pix()
    model.compile(feature_matching_weight=10.0)
    x, y = tiny_arrays(2, seed=5)
    logs = model.evaluate(x, y, batch_size=2, verbose=0, return_dict=True)
    fake = model.predict(x, verbose=0)
    want = feature_matching_loss(
        model.discriminator.features([x, y]), model.discriminator.features([x, fake])
    )
    assert logs["g_fm"] == pytest.approx(float(want), rel=1e-5)
    assert logs["g_loss"] == pytest.approx(
        logs["g_gan"] + 100.0 * logs["g_l1"] + 10.0 * logs["g_fm"], rel=1e-5
    )

    d_before = [w.copy() for w in model.discriminator.get_weights()]
    history = model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
    assert sorted(history.history) == sorted(
        ["g_loss", "g_gan", "g_l1", "g_fm", "d_loss", "d_real", "d_fake"]
    )
    for scale in model.discriminator.scales:
        kernel = scale.trainable_weights[0]
        idx = [id(w) for w in model.discriminator.weights].index(id(kernel))
        assert np.any(_np(kernel) != d_before[idx]), scale.name

    path = os.fspath(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.feature_matching_weight == 10.0
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    a = model.evaluate(x, y, verbose=0, return_dict=True)
    b = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert b["g_fm"] == pytest.approx(a["g_fm"], rel=1e-5)
    served = tf.saved_model.load(loaded.export(os.fspath(tmp_path / "g")))
    np.testing.assert_allclose(
        served.serve(tf.constant(x)).numpy(), model.predict(x, verbose=0), atol=1e-5
    )


def test_all_parts_together():
    keras.utils.set_random_seed(0)
    vgg = losses.VGGPerceptualLoss(
        layers=LAYERS, layer_weights=(1.0, 1.0), weights=None
    )
    model = multiscale_pix2pix()
    model.compile(
        gan_loss="hinge",
        reconstruction="l2",
        lambda_l1=10.0,
        perceptual_weight=1.0,
        perceptual_loss=vgg,
        feature_matching_weight=5.0,
        d_every=2,
    )
    history = model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert set(logs) == {
        "g_loss",
        "g_gan",
        "g_l1",
        "g_l2",
        "g_vgg",
        "g_fm",
        "d_loss",
        "d_real",
        "d_fake",
    }
    assert all(np.isfinite(v) for v in logs.values())
    assert int(model.step_counter) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(reconstruction="l3"), "reconstruction"),
        (dict(perceptual_weight=-1.0), "perceptual_weight"),
        (dict(feature_matching_weight=float("nan")), "feature_matching_weight"),
        (dict(perceptual_loss=losses.l1_loss), "perceptual_weight"),
        (dict(perceptual_weight=1.0, perceptual_loss="vgg"), "perceptual_loss"),
    ],
)
def test_bad_loss_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_pix2pix().compile(**kwargs)


def test_feature_matching_needs_a_features_method():
    inp = [keras.Input((32, 32, 3)), keras.Input((32, 32, 3))]
    out = keras.layers.Conv2D(1, 4, strides=2)(keras.layers.Concatenate()(inp))
    model = pk.Pix2Pix(
        generator=pk.UNetGenerator(image_size=32, filters=8),
        discriminator=keras.Model(inp, out, name="plain_d"),
        image_size=32,
    )
    with pytest.raises(ValueError, match="plain_d"):
        model.compile(feature_matching_weight=1.0)
    model.compile()  # fine without feature matching
    logs = model.fit(tiny_dataset(n=2), epochs=1, verbose=0).history
    assert "g_fm" not in logs

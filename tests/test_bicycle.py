"""Tests of BicycleGAN and its LatentEncoder (tiny 32×32 networks)."""

import contextlib
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from tensorflow.python.framework import config as tf_config

import pix2pix_keras as pk
from pix2pix_keras.models.bicycle import kl_divergence
from tests._helpers import run_page
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset

LATENT = 8


@contextlib.contextmanager
def op_determinism():
    was = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was:
            tf_config.disable_op_determinism()


def latent_generator():
    return pk.UNetGenerator(
        image_size=32,
        filters=8,
        max_filters=32,
        latent_dim=LATENT,
        latent_injection="all",
    )


def tiny_discriminator(name="discriminator"):
    return pk.PatchDiscriminator(
        image_size=32, filters=8, max_filters=32, n_layers=2, name=name
    )


def tiny_encoder():
    return pk.LatentEncoder(image_size=32, filters=8, latent_dim=LATENT)


def tiny_bicycle(
    shared=False, seed=0, generator=latent_generator, encoder=tiny_encoder, **kw
):
    """A 32×32 BicycleGAN; `generator` and `encoder` build those networks."""
    return pk.BicycleGAN(
        generator=generator(),
        discriminator=tiny_discriminator(),
        encoder=encoder(),
        latent_dim=LATENT,
        shared_discriminator=shared,
        image_size=32,
        seed=seed,
        **kw,
    )


def _np(v):
    return np.array(keras.ops.convert_to_numpy(v))


def _int(v):
    return int(_np(v))


def _values(variables):
    return [_np(v) for v in variables]


def _state(model):
    state = {"model": _values(model.variables)}
    for key in ("g", "d", "e", "d2"):
        opt = getattr(model, f"{key}_optimizer")
        state[key] = None if opt is None else _values(opt.variables)
    return state


def _assert_same_state(a, b):
    assert sorted(a) == sorted(b)
    for part in a:
        if a[part] is None or b[part] is None:
            assert a[part] is b[part] is None, part
            continue
        assert len(a[part]) == len(b[part]) > 0, part
        for i, (x, y) in enumerate(zip(a[part], b[part])):
            np.testing.assert_array_equal(x, y, err_msg=f"{part}[{i}]")


def _build(seed=0, shared=False, **compile_kw):
    keras.utils.set_random_seed(seed)
    model = tiny_bicycle(shared=shared, seed=seed)
    model.compile(**compile_kw)
    return model


def linear_encoder():
    """An encoder whose codes respond to the image from the first step."""
    image = keras.Input((32, 32, 3), name="image")
    flat = layers.Flatten(name="encoder_flat")(image)
    heads = [layers.Dense(LATENT, name=f"encoder_{n}")(flat) for n in ("mu", "log_var")]
    return keras.Model(image, heads, name="encoder")


def concat_generator():
    """A plain functional `[image, z] -> image` model (not a UNetGenerator)."""
    image = keras.Input((32, 32, 3), name="image")
    z = keras.Input((LATENT,), name="z")
    x = pk.ConcatLatent(name="g_concat")([image, z])
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="g_c0")(x)
    out = layers.Conv2D(3, 3, padding="same", activation="tanh", name="g_out")(x)
    return keras.Model([image, z], out, name="generator")


@pytest.fixture(scope="module")
def trained():
    """A tiny BicycleGAN after 8 steps (2 epochs of 4 batches of 2), and
    its history. The tests that take it do not train it further."""
    model = _build()
    history = model.fit(tiny_dataset(n=8), epochs=2, verbose=0)
    return model, history


def _mean_abs(a, b):
    return float(np.mean(np.abs(_np(a) - _np(b))))


# One 8-bit gray level in [-1, 1] units: outputs closer than this on
# average would look (nearly) the same once saved as 8-bit images.
GRAY_LEVEL = 2.0 / 255.0


KEYS = ["d2_loss", "d_loss", "g_gan_lr", "g_gan_vae", "g_l1", "g_loss", "kl", "z_l1"]


# ----------------------------------------------------------------------
# encoder and KL


def test_encoder_shapes_parameters_and_config_round_trip():
    e = tiny_encoder()
    assert e.n_blocks == 2  # 32 -> 16 (conv) -> 8 (block): an 8-pixel side
    x, _ = tiny_arrays(2)
    mu, log_var = e(x)
    assert tuple(mu.shape) == tuple(log_var.shape) == (2, LATENT)
    # conv 4x4 3->8; block 8->16 (two 3x3 convs and a 1x1 shortcut, all
    # with bias; instance norm has no weights); heads 16->8 twice.
    conv = 4 * 4 * 3 * 8 + 8
    block = (9 * 8 * 8 + 8) + (9 * 8 * 16 + 16) + (8 * 16 + 16)
    heads = 2 * (16 * LATENT + LATENT)
    assert e.count_params() == conv + block + heads == 2560
    config = e.get_config()
    clone = pk.LatentEncoder.from_config(json.loads(json.dumps(config)))
    assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(config))
    assert clone.count_params() == e.count_params()
    # The reference's resnet_256: five stages, widths 64·min(4, i + 1).
    big = pk.LatentEncoder(image_size=256)
    assert big.n_blocks == 5
    widths = [
        l.filters
        for l in big.layers
        if l.name.endswith("_conv1") or l.name == "encoder_conv"
    ]
    assert widths == [64, 128, 192, 256, 256]
    # The parameter count of the reference's E_ResNet (nef=64, nz=8,
    # affine-free instance norm).
    assert big.count_params() == 2_590_032


def test_kl_closed_form_and_non_negative():
    mu = np.array([[1.0, -2.0, 0.0], [0.0, 0.0, 0.0]], "float32")
    log_var = np.array([[0.0, np.log(2.0), -1.0], [0.0, 0.0, 0.0]], "float32")
    var = np.exp(log_var)
    want = 0.5 * np.sum(var + mu**2 - 1.0 - log_var, axis=-1)
    got = _np(kl_divergence(mu, log_var))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[1] == 0.0  # N(0, I) itself
    # 0.5·(1 + 1 − 1 − 0) + 0.5·(2 + 4 − 1 − ln 2) + 0.5·(e⁻¹ − 1 + 1)
    assert got[0] == pytest.approx(
        0.5 + 0.5 * (5 - np.log(2)) + 0.5 * np.exp(-1), rel=1e-6
    )
    e = tiny_encoder()
    y = np.random.default_rng(1).uniform(-1, 1, (8, 32, 32, 3)).astype("f")
    kl = _np(kl_divergence(*e(y)))
    assert kl.shape == (8,)
    assert np.all(kl >= 0.0)


# ----------------------------------------------------------------------
# construction


def test_constructor_and_compile_validation():
    model = tiny_bicycle()
    # D2 is a fresh copy of D's architecture.
    assert model.discriminator2.name == "discriminator2"
    assert model.discriminator2.count_params() == model.discriminator.count_params()
    assert not np.array_equal(
        _np(model.discriminator.trainable_variables[0]),
        _np(model.discriminator2.trainable_variables[0]),
    )
    shared = tiny_bicycle(shared=True)
    assert shared.discriminator2 is None
    with pytest.raises(ValueError, match="generator\\(\\[image, z\\]\\)"):
        pk.BicycleGAN(
            generator=pk.UNetGenerator(image_size=32, filters=8),
            discriminator=tiny_discriminator(),
            encoder=tiny_encoder(),
            image_size=32,
        )
    with pytest.raises(ValueError, match="must be None with"):
        tiny_bicycle(shared=True, discriminator2=tiny_discriminator("d2"))
    with pytest.raises(ValueError, match="d_every"):
        model.compile(d_every=2)
    adam = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="`g_optimizer` and `e_optimizer`"):
        model.compile(g_optimizer=adam, e_optimizer=adam)
    with pytest.raises(ValueError, match="d2_optimizer"):
        shared.compile(d2_optimizer="adam")


# ----------------------------------------------------------------------
# training


def test_fit_logs_and_optimizer_steps(trained):
    model, history = trained
    assert sorted(history.history) == KEYS
    for key in ("g", "e", "d", "d2"):
        assert _int(getattr(model, f"{key}_optimizer").iterations) == 8, key
    assert _int(model.step_counter) == 8
    assert model.optimizer is None
    logs = {key: values[-1] for key, values in history.history.items()}
    assert logs["kl"] >= 0.0 and logs["z_l1"] > 0.0
    want = (
        logs["g_gan_vae"]
        + logs["g_gan_lr"]
        + 10.0 * logs["g_l1"]
        + 0.01 * logs["kl"]
        + 0.5 * logs["z_l1"]
    )
    assert logs["g_loss"] == pytest.approx(want, rel=1e-5)
    result = model.evaluate(tiny_dataset(n=4), return_dict=True, verbose=0)
    assert sorted(result) == sorted(KEYS + ["psnr", "ssim"])
    assert _int(model.step_counter) == 8  # evaluate() trains nothing


def _z_l1_curve(lambda_z, steps=150):
    """z_l1 of each step on 4 tiny pairs (batches of 2, split in halves),
    and G's and E's weights after the first step."""
    keras.utils.set_random_seed(0)
    model = tiny_bicycle(encoder=linear_encoder)
    adam = lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)  # noqa: E731
    model.compile(
        g_optimizer=adam(),
        d_optimizer=adam(),
        e_optimizer=adam(),
        d2_optimizer=adam(),
        lambda_z=lambda_z,
    )
    x, y = tiny_arrays(4)
    curve = []
    for step in range(steps):
        i = 2 * (step % 2)
        model.reset_metrics()  # the logs are then this step's values
        logs = model.train_on_batch(x[i : i + 2], y[i : i + 2], return_dict=True)
        curve.append(logs["z_l1"])
        if step == 0:
            first = {
                net: _values(getattr(model, net).trainable_variables)
                for net in ("generator", "encoder")
            }
    return np.array(curve), first


def test_z_l1_falls_on_a_toy_problem():
    # Toy settings: Adam(1e-3), lambda_z=10 and a linear encoder (the
    # default ResNet encoder starts with N(0, 0.02) weights, as the
    # reference's, and its codes hardly move with the image for the first
    # few hundred steps, so G cannot learn to steer them yet). Measured:
    # z_l1 0.80 -> 0.35 (mean of the first and last 20 of 150 steps); with
    # lambda_z=0 the same run rises instead (0.86 -> 0.96, not repeated
    # here to save 10 s): the fall is the latent regression's doing. At
    # the start z_l1 ~ E|z| = sqrt(2/pi) = 0.80.
    k = 20
    with op_determinism():
        with_z, first = _z_l1_curve(lambda_z=10.0)
        _, first_without = _z_l1_curve(lambda_z=0.0, steps=1)
    assert with_z[:k].mean() == pytest.approx(np.sqrt(2 / np.pi), abs=0.1)
    assert with_z[-k:].mean() < 0.5 * with_z[:k].mean()

    # The reference's update_G_and_E: z_l1 backpropagates into G, not E.
    # After the first step (same seed, same data) E is bit for bit the
    # same with and without the latent regression, and G is not.
    for a, b in zip(first["encoder"], first_without["encoder"]):
        np.testing.assert_array_equal(a, b)
    changed = [
        not np.array_equal(a, b)
        for a, b in zip(first["generator"], first_without["generator"])
    ]
    assert sum(changed) > 0.9 * len(changed)


def test_different_z_give_different_outputs(trained):
    trained, _ = trained
    x, _ = tiny_arrays(4, seed=3)
    pairs = trained.sample(x, n=2, seed=1)
    assert pairs.shape == (4, 2, 32, 32, 3)
    # Two codes give outputs that differ by more than one 8-bit gray
    # level on average over each image, so they differ once saved as
    # 8-bit images (measured: 2.2-2.9 levels per image; the same code:
    # 0); most 8-bit pixel values differ (measured: 90 %).
    per_image = np.abs(pairs[:, 0] - pairs[:, 1]).mean(axis=(1, 2, 3))
    assert np.all(per_image > GRAY_LEVEL), per_image / GRAY_LEVEL
    as_uint8 = np.round((pairs + 1.0) * 127.5).astype(np.uint8)
    assert np.mean(as_uint8[:, 0] != as_uint8[:, 1]) > 0.5
    # The same code gives the same output, bit for bit.
    z = np.random.default_rng(2).standard_normal((1, LATENT)).astype("f")
    same = trained.sample(x, z=np.concatenate([z, z]))
    np.testing.assert_array_equal(same[:, 0], same[:, 1])


# ----------------------------------------------------------------------
# inference


def test_predict_sample_and_encode(trained):
    trained, _ = trained
    x, y = tiny_arrays(3, seed=4)
    a = trained.predict(x, verbose=0)
    b = trained.predict(x, verbose=0)
    assert a.shape == (3, 32, 32, 3) and np.all(np.abs(a) <= 1.0)
    assert _mean_abs(a, b) > GRAY_LEVEL  # a new z per call
    assert tuple(trained(x).shape) == (3, 32, 32, 3)
    # Seeded draws are reproducible; explicit codes are G([x, z]).
    s1 = trained.sample(x, n=3, seed=7)
    np.testing.assert_array_equal(s1, trained.sample(x, n=3, seed=7))
    assert s1.shape == (3, 3, 32, 32, 3)
    z = np.random.default_rng(0).standard_normal((3, 2, LATENT)).astype("f")
    out = trained.sample(x, z=z)
    for j in range(2):
        want = trained.generator([x, z[:, j]], training=False)
        np.testing.assert_allclose(out[:, j], _np(want), atol=1e-5)
    mu, log_var = trained.encode(y)
    want_mu, want_log_var = trained.encoder(y, training=False)
    assert mu.shape == log_var.shape == (3, LATENT)
    np.testing.assert_allclose(mu, _np(want_mu), atol=1e-5)
    np.testing.assert_allclose(log_var, _np(want_log_var), atol=1e-5)
    with pytest.raises(ValueError, match="`z` must have shape"):
        trained.sample(x, z=np.zeros((3, 4)))
    # A model with the same weights and seed draws the same codes.
    clone = pk.BicycleGAN.from_config(trained.get_config())
    clone.set_weights(trained.get_weights())
    fresh = pk.BicycleGAN.from_config(trained.get_config())
    fresh.set_weights(trained.get_weights())
    np.testing.assert_allclose(
        clone.predict(x, verbose=0), fresh.predict(x, verbose=0), atol=1e-6
    )


def test_any_generator_called_with_image_and_z():
    model = tiny_bicycle(seed=None, generator=concat_generator)
    x, _ = tiny_arrays(2)
    pairs = model.sample(x, n=2, seed=0)
    assert pairs.shape == (2, 2, 32, 32, 3)
    assert _mean_abs(pairs[:, 0], pairs[:, 1]) > 0.0
    clone = pk.BicycleGAN.from_config(json.loads(json.dumps(model.get_config())))
    assert type(clone.generator).__name__ == "Functional"
    assert clone.generator.count_params() == model.generator.count_params()


# ----------------------------------------------------------------------
# saving and export


def test_get_config_round_trip_is_json_equal():
    model = tiny_bicycle()
    config = model.get_config()
    clone = pk.BicycleGAN.from_config(json.loads(json.dumps(config)))
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    assert type(clone.encoder) is pk.LatentEncoder
    assert clone.latent_dim == LATENT and clone.seed == 0
    for net in ("generator", "discriminator", "discriminator2", "encoder"):
        assert (
            getattr(clone, net).count_params() == getattr(model, net).count_params()
        ), net
    with pytest.raises(ValueError, match="Unknown key"):
        pk.BicycleGAN.from_config({**config, "latnet_dim": 8})


def test_save_load_and_resume_equals_uninterrupted(tmp_path):
    path = os.fspath(tmp_path / "bicycle.keras")
    data = tiny_dataset(n=6)  # 3 steps per epoch
    with op_determinism():
        model = _build(lambda_kl=0.02, split_batch=False)
        model.fit(data, epochs=1, verbose=0)
        model.save(path)
        at_save = _state(model)

        loaded = pk.BicycleGAN.load(path)

        assert type(loaded) is pk.BicycleGAN
        assert type(loaded.encoder) is pk.LatentEncoder
        assert loaded.get_config() == model.get_config()
        assert (loaded.lambda_kl, loaded.lambda_z, loaded.split_batch) == (
            0.02,
            0.5,
            False,
        )
        assert float(_np(loaded.l1_weight)) == 10.0
        assert set(loaded.base_learning_rates) == {"g", "d", "e", "d2"}
        for key in ("g", "d", "e", "d2"):
            assert _int(getattr(loaded, f"{key}_optimizer").iterations) == 3
        # Weights, RNG states (the z draws) and all four optimizers.
        _assert_same_state(_state(loaded), at_save)

        # One more epoch each: the saved model in memory, the loaded one
        # from the file.
        model.fit(data, initial_epoch=1, epochs=2, verbose=0)
        loaded.fit(data, initial_epoch=1, epochs=2, verbose=0)

    assert _int(loaded.step_counter) == _int(model.step_counter) == 6
    for key in ("g", "d", "e", "d2"):
        assert _int(getattr(loaded, f"{key}_optimizer").iterations) == 6
    _assert_same_state(_state(loaded), _state(model))


def test_save_load_shared_discriminator(tmp_path):
    path = os.fspath(tmp_path / "shared.keras")
    model = _build(shared=True, lambda_z=0.25)
    model.save(path)
    loaded = pk.BicycleGAN.load(path)
    assert loaded.shared_discriminator is True
    assert loaded.discriminator2 is None and loaded.d2_optimizer is None
    assert loaded.get_compile_config()["d2_optimizer"] is None
    assert loaded.lambda_z == 0.25
    assert set(loaded.base_learning_rates) == {"g", "d", "e"}
    _assert_same_state(_state(loaded), _state(model))


def test_export_samples_z_and_takes_explicit_z(trained, tmp_path):
    trained, _ = trained
    directory = os.fspath(tmp_path / "served")
    assert trained.export(directory, seed=3) == directory
    served = tf.saved_model.load(directory)
    x, y = tiny_arrays(3, seed=6)

    a, b = served.serve(tf.constant(x)), served.serve(tf.constant(x))
    assert tuple(a.shape) == (3, 32, 32, 3)
    assert _mean_abs(a, b) > GRAY_LEVEL  # z is drawn at every call

    z = np.random.default_rng(1).standard_normal((3, LATENT)).astype("f")
    out = served.serve_latent(tf.constant(x), tf.constant(z))
    want = trained.generator([x, z], training=False)
    assert float(np.max(np.abs(_np(out) - _np(want)))) < 1e-5

    codes = served.encode(tf.constant(y))
    mu, log_var = trained.encoder(y, training=False)
    assert float(np.max(np.abs(_np(codes["mu"]) - _np(mu)))) < 1e-5
    assert float(np.max(np.abs(_np(codes["log_var"]) - _np(log_var)))) < 1e-5

    default = served.signatures["serving_default"]
    _, kwargs = default.structured_input_signature
    assert list(kwargs) == ["image"]
    assert kwargs["image"].shape.as_list() == [None, None, None, 3]
    _, kwargs = served.signatures["serve_latent"].structured_input_signature
    assert sorted(kwargs) == ["image", "latent"]
    assert kwargs["latent"].shape.as_list() == [None, LATENT]

    # The same seed gives the same sequence of draws after each load.
    again = tf.saved_model.load(directory)
    np.testing.assert_array_equal(_np(again.serve(tf.constant(x))), _np(a))


# ----------------------------------------------------------------------
# docs/bicycle.md


def test_docs_page_runs(tmp_path, monkeypatch):
    blocks, ns = run_page("bicycle.md", tmp_path, monkeypatch)
    assert len(blocks) == 3
    assert sorted(ns["history"].history) == KEYS
    assert ns["samples"].shape == (2, 4, 32, 32, 3)
    assert ns["styled"].shape == (2, 1, 32, 32, 3)
    assert ns["predicted"].shape == (2, 32, 32, 3)
    assert ns["mu"].shape == ns["log_var"].shape == (2, LATENT)
    assert int(ns["restored"].e_optimizer.iterations) == 8
    assert (tmp_path / "bicycle.keras").is_file()
    assert (tmp_path / "bicycle_savedmodel" / "saved_model.pb").is_file()
    assert _mean_abs(ns["a"], ns["b"]) > GRAY_LEVEL
    x, z = ns["x"][:2], ns["z"]
    want = ns["model"].generator([x, z], training=False)
    assert float(np.max(np.abs(_np(ns["c"]) - _np(want)))) < 1e-5
    assert sorted(ns["codes"]) == ["log_var", "mu"]


def _fit_three_epochs(callback):
    """A `_build()` model after 3 epochs on 2 pairs with `callback`:
    `(model, history)`."""
    model = _build()
    history = model.fit(tiny_dataset(n=2), epochs=3, verbose=0, callbacks=[callback])
    return model, history


def test_linear_decay_decays_all_four_optimizers():
    model, history = _fit_three_epochs(pk.LinearDecay(n_epochs=1, n_epochs_decay=2))
    for key in ("g", "d", "e", "d2"):
        base = model.base_learning_rates[key]
        assert history.history[f"{key}_lr"] == pytest.approx(
            [base, base * 2 / 3, base / 3]
        )


def test_learning_rate_halving_decays_all_four_optimizers():
    """The reference decays G, D, E and D2 alike; so does the callback."""
    model, history = _fit_three_epochs(pk.LearningRateHalving(every=1))
    for key in ("g", "d", "e", "d2"):
        base = model.base_learning_rates[key]
        assert base == pytest.approx(2e-4)
        assert history.history[f"{key}_lr"] == pytest.approx([base, base / 2, base / 4])
        lr = _np(getattr(model, f"{key}_optimizer").learning_rate)
        assert float(lr) == pytest.approx(base / 4)

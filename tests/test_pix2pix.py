"""Tests of the Pix2Pix model: compile, fit, evaluate, predict, d_every."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import pix2pix_keras as pk
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.conftest import tiny_pix2pix

LOG_KEYS = {"g_loss", "g_gan", "g_l1", "d_loss", "d_real", "d_fake"}
EVAL_KEYS = LOG_KEYS | {"psnr", "ssim"}

# No test here compares two runs, so op determinism stays off: Keras
# 3.15 silently turns `jit_compile=True` into False while it is enabled
# (`model_supports_jit`), which would defeat the XLA tests.


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _iterations(optimizer):
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def _changed(before, after):
    return [not np.array_equal(b, a) for b, a in zip(before, after)]


def _compiled(seed=0, **compile_kw):
    keras.utils.set_random_seed(seed)
    model = tiny_pix2pix()
    model.compile(**compile_kw)
    return model


# ----------------------------------------------------------------------
# compile


@pytest.mark.parametrize(
    "kwargs, arg, shown",
    [
        (dict(gan_loss="wgan"), "gan_loss", "'wgan'"),
        (dict(gan_loss="foo"), "gan_loss", "'foo'"),
        (dict(d_every=0), "d_every", "d_every=0"),
        (dict(d_every=1.5), "d_every", "d_every=1.5"),
        (dict(d_every=True), "d_every", "d_every=True"),
        (dict(lambda_l1=-1), "lambda_l1", "lambda_l1=-1"),
        (dict(lambda_l1=float("nan")), "lambda_l1", "lambda_l1=nan"),
        (dict(loss="mae"), "loss", "'mae'"),
        (dict(optimizer="adam"), "optimizer", "'adam'"),
    ],
    ids=[
        "gan_loss-wgan",
        "gan_loss-foo",
        "d_every-0",
        "d_every-1.5",
        "d_every-True",
        "lambda_l1-neg",
        "lambda_l1-nan",
        "loss",
        "optimizer",
    ],
)
def test_compile_rejects_bad_argument(kwargs, arg, shown):
    model = tiny_pix2pix()
    with pytest.raises(ValueError) as info:
        model.compile(**kwargs)
    message = str(info.value)
    assert f"`{arg}`" in message
    assert shown in message
    assert model.g_optimizer is None and model.d_optimizer is None


def test_compile_rejects_one_optimizer_for_both_networks():
    model = tiny_pix2pix()
    optimizer = keras.optimizers.Adam(1e-3, name="shared_adam")
    with pytest.raises(ValueError) as info:
        model.compile(g_optimizer=optimizer, d_optimizer=optimizer)
    message = str(info.value)
    assert "`g_optimizer`" in message and "`d_optimizer`" in message
    assert "shared_adam" in message  # which optimizer was passed twice
    assert model.g_optimizer is None


def test_compile_defaults_two_paper_adams():
    model = tiny_pix2pix()
    model.compile()
    g, d = model.g_optimizer, model.d_optimizer
    assert g is not d
    for opt in (g, d):
        assert isinstance(opt, keras.optimizers.Adam)
        assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == (
            pytest.approx(2e-4, rel=1e-6)
        )
        assert opt.beta_1 == 0.5
        assert opt.beta_2 == 0.999
        assert opt.built
        assert _iterations(opt) == 0
    # No stray default RMSprop from keras.Model.compile.
    assert model.optimizer is None
    assert (model.gan_loss, model.lambda_l1, model.d_every) == (
        "lsgan",
        100.0,
        1,
    )
    # Built in compile(): iterations + learning rate + 2 moments per var.
    n_g = len(model.generator.trainable_variables)
    n_d = len(model.discriminator.trainable_variables)
    assert len(g.variables) == 2 + 2 * n_g
    assert len(d.variables) == 2 + 2 * n_d
    assert len(g.variables) > 2 and len(d.variables) > 2


# ----------------------------------------------------------------------
# fit / evaluate / predict


def test_fit_one_epoch_updates_both_networks_and_logs():
    model = _compiled()
    g_before = _values(model.generator.trainable_variables)
    d_before = _values(model.discriminator.trainable_variables)

    history = model.fit(tiny_dataset(n=2, batch_size=2), epochs=1, verbose=0)

    g_after = _values(model.generator.trainable_variables)
    d_after = _values(model.discriminator.trainable_variables)
    assert len(g_before) == 25 and len(d_before) == 10
    assert all(_changed(g_before, g_after))
    assert all(_changed(d_before, d_after))
    assert set(history.history) == LOG_KEYS
    logs = {k: v[-1] for k, v in history.history.items()}
    assert all(len(v) == 1 for v in history.history.values())
    # A single-batch epoch: the logged means are that batch's values.
    assert logs["g_loss"] == pytest.approx(
        logs["g_gan"] + 100.0 * logs["g_l1"], abs=1e-4
    )
    assert _iterations(model.g_optimizer) == 1
    assert _iterations(model.d_optimizer) == 1
    assert int(keras.ops.convert_to_numpy(model.step_counter)) == 1


def test_metrics_are_the_six_mean_trackers_and_psnr_ssim():
    model = _compiled()
    assert [m.name for m in model.metrics] == [
        "g_loss",
        "g_gan",
        "g_l1",
        "d_loss",
        "d_real",
        "d_fake",
        "psnr",
        "ssim",
    ]
    assert all(isinstance(m, keras.metrics.Mean) for m in model.metrics[:6])
    assert isinstance(model.metrics[6], pk.PSNR)
    assert isinstance(model.metrics[7], pk.SSIM)


def test_g_loss_is_weighted_sum_with_custom_lambda():
    model = _compiled(lambda_l1=7.5)
    history = model.fit(tiny_dataset(n=2, batch_size=2), epochs=1, verbose=0)
    logs = {k: v[0] for k, v in history.history.items()}
    assert logs["g_loss"] == pytest.approx(logs["g_gan"] + 7.5 * logs["g_l1"], abs=1e-4)


def test_evaluate_returns_eight_keys_and_changes_nothing():
    model = _compiled()
    ds = tiny_dataset(n=4, batch_size=2)
    model.fit(ds, epochs=1, verbose=0)  # moving stats no longer at init
    weights_before = _values(model.weights)
    variables_before = _values(model.variables)
    its = (_iterations(model.g_optimizer), _iterations(model.d_optimizer))
    opt_before = _values(model.g_optimizer.variables) + _values(
        model.d_optimizer.variables
    )

    result = model.evaluate(ds, return_dict=True, verbose=0)

    assert set(result) == EVAL_KEYS
    assert all(np.isfinite(v) for v in result.values())
    # PSNR and SSIM of the inference generator on this data, recomputed.
    x = np.concatenate([b[0].numpy() for b in ds])
    y = np.concatenate([b[1].numpy() for b in ds])
    fake = model.predict(x, verbose=0)
    assert result["psnr"] == pytest.approx(
        float(np.mean(pk.metrics.psnr(y, fake))), rel=1e-5
    )
    assert result["ssim"] == pytest.approx(
        float(np.mean(pk.metrics.ssim(y, fake))), rel=1e-5, abs=1e-6
    )
    assert result["g_loss"] == pytest.approx(
        result["g_gan"] + 100.0 * result["g_l1"], rel=1e-5
    )
    weights_after = _values(model.weights)
    assert len(weights_after) == len(weights_before) == 55
    for before, after in zip(weights_before, weights_after):
        np.testing.assert_array_equal(before, after)
    # Also the dropout RNG states (variables that are not weights).
    for before, after in zip(variables_before, _values(model.variables)):
        np.testing.assert_array_equal(before, after)
    assert (
        (
            _iterations(model.g_optimizer),
            _iterations(model.d_optimizer),
        )
        == its
        == (2, 2)
    )
    opt_after = _values(model.g_optimizer.variables) + _values(
        model.d_optimizer.variables
    )
    for before, after in zip(opt_before, opt_after):
        np.testing.assert_array_equal(before, after)


def test_fit_with_validation_data_logs_val_keys():
    model = _compiled()
    history = model.fit(
        tiny_dataset(n=2),
        validation_data=tiny_dataset(n=4, seed=1),
        epochs=2,
        verbose=0,
    )
    assert set(history.history) == LOG_KEYS | {f"val_{k}" for k in EVAL_KEYS}
    assert all(len(v) == 2 for v in history.history.values())
    # Validation is the inference-mode forward pass of the end-of-epoch
    # model: evaluate() on the same data gives the same numbers.
    x, y = tiny_arrays(4, seed=1)
    again = model.evaluate(x, y, batch_size=2, return_dict=True, verbose=0)
    for key in EVAL_KEYS:
        assert history.history[f"val_{key}"][-1] == pytest.approx(
            again[key], rel=1e-5, abs=1e-6
        )


def test_predict_is_the_inference_generator():
    model = _compiled()
    model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
    x, _ = tiny_arrays(5, seed=3)

    out = model.predict(x, batch_size=2, verbose=0)

    assert out.shape == (5, 32, 32, 3)
    assert out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    direct = keras.ops.convert_to_numpy(model.generator(x, training=False))
    np.testing.assert_allclose(out, direct, rtol=0, atol=1e-6)
    # Inference mode: deterministic, no dropout.
    again = model.predict(x, batch_size=2, verbose=0)
    np.testing.assert_array_equal(out, again)


# ----------------------------------------------------------------------
# losses on a known input


def _softplus(z):
    return np.logaddexp(0.0, z)


def _manual_losses(model, x, y, gan_loss, lambda_l1):
    fake = keras.ops.convert_to_numpy(model.generator(x, training=False))
    d_real = keras.ops.convert_to_numpy(
        model.discriminator([x, y], training=False)
    ).astype("float64")
    d_fake = keras.ops.convert_to_numpy(
        model.discriminator([x, fake], training=False)
    ).astype("float64")
    assert d_real.shape == d_fake.shape == (x.shape[0], 6, 6, 1)
    g_l1 = np.mean(np.abs(y.astype("float64") - fake))
    if gan_loss == "lsgan":
        g_gan = np.mean((d_fake - 1.0) ** 2)
        d_loss = 0.5 * (np.mean((d_real - 1.0) ** 2) + np.mean(d_fake**2))
        real_out, fake_out = d_real.mean(), d_fake.mean()
    elif gan_loss == "hinge":
        g_gan = -np.mean(d_fake)
        d_loss = 0.5 * (
            np.mean(np.maximum(0.0, 1.0 - d_real))
            + np.mean(np.maximum(0.0, 1.0 + d_fake))
        )
        real_out, fake_out = d_real.mean(), d_fake.mean()
    else:
        # -log sigmoid(z) = softplus(-z); -log(1 - sigmoid(z)) = softplus(z)
        g_gan = np.mean(_softplus(-d_fake))
        d_loss = 0.5 * (np.mean(_softplus(-d_real)) + np.mean(_softplus(d_fake)))
        sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
        real_out, fake_out = sigmoid(d_real).mean(), sigmoid(d_fake).mean()
    return dict(
        g_loss=g_gan + lambda_l1 * g_l1,
        g_gan=g_gan,
        g_l1=g_l1,
        d_loss=d_loss,
        d_real=real_out,
        d_fake=fake_out,
    )


@pytest.mark.parametrize("gan_loss", ["lsgan", "vanilla", "hinge"])
def test_test_step_losses_match_manual_computation(gan_loss):
    model = _compiled(gan_loss=gan_loss, lambda_l1=100.0)
    # One training epoch first, so BN moving stats and D are not at init.
    model.fit(tiny_dataset(n=4), epochs=1, verbose=0)
    x, y = tiny_arrays(3, seed=7)
    model.reset_metrics()

    got = model.test_step((tf.constant(x), tf.constant(y)))

    want = _manual_losses(model, x, y, gan_loss, 100.0)
    assert set(got) == EVAL_KEYS
    for key in LOG_KEYS:
        assert float(got[key]) == pytest.approx(want[key], rel=1e-5, abs=1e-6), key


# ----------------------------------------------------------------------
# d_every


def test_d_every_2_counts_over_five_steps():
    model = _compiled(d_every=2)
    model.fit(tiny_dataset(n=10, batch_size=2), epochs=1, verbose=0)
    assert _iterations(model.g_optimizer) == 5
    assert _iterations(model.d_optimizer) == math.ceil(5 / 2) == 3
    assert int(keras.ops.convert_to_numpy(model.step_counter)) == 5


def test_d_every_3_counts():
    model = _compiled(d_every=3)
    model.fit(tiny_dataset(n=14, batch_size=2), epochs=1, verbose=0)
    # D steps at counter 0, 3, 6.
    assert _iterations(model.g_optimizer) == 7
    assert _iterations(model.d_optimizer) == 3
    assert int(keras.ops.convert_to_numpy(model.step_counter)) == 7


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_d_every_2_skips_discriminator_update_step_by_step(jit_compile):
    model = _compiled(d_every=2, jit_compile=jit_compile)
    assert model.jit_compile is jit_compile
    one_batch = tiny_dataset(n=2, batch_size=2)
    d_changed, g_changed = [], []
    for step in range(5):
        d_before = _values(model.discriminator.trainable_variables)
        g_before = _values(model.generator.trainable_variables)
        model.fit(one_batch, epochs=1, verbose=0)
        d_after = _values(model.discriminator.trainable_variables)
        g_after = _values(model.generator.trainable_variables)
        d_flags = _changed(d_before, d_after)
        # Either every D variable moved or none did.
        assert all(d_flags) or not any(d_flags), (step, d_flags)
        d_changed.append(all(d_flags))
        g_changed.append(all(_changed(g_before, g_after)))
        assert int(keras.ops.convert_to_numpy(model.step_counter)) == step + 1
        assert _iterations(model.g_optimizer) == step + 1
        assert _iterations(model.d_optimizer) == step // 2 + 1
    # Steps 1, 3, 5 (counter 0, 2, 4) update D; steps 2 and 4 do not.
    assert d_changed == [True, False, True, False, True]
    assert g_changed == [True] * 5
    assert model.jit_compile is jit_compile


def test_train_on_batch_and_test_on_batch():
    # Keras passes (x, y, None) to train_step / test_step here.
    model = _compiled(d_every=2)
    x, y = tiny_arrays(2)
    d_before = _values(model.discriminator.trainable_variables)

    logs = model.train_on_batch(x, y, return_dict=True)

    assert set(logs) == LOG_KEYS
    assert _iterations(model.g_optimizer) == 1
    assert _iterations(model.d_optimizer) == 1
    d_after = _values(model.discriminator.trainable_variables)
    assert all(_changed(d_before, d_after))
    model.train_on_batch(x, y)
    assert _iterations(model.g_optimizer) == 2
    assert _iterations(model.d_optimizer) == 1
    weights = _values(model.weights)
    result = model.test_on_batch(x, y, return_dict=True)
    assert set(result) == EVAL_KEYS
    for before, after in zip(weights, _values(model.weights)):
        np.testing.assert_array_equal(before, after)


# ----------------------------------------------------------------------
# input validation


def test_fit_rejects_target_of_other_size():
    model = _compiled()
    x, y = tiny_arrays(4)
    ds = tf.data.Dataset.from_tensor_slices((x, y[:, :16, :16])).batch(2)
    with pytest.raises(ValueError) as info:
        model.fit(ds, epochs=1, verbose=0)
    message = str(info.value)
    assert "(None, 32, 32, 3)" in message
    assert "(None, 16, 16, 3)" in message
    assert _iterations(model.g_optimizer) == 0


def test_fit_rejects_wrong_channel_count():
    model = _compiled()
    x, y = tiny_arrays(4)
    with pytest.raises(ValueError) as info:
        model.fit(x, y[..., :1], batch_size=2, epochs=1, verbose=0)
    message = str(info.value)
    assert "32, 32, 1)" in message
    assert "3 to 3 channels" in message
    with pytest.raises(ValueError, match="channels"):
        model.fit(x[..., :2], y, batch_size=2, epochs=1, verbose=0)


def test_fit_rejects_sample_weights():
    model = _compiled()
    x, y = tiny_arrays(4)
    w = np.ones(4, "float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(2)
    with pytest.raises(ValueError, match=r"3 element\(s\).*sample weights"):
        model.fit(ds, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="sample weights"):
        model.fit(x, y, sample_weight=w, batch_size=2, epochs=1, verbose=0)
    assert _iterations(model.g_optimizer) == 0


# ----------------------------------------------------------------------
# construction


def test_from_preset_unet_256():
    model = pk.Pix2Pix.from_preset("unet_256")
    assert model.generator.output_shape == (None, 256, 256, 3)
    assert model.generator.input_shape == (None, 256, 256, 3)
    # The 70×70 PatchGAN at 256×256 gives 30×30 logits.
    assert model.discriminator.output_shape == (None, 30, 30, 1)
    assert model.generator.depth == 8
    assert model.g_optimizer is None  # not compiled


def test_from_preset_unknown_name():
    with pytest.raises(ValueError) as info:
        pk.Pix2Pix.from_preset("unet_512")
    message = str(info.value)
    assert "'unet_512'" in message
    assert "unet_256" in message and "unet_128" in message


def test_generator_and_discriminator_channels_must_match():
    generator = pk.UNetGenerator(
        image_size=32, out_channels=1, filters=8, max_filters=32
    )
    discriminator = pk.PatchDiscriminator(
        image_size=32, out_channels=3, filters=8, max_filters=32, n_layers=2
    )
    with pytest.raises(ValueError) as info:
        pk.Pix2Pix(generator=generator, discriminator=discriminator, image_size=32)
    message = str(info.value)
    assert "(None, 32, 32, 1)" in message  # generator output
    assert "[(None, 32, 32, 3), (None, 32, 32, 3)]" in message  # D inputs


def test_gradient_clipping_through_the_optimizers(tmp_path):
    """global_clipnorm on either optimizer bounds that network's update."""
    model = tiny_pix2pix()
    model.compile(
        g_optimizer=keras.optimizers.SGD(1.0, global_clipnorm=1e-3),
        d_optimizer=keras.optimizers.SGD(1.0, global_clipnorm=2e-3),
    )
    g_before = _values(model.generator.trainable_variables)
    d_before = _values(model.discriminator.trainable_variables)
    model.fit(tiny_dataset(n=2, batch_size=2), epochs=1, verbose=0)

    def step_norm(before, variables):
        after = _values(variables)
        return math.sqrt(
            sum(float(np.sum((a - b) ** 2)) for a, b in zip(after, before))
        )

    # SGD with lr 1 moves the weights by exactly the clipped gradient.
    assert step_norm(g_before, model.generator.trainable_variables) == pytest.approx(
        1e-3, rel=1e-3
    )
    assert step_norm(
        d_before, model.discriminator.trainable_variables
    ) == pytest.approx(2e-3, rel=1e-3)
    model.save(tmp_path / "clipped.keras")
    loaded = keras.saving.load_model(tmp_path / "clipped.keras")
    assert loaded.g_optimizer.global_clipnorm == pytest.approx(1e-3)
    assert loaded.d_optimizer.global_clipnorm == pytest.approx(2e-3)


def test_d_every_2_logs_d_loss_of_the_d_steps_only():
    """Skipped D steps compute no D loss; the D trackers count D steps."""
    model = _compiled(d_every=2)
    model.fit(tiny_dataset(n=8, batch_size=2), epochs=1, verbose=0)
    counts = {
        k: float(keras.ops.convert_to_numpy(t.count)) for k, t in model.trackers.items()
    }
    assert counts["g_loss"] == counts["g_l1"] == counts["d_fake"] == 4
    assert counts["d_loss"] == counts["d_real"] == 2

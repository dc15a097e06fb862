"""Losses of pix2pix (SPEC §4) against hand and numpy computations."""

import math

import keras
import numpy as np
import pytest

from pix2pix_keras import losses

D_REAL = np.array([[2.0, 0.5]], dtype="float32")
D_FAKE = np.array([[-1.0, 0.0]], dtype="float32")


def _np(x):
    return np.asarray(x, dtype="float64")


def _softplus(z):
    # -log(sigmoid(-z)) = log(1 + e^z), computed stably in float64.
    z = _np(z)
    return np.logaddexp(0.0, z)


def _assert_scalar_f32(value):
    assert tuple(value.shape) == ()
    assert keras.backend.standardize_dtype(value.dtype) == "float32"


# LSGAN ------------------------------------------------------------------


def test_lsgan_generator_loss_hand_values():
    # mean(([-1, 0] - 1)^2) = (4 + 1) / 2 = 2.5
    value = losses.lsgan_generator_loss(D_FAKE)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(2.5, abs=1e-7)
    assert float(losses.lsgan_generator_loss(D_REAL)) == pytest.approx(
        ((2.0 - 1.0) ** 2 + (0.5 - 1.0) ** 2) / 2, abs=1e-7
    )


def test_lsgan_discriminator_loss_hand_values():
    # real: ((2-1)^2 + (0.5-1)^2) / 2 = 0.625; fake: (1 + 0) / 2 = 0.5;
    # halved sum: 0.5 * 1.125 = 0.5625.
    value = losses.lsgan_discriminator_loss(D_REAL, D_FAKE)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(0.5625, abs=1e-7)
    expected = 0.5 * (np.mean((_np(D_REAL) - 1) ** 2) + np.mean(_np(D_FAKE) ** 2))
    assert float(value) == pytest.approx(expected, abs=1e-7)


def test_lsgan_losses_match_numpy_on_patch_grids():
    rng = np.random.default_rng(1)
    d_real = rng.normal(size=(2, 30, 30, 1)).astype("float32")
    d_fake = rng.normal(size=(2, 30, 30, 1)).astype("float32")
    g = losses.lsgan_generator_loss(d_fake)
    d = losses.lsgan_discriminator_loss(d_real, d_fake)
    np.testing.assert_allclose(float(g), np.mean((_np(d_fake) - 1) ** 2), rtol=1e-5)
    np.testing.assert_allclose(
        float(d),
        0.5 * (np.mean((_np(d_real) - 1) ** 2) + np.mean(_np(d_fake) ** 2)),
        rtol=1e-5,
    )


def test_lsgan_optimum_is_zero():
    ones, zeros = np.ones((1, 4, 4, 1)), np.zeros((1, 4, 4, 1))
    assert float(losses.lsgan_generator_loss(ones)) == 0.0
    assert float(losses.lsgan_discriminator_loss(ones, zeros)) == 0.0
    # The worst case for D (real scored 0, fake scored 1) costs 0.5*(1+1).
    assert float(losses.lsgan_discriminator_loss(zeros, ones)) == 1.0


# Vanilla (BCE on logits) ------------------------------------------------


def test_vanilla_generator_loss_hand_values():
    # -log(sigmoid(z)) = softplus(-z): [softplus(1), softplus(0)].
    expected = (math.log1p(math.e) + math.log(2.0)) / 2
    value = losses.vanilla_generator_loss(D_FAKE)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(expected, abs=1e-6)
    assert float(value) == pytest.approx(np.mean(_softplus(-D_FAKE)), abs=1e-6)


def test_vanilla_discriminator_loss_hand_values():
    # 0.5 * [mean(-log σ(d_real)) + mean(-log(1 - σ(d_fake)))]
    #   = 0.5 * [mean(softplus(-d_real)) + mean(softplus(d_fake))].
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-_np(z)))  # noqa: E731
    expected = 0.5 * (
        np.mean(-np.log(sigmoid(D_REAL))) + np.mean(-np.log(1.0 - sigmoid(D_FAKE)))
    )
    value = losses.vanilla_discriminator_loss(D_REAL, D_FAKE)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(expected, abs=1e-6)


def test_vanilla_losses_at_zero_logits_equal_log2():
    z = np.zeros((2, 30, 30, 1), dtype="float32")
    d_loss = float(losses.vanilla_discriminator_loss(z, z))
    g_loss = float(losses.vanilla_generator_loss(z))
    assert abs(d_loss - math.log(2)) < 1e-6
    assert abs(g_loss - math.log(2)) < 1e-6


def test_vanilla_losses_match_numpy_on_random_logits():
    rng = np.random.default_rng(2)
    d_real = rng.normal(scale=3.0, size=(2, 14, 14, 1)).astype("float32")
    d_fake = rng.normal(scale=3.0, size=(2, 14, 14, 1)).astype("float32")
    np.testing.assert_allclose(
        float(losses.vanilla_generator_loss(d_fake)),
        np.mean(_softplus(-d_fake)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        float(losses.vanilla_discriminator_loss(d_real, d_fake)),
        0.5 * (np.mean(_softplus(-d_real)) + np.mean(_softplus(d_fake))),
        rtol=1e-5,
    )


@pytest.mark.parametrize("big", [100.0, 1000.0])
def test_vanilla_losses_are_stable_at_extreme_logits(big):
    pos = np.full((1, 2), big, dtype="float32")
    neg = -pos
    # Analytical limits: -log σ(L) -> 0 and -log σ(-L) -> L as L -> inf
    # (the correction log1p(e^-L) is below 1e-40 here).
    cases = [
        (losses.vanilla_generator_loss(pos), 0.0),
        (losses.vanilla_generator_loss(neg), big),
        # D perfectly right: real scored +L, fake scored -L.
        (losses.vanilla_discriminator_loss(pos, neg), 0.0),
        # D perfectly wrong: 0.5 * (L + L).
        (losses.vanilla_discriminator_loss(neg, pos), big),
    ]
    for value, expected in cases:
        value = float(value)
        assert math.isfinite(value)
        assert value == pytest.approx(expected, abs=1e-6)


# L1 ---------------------------------------------------------------------


def test_l1_loss_hand_and_numpy_values():
    target = np.array([[[[1.0], [-1.0]], [[0.5], [0.0]]]], dtype="float32")
    generated = np.array([[[[0.0], [1.0]], [[0.5], [-0.25]]]], dtype="float32")
    # |1-0| + |-1-1| + |0.5-0.5| + |0-(-0.25)| = 1 + 2 + 0 + 0.25; / 4.
    value = losses.l1_loss(target, generated)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(3.25 / 4, abs=1e-7)

    rng = np.random.default_rng(3)
    y = rng.uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    g = rng.uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        float(losses.l1_loss(y, g)), np.mean(np.abs(_np(y) - _np(g))), rtol=1e-5
    )
    assert float(losses.l1_loss(y, y)) == 0.0


def test_losses_cast_half_precision_inputs_to_float32():
    d = np.array([[3.0, -2.0]], dtype="float16")
    value = losses.lsgan_generator_loss(d)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx((4.0 + 9.0) / 2, abs=1e-6)
    value = losses.l1_loss(d, np.zeros_like(d))
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(2.5, abs=1e-6)


# Registry and reported outputs -----------------------------------------


def test_get_gan_loss_returns_the_matching_pair():
    assert losses.get_gan_loss("lsgan") == (
        losses.lsgan_generator_loss,
        losses.lsgan_discriminator_loss,
    )
    assert losses.get_gan_loss("vanilla") == (
        losses.vanilla_generator_loss,
        losses.vanilla_discriminator_loss,
    )
    g, d = losses.get_gan_loss("lsgan")
    assert float(d(D_REAL, D_FAKE)) == pytest.approx(0.5625, abs=1e-7)


@pytest.mark.parametrize("name", ["wgan", "foo", "LSGAN", None])
def test_get_gan_loss_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="gan_loss") as info:
        losses.get_gan_loss(name)
    assert repr(name) in str(info.value)


def test_discriminator_output_lsgan_is_raw_mean():
    value = losses.discriminator_output("lsgan", D_REAL)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(1.25, abs=1e-7)
    assert float(losses.discriminator_output("lsgan", D_FAKE)) == -0.5


def test_discriminator_output_vanilla_is_mean_sigmoid():
    logits = np.array([[0.0, 2.0, -3.0, 100.0]], dtype="float32")
    expected = np.mean(1.0 / (1.0 + np.exp(-_np(logits))))
    value = losses.discriminator_output("vanilla", logits)
    _assert_scalar_f32(value)
    assert float(value) == pytest.approx(expected, abs=1e-6)
    # sigmoid(0) = 0.5 exactly.
    zeros = np.zeros((1, 3), dtype="float32")
    assert float(losses.discriminator_output("vanilla", zeros)) == 0.5


def test_hinge_losses_by_hand():
    # d_real = [2, 0.5]: relu(1 - 2) = 0, relu(1 - 0.5) = 0.5 -> mean 0.25
    # d_fake = [-1, 0]:  relu(1 - 1) = 0, relu(1 + 0) = 1   -> mean 0.5
    d_real = np.array([[2.0, 0.5]], "float32")
    d_fake = np.array([[-1.0, 0.0]], "float32")
    assert float(losses.hinge_discriminator_loss(d_real, d_fake)) == pytest.approx(
        0.375
    )
    assert float(losses.hinge_generator_loss(d_fake)) == pytest.approx(0.5)
    assert losses.get_gan_loss("hinge") == (
        losses.hinge_generator_loss,
        losses.hinge_discriminator_loss,
    )
    # Past the margins D's loss is exactly zero.
    assert float(losses.hinge_discriminator_loss(d_real + 5, d_fake - 5)) == 0.0

"""Discriminator variants (SPEC §3): PixelGAN, spectral normalization,
multi-scale (pix2pixHD), intermediate features and feature matching."""

import json
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from keras import ops

import pix2pix_keras as pk
from pix2pix_keras.models.discriminator import MultiScaleDiscriminator
from pix2pix_keras.models.discriminator import PatchDiscriminator
from pix2pix_keras.models.discriminator import PixelDiscriminator
from pix2pix_keras.models.discriminator import feature_matching_loss
from tests._model_helpers import NORM_PARAMS
from tests._model_helpers import patchgan_param_count
from tests._model_helpers import random_pair as _pair


def _np(x):
    return ops.convert_to_numpy(x)


def _dumps(config):
    return json.dumps(config, sort_keys=True)


def pixelgan_param_count(
    in_channels=3, out_channels=3, filters=64, norm="batch", spectral_norm=False
):
    """PixelGAN parameters: three 1×1 convs.

    conv0 `(c_in·f + f)`, conv1 `f·2f` (+ `2f` bias unless batch norm),
    norm `4·2f` for batch norm (gamma, beta, moving mean and variance),
    logits `2f·1` (+ 1 bias unless batch norm); spectral normalization
    adds `f + 2f + 1` (`vector_u`).
    """
    f = filters
    bias = norm != "batch"
    total = (in_channels + out_channels) * f + f
    total += f * 2 * f + (2 * f if bias else 0)
    total += NORM_PARAMS[norm] * 2 * f
    total += 2 * f + (1 if bias else 0)
    if spectral_norm:
        total += f + 2 * f + 1
    return total


def _sn_wrappers(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, layers.SpectralNormalization)
    ]


def _convs(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, layers.Conv2D)
    ]


def _largest_singular_value(wrapper):
    kernel = _np(wrapper.layer.kernel)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def _n_weights_values(variables):
    return int(sum(np.prod(v.shape) for v in variables))


def _flat(outputs):
    return [_np(t) for t in tf.nest.flatten(outputs)]


# PixelGAN ------------------------------------------------------------------


def test_pixel_output_shape_and_layers():
    d = PixelDiscriminator(
        image_size=(32, 48), in_channels=1, out_channels=3, filters=8
    )
    assert [tuple(s) for s in d.input_shape] == [
        (None, 32, 48, 1),
        (None, 32, 48, 3),
    ]
    assert tuple(d.output_shape) == (None, 32, 48, 1)
    logits = _np(d(_pair((32, 48), batch=2, channels=(1, 3))))
    assert logits.shape == (2, 32, 48, 1)
    assert logits.dtype == np.float32
    conv0, conv1 = (
        d.get_layer("discriminator_conv0"),
        d.get_layer("discriminator_conv1"),
    )
    out = d.get_layer("discriminator_logits")
    assert [c.kernel_size for c in (conv0, conv1, out)] == [(1, 1)] * 3
    assert [c.filters for c in (conv0, conv1, out)] == [8, 16, 1]
    # Batch norm: only the first conv has a bias, as in the reference.
    assert [c.use_bias for c in (conv0, conv1, out)] == [True, False, False]
    assert out.activation is keras.activations.linear
    assert isinstance(d.get_layer("discriminator_norm1"), layers.BatchNormalization)
    assert d.get_layer("discriminator_pair").output.shape[-1] == 4
    assert d.receptive_field == 1


def test_pixel_default_parameter_count_by_hand():
    # 6·64 + 64 = 448; 64·128 = 8192; BN 4·128 = 512; 128·1 = 128.
    d = PixelDiscriminator()
    assert d.count_params() == 448 + 8192 + 512 + 128 == 9280
    assert d.count_params() == pixelgan_param_count()
    assert _n_weights_values(d.trainable_weights) == 9280 - 2 * 128


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_pixel_parameter_count_formula(norm, spectral_norm):
    d = PixelDiscriminator(
        image_size=32,
        in_channels=1,
        out_channels=2,
        filters=8,
        norm=norm,
        spectral_norm=spectral_norm,
    )
    expected = pixelgan_param_count(1, 2, 8, norm, spectral_norm)
    assert d.count_params() == expected
    # Trainable: no BN moving statistics, no spectral-norm vectors.
    trainable = pixelgan_param_count(1, 2, 8, norm) - (2 * 16 if norm == "batch" else 0)
    assert _n_weights_values(d.trainable_weights) == trainable


def test_pixel_receptive_field_is_one_pixel():
    d = PixelDiscriminator(image_size=32, filters=8)
    src, img = _pair(32)
    base = _np(d([src, img], training=False))[0, ..., 0]
    for which, (row, col) in ((0, (5, 7)), (1, (20, 3)), (1, (31, 31))):
        pair = [src.copy(), img.copy()]
        pair[which][0, row, col, :] += 0.5
        diff = _np(d(pair, training=False))[0, ..., 0] - base
        changed = np.argwhere(diff != 0)
        assert changed.tolist() == [[row, col]]


# Spectral normalization ----------------------------------------------------


def _patch_and_pixel(size, n_layers, patch_sn, pixel_sn, ids):
    """`make` parameters: a PatchGAN and a PixelGAN, `size` and 8 filters."""
    return [
        pytest.param(
            lambda: PatchDiscriminator(
                image_size=size, n_layers=n_layers, filters=8, spectral_norm=patch_sn
            ),
            id=ids[0],
        ),
        pytest.param(
            lambda: PixelDiscriminator(
                image_size=size, filters=8, spectral_norm=pixel_sn
            ),
            id=ids[1],
        ),
    ]


@pytest.mark.parametrize(
    "make",
    [
        lambda sn: PatchDiscriminator(
            image_size=32, n_layers=2, filters=8, norm="none", spectral_norm=sn
        ),
        lambda sn: PixelDiscriminator(image_size=32, filters=8, spectral_norm=sn),
    ],
    ids=["patch", "pixel"],
)
def test_spectral_norm_wraps_every_conv(make):
    plain, wrapped = make(False), make(True)
    assert _sn_wrappers(plain) == []
    wrappers = _sn_wrappers(wrapped)
    convs = _convs(wrapped)
    # Every conv sits inside a wrapper that carries the conv's name.
    assert len(wrappers) == len(convs) == len(_convs(plain))
    assert [w.layer for w in wrappers] == convs
    assert [w.name for w in wrappers] == [c.name for c in _convs(plain)]
    assert all(w.power_iterations == 1 for w in wrappers)
    # vector_u adds one non-trainable value per output filter.
    extra = sum(c.filters for c in convs)
    assert wrapped.count_params() == plain.count_params() + extra
    assert _n_weights_values(wrapped.trainable_weights) == (
        _n_weights_values(plain.trainable_weights)
    )
    x = _pair(32, batch=2)
    assert _np(wrapped(x)).shape == _np(plain(x)).shape


@pytest.mark.parametrize("norm", ["batch", "none"])
@pytest.mark.parametrize("n_layers", [1, 2])
def test_patch_spectral_norm_parameter_count(norm, n_layers):
    kw = dict(n_layers=n_layers, filters=8, max_filters=16, norm=norm)
    d = PatchDiscriminator(image_size=32, spectral_norm=True, **kw)
    assert d.count_params() == patchgan_param_count(spectral_norm=True, **kw)


@pytest.mark.parametrize(
    "make", _patch_and_pixel(32, 2, True, True, ["patch", "pixel"])
)
def test_spectral_norm_largest_singular_value_is_one(make):
    d = make()
    wrappers = _sn_wrappers(d)
    # N(0, 0.02) kernels start far below 1.
    assert all(_largest_singular_value(w) < 0.5 for w in wrappers)
    x = _pair(32, batch=2)
    # Inference leaves the kernels alone.
    before = [_np(w.layer.kernel).copy() for w in wrappers]
    d(x, training=False)
    for k, w in zip(before, wrappers):
        np.testing.assert_array_equal(k, _np(w.layer.kernel))
    # Each training call runs one power iteration and overwrites the
    # kernel with kernel / sigma: the kernel as applied has sigma ≈ 1.
    for _ in range(25):
        d(x, training=True)
    sigmas = np.array([_largest_singular_value(w) for w in wrappers])
    np.testing.assert_allclose(sigmas, 1.0, atol=0.05)
    # v·W·uᵀ never exceeds the largest singular value, so the estimate
    # errs low and the normalized kernel's sigma approaches 1 from above.
    assert np.all(sigmas >= 1.0 - 1e-5)


def test_spectral_norm_gradients_reach_every_variable():
    d = PatchDiscriminator(image_size=32, n_layers=2, filters=8, spectral_norm=True)
    x = _pair(32, batch=2)
    with tf.GradientTape() as tape:
        loss = ops.mean(ops.square(d(x, training=True) - 1.0))
    grads = tape.gradient(loss, d.trainable_variables)
    # conv0 w+b, conv1 w, norm1 γ β, conv2 w, norm2 γ β, logits w+b.
    assert len(grads) == len(d.trainable_variables) == 10
    for v, g in zip(d.trainable_variables, grads):
        assert g is not None, v.path
        assert np.abs(_np(g)).sum() > 0, v.path
    # The vectors u are state, not parameters.
    assert all(not v.trainable for v in d.weights if "vector_u" in v.path)
    assert sum("vector_u" in v.path for v in d.weights) == 4


def _pix2pix(discriminator, size):
    return pk.Pix2Pix(
        generator=pk.UNetGenerator(image_size=size, filters=8, max_filters=32),
        discriminator=discriminator,
        image_size=size,
    )


@pytest.mark.parametrize(
    "make", _patch_and_pixel(16, 1, True, False, ["patch_sn", "pixel"])
)
def test_variant_trains_through_fit(make):
    # 16×16 keeps the traced train step small; XLA compilation alone would
    # take longer than the test.
    d = make()
    model = _pix2pix(d, 16)
    model.compile(jit_compile=False)
    before = [_np(v).copy() for v in d.weights]
    x = _pair(16, batch=4)[0]
    y = np.tanh(2 * x)
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert {"d_loss", "d_real", "d_fake", "g_loss", "g_gan"} <= set(logs)
    assert all(np.isfinite(v) for v in logs.values())
    # Every D variable moved: the trainable ones by the optimizer, the BN
    # statistics and the spectral-norm vectors u by the forward passes.
    for b, v in zip(before, d.weights):
        assert not np.array_equal(b, _np(v)), v.path


# Multi-scale discriminator -------------------------------------------------


def test_multiscale_output_shapes_64():
    # Sides 64, 32, 16; n_layers=2 PatchGAN gives side / 4 − 2 logits.
    d = MultiScaleDiscriminator(image_size=64, n_layers=2, filters=8)
    assert d.num_scales == 3
    assert d.scale_sizes == [(64, 64), (32, 32), (16, 16)]
    assert [tuple(s) for s in d.output_shape] == [
        (None, 14, 14, 1),
        (None, 6, 6, 1),
        (None, 2, 2, 1),
    ]
    out = d(_pair(64, batch=2))
    assert isinstance(out, list)
    assert [tuple(y.shape) for y in out] == [
        (2, 14, 14, 1),
        (2, 6, 6, 1),
        (2, 2, 2, 1),
    ]
    assert all(_np(y).dtype == np.float32 for y in out)
    assert [s.name for s in d.scales] == [
        "discriminator_scale0",
        "discriminator_scale1",
        "discriminator_scale2",
    ]
    assert [s.image_size for s in d.scales] == d.scale_sizes


def test_multiscale_non_square_odd_sizes():
    # ceil(s / 2): 33×50 → 17×25; n_layers=1 gives ceil(s / 2) − 2.
    d = MultiScaleDiscriminator(
        image_size=(33, 50),
        in_channels=1,
        out_channels=2,
        num_scales=2,
        n_layers=1,
        filters=8,
    )
    assert d.scale_sizes == [(33, 50), (17, 25)]
    out = d(_pair((33, 50), channels=(1, 2)))
    assert [tuple(y.shape) for y in out] == [(1, 15, 23, 1), (1, 7, 11, 1)]


def test_multiscale_single_scale_still_returns_list():
    d = MultiScaleDiscriminator(image_size=32, num_scales=1, n_layers=2, filters=8)
    out = d(_pair(32))
    assert isinstance(out, list) and len(out) == 1
    assert tuple(out[0].shape) == (1, 6, 6, 1)


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("num_scales", [1, 2, 3])
def test_multiscale_parameter_count(num_scales, spectral_norm):
    kw = dict(n_layers=2, filters=8, max_filters=16, norm="instance")
    d = MultiScaleDiscriminator(
        image_size=64,
        num_scales=num_scales,
        spectral_norm=spectral_norm,
        **kw,
    )
    single = PatchDiscriminator(image_size=64, spectral_norm=spectral_norm, **kw)
    assert d.count_params() == num_scales * single.count_params()
    assert d.count_params() == num_scales * patchgan_param_count(
        spectral_norm=spectral_norm, **kw
    )
    assert len(_sn_wrappers(d)) == (4 * num_scales if spectral_norm else 0)


def test_multiscale_forwards_arguments_and_has_own_weights():
    d = MultiScaleDiscriminator(
        image_size=64,
        num_scales=2,
        n_layers=1,
        filters=4,
        max_filters=6,
        norm="none",
        spectral_norm=True,
        name="critic",
    )
    for k, scale in enumerate(d.scales):
        config = scale.get_config()
        assert config["name"] == f"critic_scale{k}"
        assert [
            config[key]
            for key in ("n_layers", "filters", "max_filters", "norm", "spectral_norm")
        ] == [1, 4, 6, "none", True]
    k0 = _np(d.scales[0].get_layer("critic_scale0_conv0").layer.kernel)
    k1 = _np(d.scales[1].get_layer("critic_scale1_conv0").layer.kernel)
    assert k0.shape == k1.shape == (4, 4, 6, 4)
    assert not np.array_equal(k0, k1)
    ids = [id(v) for v in d.weights]
    assert len(ids) == len(set(ids)) == 2 * len(d.scales[0].weights)


def _np_avg_pool_same(x):
    """3×3 stride-2 average pool, TF 'same' padding (bottom/right first),
    padded pixels excluded from the mean (count_include_pad=False)."""
    b, h, w, c = x.shape
    oh, ow = -(-h // 2), -(-w // 2)
    pad_h, pad_w = max((oh - 1) * 2 + 3 - h, 0), max((ow - 1) * 2 + 3 - w, 0)
    top, left = pad_h // 2, pad_w // 2
    out = np.zeros((b, oh, ow, c), np.float64)
    for i in range(oh):
        r0, r1 = max(2 * i - top, 0), min(2 * i - top + 3, h)
        for j in range(ow):
            c0, c1 = max(2 * j - left, 0), min(2 * j - left + 3, w)
            out[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return out.astype("float32")


def test_multiscale_scales_see_pooled_pairs():
    d = MultiScaleDiscriminator(
        image_size=(20, 18), num_scales=3, n_layers=1, filters=4
    )
    src, img = _pair((20, 18), batch=2)
    out = d([src, img])
    s, x = src, img
    for k, scale in enumerate(d.scales):
        if k:
            s, x = _np_avg_pool_same(s), _np_avg_pool_same(x)
        expected_size = [(20, 18), (10, 9), (5, 5)][k]
        assert s.shape[1:3] == d.scale_sizes[k] == expected_size
        np.testing.assert_allclose(
            _np(out[k]), _np(scale([s, x])), rtol=1e-5, atol=1e-6
        )
    # Padding is excluded from the mean: a constant pair stays constant.
    ones = np.ones((1, 20, 18, 3), "float32")
    pool = d.get_layer("discriminator_down1_source")
    np.testing.assert_array_equal(_np(pool(ones)), np.ones((1, 10, 9, 3)))


def test_multiscale_receptive_field_of_coarse_scale():
    # n_layers=1: 16 pixels at scale 1's resolution; one 3×3 stride-2
    # pooling widens it to 2·(16 − 1) + 3 = 33 full-resolution pixels.
    d = MultiScaleDiscriminator(image_size=64, num_scales=3, n_layers=1, filters=8)
    assert d.receptive_fields == [16, 33, 67]
    src, img = (tf.convert_to_tensor(a) for a in _pair(64))
    with tf.GradientTape() as tape:
        tape.watch([src, img])
        logit = d([src, img], training=False)[1][0, 7, 7, 0]
    g_src, g_img = (np.abs(_np(g))[0].sum(-1) for g in tape.gradient(logit, [src, img]))
    support = (g_src + g_img) != 0
    assert g_src.sum() > 0 and g_img.sum() > 0
    assert support.sum() == 33 * 33
    rows = np.flatnonzero(support.any(axis=1))
    cols = np.flatnonzero(support.any(axis=0))
    # Logit 7 sees pooled rows 9..24 (PatchGAN window 2·7 − 5 .. 2·7 + 10);
    # pooled row p averages full rows 2p .. 2p + 2.
    assert (rows[0], rows[-1]) == (cols[0], cols[-1]) == (18, 50)
    assert support[18:51, 18:51].all()


def test_multiscale_gradients_reach_every_scale():
    d = MultiScaleDiscriminator(image_size=32, num_scales=2, n_layers=1, filters=8)
    x = _pair(32, batch=2)
    with tf.GradientTape() as tape:
        out = d(x, training=True)
        loss = ops.mean(ops.square(out[0])) + ops.mean(ops.square(out[1]))
    grads = tape.gradient(loss, d.trainable_variables)
    # Per scale: conv0 w+b, conv1 w, norm1 γ β, logits w+b.
    assert len(grads) == 2 * 7
    assert all(np.abs(_np(g)).sum() > 0 for g in grads)


@pytest.mark.parametrize(
    "size, num_scales, n_layers", [(32, 3, 2), ((64, 16), 2, 2), (64, 4, 3)]
)
def test_multiscale_too_small_for_coarsest_scale(size, num_scales, n_layers):
    with pytest.raises(ValueError, match="image_size") as info:
        MultiScaleDiscriminator(
            image_size=size, num_scales=num_scales, n_layers=n_layers, filters=4
        )
    assert f"num_scales={num_scales}" in str(info.value)


def test_multiscale_smallest_valid_size():
    # Sides 36, 18, 9: the coarsest must be > 2^(n_layers + 1) = 8.
    d = MultiScaleDiscriminator(image_size=36, num_scales=3, n_layers=2, filters=4)
    assert [tuple(y.shape) for y in d(_pair(36))] == [
        (1, 7, 7, 1),
        (1, 3, 3, 1),
        (1, 1, 1, 1),
    ]


# Argument validation and config round trips --------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, arg",
    [
        (PixelDiscriminator, dict(norm="group"), "norm"),
        (PixelDiscriminator, dict(filters=0), "filters"),
        (PixelDiscriminator, dict(in_channels=0), "in_channels"),
        (PixelDiscriminator, dict(image_size=0), "image_size"),
        (PixelDiscriminator, dict(spectral_norm="yes"), "spectral_norm"),
        (PatchDiscriminator, dict(spectral_norm=1), "spectral_norm"),
        (MultiScaleDiscriminator, dict(num_scales=0), "num_scales"),
        (MultiScaleDiscriminator, dict(num_scales=2.0), "num_scales"),
        (MultiScaleDiscriminator, dict(n_layers=0), "n_layers"),
        (MultiScaleDiscriminator, dict(norm="layer"), "norm"),
        (MultiScaleDiscriminator, dict(max_filters=0), "max_filters"),
        (MultiScaleDiscriminator, dict(spectral_norm=None), "spectral_norm"),
    ],
)
def test_bad_arguments_rejected(cls, kwargs, arg):
    kwargs = {"image_size": 64, **kwargs}
    if cls is MultiScaleDiscriminator:
        kwargs.setdefault("n_layers", 1)
    with pytest.raises(ValueError, match=arg):
        cls(**kwargs)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (
            PixelDiscriminator,
            dict(
                image_size=(32, 16),
                in_channels=1,
                out_channels=2,
                filters=4,
                norm="instance",
                spectral_norm=True,
            ),
        ),
        (
            PatchDiscriminator,
            dict(
                image_size=32,
                n_layers=2,
                filters=4,
                max_filters=8,
                norm="none",
                spectral_norm=True,
            ),
        ),
        (
            MultiScaleDiscriminator,
            dict(
                image_size=(32, 48),
                in_channels=1,
                out_channels=2,
                num_scales=2,
                n_layers=1,
                filters=4,
                max_filters=8,
                norm="instance",
                spectral_norm=True,
            ),
        ),
    ],
    ids=["pixel", "patch_sn", "multiscale"],
)
def test_config_round_trip_and_weight_transfer(cls, kwargs):
    d = cls(name="critic", **kwargs)
    config = d.get_config()
    assert {k: config[k] for k in kwargs if k != "image_size"} == {
        k: v for k, v in kwargs.items() if k != "image_size"
    }
    d2 = cls.from_config(json.loads(_dumps(config)))
    assert type(d2) is cls
    assert _dumps(d2.get_config()) == _dumps(config)
    assert d2.count_params() == d.count_params()
    d2.set_weights(d.get_weights())
    h, w = d.image_size
    pair = _pair((h, w), batch=2, channels=(d.in_channels, d.out_channels))
    for a, b in zip(_flat(d(pair)), _flat(d2(pair))):
        np.testing.assert_array_equal(a, b)


def test_configs_without_spectral_norm_key_still_load():
    # Configs saved before `spectral_norm` existed.
    config = PatchDiscriminator(image_size=32, filters=8).get_config()
    del config["spectral_norm"]
    d = PatchDiscriminator.from_config(config)
    assert d.spectral_norm is False and _sn_wrappers(d) == []


# Intermediate features -------------------------------------------------------

FEATURE_CASES = {
    "patch": (
        lambda: PatchDiscriminator(image_size=32, n_layers=2, filters=8),
        32,
        [[(2, 16, 16, 8), (2, 8, 8, 16), (2, 7, 7, 32), (2, 6, 6, 1)]],
    ),
    "pixel": (
        lambda: PixelDiscriminator(image_size=32, filters=8),
        32,
        [[(2, 32, 32, 8), (2, 32, 32, 16), (2, 32, 32, 1)]],
    ),
    "multiscale": (
        lambda: MultiScaleDiscriminator(image_size=64, n_layers=2, filters=8),
        64,
        [
            [(2, 32, 32, 8), (2, 16, 16, 16), (2, 15, 15, 32), (2, 14, 14, 1)],
            [(2, 16, 16, 8), (2, 8, 8, 16), (2, 7, 7, 32), (2, 6, 6, 1)],
            [(2, 8, 8, 8), (2, 4, 4, 16), (2, 3, 3, 32), (2, 2, 2, 1)],
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(FEATURE_CASES))
def test_features_shapes_and_logits_equal_call(case):
    make, size, shapes = FEATURE_CASES[case]
    d = make()
    n_weights, n_params = len(d.weights), d.count_params()
    n_layers = len(d.layers)
    x = _pair(size, batch=2, seed=3)
    feats = d.features(x)
    assert [[tuple(t.shape) for t in scale] for scale in feats] == shapes
    logits = d(x, training=False)
    logits = logits if isinstance(logits, list) else [logits]
    assert len(logits) == len(feats)
    for scale, expected in zip(feats, logits):
        np.testing.assert_array_equal(_np(scale[-1]), _np(expected))
    # The first feature is LeakyReLU(0.2) of the first (unnormalized) conv
    # of the finest scale.
    finest = d.scales[0] if case == "multiscale" else d
    conv0 = finest.get_layer(f"{finest.name}_conv0")
    pre = conv0(ops.concatenate(x, axis=-1))
    np.testing.assert_allclose(
        _np(feats[0][0]), _np(ops.leaky_relu(pre, 0.2)), rtol=1e-6, atol=1e-7
    )
    assert _np(feats[0][0]).min() < 0 < _np(feats[0][0]).max()
    # The feature model shares the layers: nothing new is tracked.
    assert len(d.weights) == n_weights
    assert d.count_params() == n_params
    assert len(d.layers) == n_layers
    # Built once, reused.
    assert len(d.features(x)) == len(shapes)
    assert len(d.weights) == n_weights


def test_features_under_tf_function_match_eager():
    d = PatchDiscriminator(image_size=32, n_layers=2, filters=8)
    x = _pair(32, batch=2)
    traced = tf.function(lambda s, i: d.features([s, i]))(*x)
    for a, b in zip(_flat(d.features(x)), _flat(traced)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _saved_weight_paths(path):
    with zipfile.ZipFile(path) as archive:
        with archive.open("model.weights.h5") as f:
            with h5py.File(f, "r") as h5:
                names = []
                h5.visititems(
                    lambda name, obj: (
                        names.append(name) if isinstance(obj, h5py.Dataset) else None
                    )
                )
    return names


@pytest.mark.parametrize("case", sorted(FEATURE_CASES))
def test_discriminator_saves_and_loads_after_features(case, tmp_path):
    make, size, _ = FEATURE_CASES[case]
    d = make()
    x = _pair(size, batch=2, seed=1)
    d.features(x)
    path = str(tmp_path / "d.keras")
    d.save(path)
    names = _saved_weight_paths(path)
    assert not any("feature" in n for n in names)
    d2 = keras.saving.load_model(path)
    assert type(d2) is type(d)
    assert len(d2.weights) == len(d.weights)
    for a, b in zip(_flat(d(x)), _flat(d2(x))):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_flat(d.features(x)), _flat(d2.features(x))):
        np.testing.assert_array_equal(a, b)


# Pix2Pix save / load ---------------------------------------------------------


@pytest.mark.parametrize(
    "make, size",
    [
        (
            lambda: PatchDiscriminator(
                image_size=32, n_layers=2, filters=8, spectral_norm=True
            ),
            32,
        ),
        (lambda: PixelDiscriminator(image_size=32, filters=8), 32),
        (
            lambda: MultiScaleDiscriminator(
                image_size=64, num_scales=3, n_layers=2, filters=8
            ),
            64,
        ),
    ],
    ids=["patch_sn", "pixel", "multiscale"],
)
def test_pix2pix_keras_round_trip_keeps_discriminator(make, size, tmp_path):
    d = make()
    model = _pix2pix(d, size)
    x = _pair(size, batch=2, seed=2)
    # Move BN statistics and the spectral-norm state off their initial
    # values, so the test would see them lost.
    for _ in range(3):
        d(x, training=True)
    expected = _flat(d(x, training=False))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    d2 = loaded.discriminator
    assert type(d2) is type(d)
    assert _dumps(d2.get_config()) == _dumps(d.get_config())
    assert d2.count_params() == d.count_params()
    for a, b in zip(expected, _flat(d2(x, training=False))):
        np.testing.assert_array_equal(a, b)
    # The spectral-norm vectors u are restored too: the next training call
    # normalizes the kernels identically.
    for a, b in zip(_flat(d(x, training=True)), _flat(d2(x, training=True))):
        np.testing.assert_array_equal(a, b)
    for v, v2 in zip(d.weights, d2.weights):
        np.testing.assert_array_equal(_np(v), _np(v2))


# Feature-matching loss -------------------------------------------------------


def _hand_made_features():
    """Two scales of two activations and logits, of different shapes.

    Scale 0: |real − fake| is 1 and 3 → mean 2. Scale 1: 0.5 and 1.5 →
    mean 1. Loss = (2 + 1) / 2 = 1.5; the logits differ by 100 and must
    not count.
    """
    z = np.zeros
    real = [
        [z((2, 4, 4, 3)), z((2, 2, 2, 5)), z((2, 3, 3, 1))],
        [z((2, 2, 2, 3)), z((2, 1, 1, 5)), z((2, 1, 1, 1))],
    ]
    rng = np.random.default_rng(0)
    signs = [[rng.choice([-1.0, 1.0], t.shape) for t in s] for s in real]
    diffs = [[1.0, 3.0, 100.0], [0.5, 1.5, 100.0]]
    fake = [
        [s * d for s, d in zip(scale_signs, scale_diffs)]
        for scale_signs, scale_diffs in zip(signs, diffs)
    ]

    def to_tf(feats):
        return [[tf.constant(t, "float32") for t in scale] for scale in feats]

    return to_tf(real), to_tf(fake)


def test_feature_matching_loss_closed_form():
    real, fake = _hand_made_features()
    loss = feature_matching_loss(real, fake)
    assert tuple(loss.shape) == ()
    assert _np(loss).dtype == np.float32
    assert float(loss) == pytest.approx(1.5, abs=1e-6)
    assert float(feature_matching_loss(real, real)) == 0.0
    # Symmetric in value; one scale alone gives its own mean.
    assert float(feature_matching_loss(fake, real)) == pytest.approx(1.5)
    one_scale = feature_matching_loss(real[1:], fake[1:])
    assert float(one_scale) == pytest.approx(1.0)
    # float16 features give a float32 loss.
    half = [[tf.cast(t, "float16") for t in s] for s in fake]
    assert _np(feature_matching_loss(real, half)).dtype == np.float32


def test_feature_matching_loss_gradients():
    real, fake = _hand_made_features()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([t for s in real + fake for t in s])
        loss = feature_matching_loss(real, fake)
    g_real = tape.gradient(
        loss, real, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    assert all(not np.any(_np(g)) for s in g_real for g in s)
    g_fake = tape.gradient(
        loss, fake, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    # d/d fake of mean_s mean_l mean |real − fake| = sign(fake − real) /
    # (n_elements · n_layers · n_scales); the logits get no gradient.
    for s_real, s_fake, s_grad in zip(real, fake, g_fake):
        for r, f, g in zip(s_real[:-1], s_fake[:-1], s_grad[:-1]):
            expected = np.sign(_np(f) - _np(r)) / (np.prod(r.shape) * 2 * 2)
            np.testing.assert_allclose(_np(g), expected, rtol=1e-6)
        assert not np.any(_np(s_grad[-1]))


def test_feature_matching_loss_trains_only_through_fake_image():
    d = MultiScaleDiscriminator(image_size=32, num_scales=2, n_layers=1, filters=8)
    src, real, fake = (
        tf.constant(a) for a in _pair(32, batch=2) + [_pair(32, batch=2, seed=5)[1]]
    )
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([real, fake])
        loss = feature_matching_loss(d.features([src, real]), d.features([src, fake]))
        same = feature_matching_loss(d.features([src, real]), d.features([src, real]))
    assert float(loss) > 0 and float(same) == 0.0
    g_fake = tape.gradient(loss, fake)
    g_real = tape.gradient(
        loss, real, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    assert np.abs(_np(g_fake)).sum() > 0
    assert not np.any(_np(g_real))


@pytest.mark.parametrize(
    "real, fake, arg",
    [
        ("features", [[1, 2]], "real_features"),
        ([], [[1, 2]], "real_features"),
        ([[1, 2]], [[1]], "fake_features"),
        ([[1, 2]], [[1, 2], [1, 2]], "same scales"),
        ([[1, 2, 3]], [[1, 2]], "same scales"),
    ],
)
def test_feature_matching_loss_rejects_bad_structures(real, fake, arg):
    with pytest.raises(ValueError, match=arg):
        feature_matching_loss(real, fake)

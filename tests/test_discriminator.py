"""Conditional PatchGAN (SPEC §3): patch grid, parameters, receptive field."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import pix2pix_keras as pk
from pix2pix_keras.models.discriminator import receptive_field
from tests._helpers import config_round_trip
from tests._model_helpers import ODD_SHAPE
from tests._model_helpers import patchgan_param_count
from tests._model_helpers import random_pair as _pair


def logit_window(j, n_layers):
    """Input rows (first, last) seen by output row `j`, walked by hand.

    The logits conv and the stride-1 conv are 4-wide and 'valid' on an
    input zero-padded by 1: output k sees rows k-1 .. k+2 of their input.
    Each stride-2 4×4 'same' conv on an even size pads 1 on each side:
    output k sees rows 2k-1 .. 2k+2 of its input.
    """
    lo, hi = j, j
    for _ in range(2):
        lo, hi = lo - 1, hi + 2
    for _ in range(n_layers):
        lo, hi = 2 * lo - 1, 2 * hi + 2
    return lo, hi


@pytest.fixture(scope="module")
def patchgan_256():
    return pk.PatchDiscriminator()


# Default 70×70 PatchGAN ----------------------------------------------------


def test_default_output_is_30x30_logits(patchgan_256):
    d = patchgan_256
    assert d.n_layers == 3
    assert d.receptive_field == 70
    assert [tuple(s) for s in d.input_shape] == [
        (None, 256, 256, 3),
        (None, 256, 256, 3),
    ]
    assert tuple(d.output_shape) == (None, 30, 30, 1)
    src, img = _pair(256)
    logits = ops.convert_to_numpy(d([src, img], training=False))
    assert logits.shape == (1, 30, 30, 1)
    assert logits.dtype == np.float32
    assert np.all(np.isfinite(logits))
    # Raw logits, not probabilities: no sigmoid on the last conv.
    assert d.get_layer("discriminator_logits").activation is (keras.activations.linear)
    widths = [d.get_layer(f"discriminator_conv{i}").filters for i in range(4)]
    assert widths == [64, 128, 256, 512]
    assert d.get_layer("discriminator_conv3").strides == (1, 1)
    assert not d.get_layer("discriminator_conv3").use_bias
    assert d.get_layer("discriminator_conv0").use_bias
    assert "discriminator_norm0" not in {layer.name for layer in d.layers}


def test_default_parameter_count(patchgan_256):
    expected = patchgan_param_count()
    assert patchgan_256.count_params() == expected
    # SPEC §3: ≈ 2.77 M parameters.
    assert abs(expected - 2.77e6) / 2.77e6 < 5e-3


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("n_layers", [1, 2, 4])
def test_parameter_count_formula(norm, n_layers):
    kw = dict(
        in_channels=1,
        out_channels=2,
        n_layers=n_layers,
        filters=8,
        max_filters=32,
        norm=norm,
    )
    d = pk.PatchDiscriminator(image_size=64, **kw)
    assert d.count_params() == patchgan_param_count(**kw)


def test_parameter_count_by_hand_small():
    # n_layers=1, filters=2, 1+1 channels, no norm:
    # conv0 16*2*2 + 2, conv1 16*2*4 + 4, logits 16*4 + 1.
    d = pk.PatchDiscriminator(
        image_size=16,
        in_channels=1,
        out_channels=1,
        n_layers=1,
        filters=2,
        norm="none",
    )
    assert d.count_params() == 66 + 132 + 65


# Receptive field -------------------------------------------------------------


def test_receptive_field_values():
    # SPEC §3 and the closed form 9·2^n − 2 of r -> 2r + 2 from r = 16.
    assert [receptive_field(n) for n in range(1, 6)] == [16, 34, 70, 142, 286]
    for n in range(1, 9):
        assert receptive_field(n) == 9 * 2**n - 2
        lo, hi = logit_window(10, n)
        assert hi - lo + 1 == receptive_field(n)
    assert pk.receptive_field is receptive_field


@pytest.mark.parametrize("n", [0, -1, 2.0, "3"])
def test_receptive_field_rejects_bad_n_layers(n):
    with pytest.raises(ValueError, match="n_layers"):
        receptive_field(n)


def _input_support(d, src, img, row, col):
    """Pixels whose gradient of logit [row, col] is non-zero, both inputs."""
    src = tf.convert_to_tensor(src)
    img = tf.convert_to_tensor(img)
    with tf.GradientTape() as tape:
        tape.watch([src, img])
        logit = d([src, img], training=False)[0, row, col, 0]
    g_src, g_img = tape.gradient(logit, [src, img])
    grad = np.abs(g_src.numpy()[0]).sum(-1) + np.abs(g_img.numpy()[0]).sum(-1)
    return grad != 0, np.abs(g_src.numpy()).sum(), np.abs(g_img.numpy()).sum()


def _assert_square_support(support, lo, hi, size):
    rows = np.flatnonzero(support.any(axis=1))
    cols = np.flatnonzero(support.any(axis=0))
    assert (rows[0], rows[-1]) == (lo, hi)
    assert (cols[0], cols[-1]) == (lo, hi)
    assert 0 < lo and hi < size - 1  # not clipped by the image border
    inside = np.zeros_like(support)
    inside[lo : hi + 1, lo : hi + 1] = True
    assert np.all(support[inside])
    assert not np.any(support[~inside])


def test_empirical_receptive_field_70(patchgan_256):
    support, g_src, g_img = _input_support(patchgan_256, *_pair(256), row=15, col=15)
    assert g_src > 0 and g_img > 0  # the logit depends on both images
    assert support.sum() == 70 * 70
    _assert_square_support(support, *logit_window(15, 3), size=256)
    assert logit_window(15, 3) == (97, 166)


@pytest.mark.parametrize("n_layers, side", [(1, 16), (2, 34)])
def test_empirical_receptive_field_small(n_layers, side):
    d = pk.PatchDiscriminator(image_size=64, n_layers=n_layers, filters=8)
    j = d.output_shape[1] // 2
    support, g_src, g_img = _input_support(d, *_pair(64), row=j, col=j)
    assert g_src > 0 and g_img > 0
    assert support.sum() == side * side
    lo, hi = logit_window(j, n_layers)
    assert hi - lo + 1 == side == receptive_field(n_layers)
    _assert_square_support(support, lo, hi, size=64)


# Shapes and validation -------------------------------------------------------


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4])
def test_output_shapes_per_n_layers(n_layers):
    # n stride-2 convs take 64 to 64/2^n; the two padded 4×4 stride-1
    # convs each remove one pixel: 64/2^n − 2.
    d = pk.PatchDiscriminator(image_size=64, n_layers=n_layers, filters=8)
    side = 64 // 2**n_layers - 2
    assert tuple(d.output_shape) == (None, side, side, 1)
    out = d(list(_pair(64, batch=2)), training=False)
    assert tuple(out.shape) == (2, side, side, 1)
    assert d.receptive_field == receptive_field(n_layers)


def test_output_shape_non_square_and_channels():
    d = pk.PatchDiscriminator(
        image_size=(64, 128), in_channels=1, out_channels=3, filters=8
    )
    src, img = _pair((64, 128), batch=2, channels=(1, 3))
    assert tuple(d([src, img]).shape) == (2, 64 // 8 - 2, 128 // 8 - 2, 1)
    assert d.get_layer("discriminator_pair").output.shape[-1] == 4


@pytest.mark.parametrize("n_layers", [0, -2])
def test_bad_n_layers_rejected(n_layers):
    with pytest.raises(ValueError, match="n_layers"):
        pk.PatchDiscriminator(image_size=64, n_layers=n_layers, filters=8)


@pytest.mark.parametrize("size, n_layers", [(4, 3), ((64, 4), 3), (1, 1)])
def test_too_small_images_rejected(size, n_layers):
    with pytest.raises(ValueError, match="image_size"):
        pk.PatchDiscriminator(image_size=size, n_layers=n_layers, filters=8)


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4])
def test_smallest_image_size_boundary(n_layers):
    # After n 'same' stride-2 convs a side s becomes ceil(s / 2^n); the two
    # stride-1 convs need at least 3 pixels there to leave a 1×1 grid,
    # i.e. s > 2^(n+1). The smallest valid side gives one logit.
    smallest = 2 ** (n_layers + 1) + 1
    d = pk.PatchDiscriminator(image_size=smallest, n_layers=n_layers, filters=4)
    assert tuple(d.output_shape) == (None, 1, 1, 1)
    out = d(list(_pair(smallest)), training=False)
    assert tuple(out.shape) == (1, 1, 1, 1)


@pytest.mark.parametrize("n_layers", [1, 2, 3, 4])
def test_side_of_2_pow_n_plus_1_rejected_by_argument_check(n_layers):
    # One pixel below the smallest valid side (see above) leaves an empty
    # logit grid; the argument check must reject it with a message naming
    # `image_size`, not let it fail deep inside a Keras conv.
    with pytest.raises(ValueError, match="image_size"):
        pk.PatchDiscriminator(
            image_size=2 ** (n_layers + 1), n_layers=n_layers, filters=4
        )


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(norm="group"), "norm"),
        (dict(filters=0), "filters"),
        (dict(in_channels=0), "in_channels"),
    ],
)
def test_bad_arguments_rejected(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        pk.PatchDiscriminator(image_size=32, **kwargs)


# Config round trip ---------------------------------------------------------


def _dumps(config):
    return json.dumps(config, sort_keys=True)


def test_config_round_trip_and_weight_transfer(tmp_path):
    d = pk.PatchDiscriminator(
        **ODD_SHAPE,
        n_layers=2,
        filters=8,
        max_filters=16,
        norm="instance",
        name="critic",
    )
    config = d.get_config()
    d2 = config_round_trip(d)
    assert d2.count_params() == d.count_params()
    d2.set_weights(d.get_weights())
    pair = list(_pair((32, 64), batch=2, channels=(1, 2)))
    expected = ops.convert_to_numpy(d(pair, training=False))
    assert expected.shape == (2, 32 // 4 - 2, 64 // 4 - 2, 1)
    np.testing.assert_array_equal(
        expected, ops.convert_to_numpy(d2(pair, training=False))
    )
    path = str(tmp_path / "discriminator.keras")
    d.save(path)
    d3 = keras.saving.load_model(path)
    assert type(d3) is pk.PatchDiscriminator
    assert _dumps(d3.get_config()) == _dumps(config)
    np.testing.assert_allclose(
        ops.convert_to_numpy(d3(pair, training=False)), expected, atol=1e-6
    )

"""U-Net generator (SPEC §2): shapes, parameter counts, options, config."""

import json

import keras
import numpy as np
import pytest
from keras import ops

import pix2pix_keras as pk
from tests._helpers import config_round_trip
from tests._model_helpers import NORM_PARAMS
from tests._model_helpers import ODD_SHAPE
from tests.conftest import tiny_arrays


def unet_param_count(
    in_channels=3,
    out_channels=3,
    depth=8,
    filters=64,
    max_filters=512,
    decoder_filters=None,
    norm="batch",
):
    """Parameters of the U-Net, counted layer by layer from the design.

    Convs are 4×4; a conv followed by batch norm has no bias (the norm's
    beta is the offset), otherwise it has one. Batch norm holds gamma,
    beta, moving mean and moving variance per channel; the instance norm is
    affine-free. The first and the innermost down blocks are not normalized.
    Each decoder block after the first sees its predecessor's output
    concatenated with a skip of the same width (projected 1×1 with bias when
    the widths differ); the output transposed conv has a bias.
    """
    enc = [min(filters * 2**i, max_filters) for i in range(depth)]
    dec = enc[-2::-1] if decoder_filters is None else list(decoder_filters)
    bias = norm != "batch"
    per_ch = NORM_PARAMS[norm]
    total, cin = 0, in_channels
    for i, f in enumerate(enc):
        total += 16 * cin * f + (f if bias else 0)
        if 0 < i < depth - 1:
            total += per_ch * f
        cin = f
    for f, skip in zip(dec, enc[-2::-1]):
        total += 16 * cin * f + (f if bias else 0) + per_ch * f
        if skip != f:
            total += skip * f + f
        cin = 2 * f
    return total + 16 * cin * out_channels + out_channels


def tiny_generator(**kw):
    args = dict(image_size=32, filters=8, max_filters=32)
    args.update(kw)
    return pk.UNetGenerator(**args)


@pytest.fixture(scope="module")
def unet_256():
    return pk.UNetGenerator()


# Default 256×256 model --------------------------------------------------


def test_default_generator_architecture(unet_256):
    g = unet_256
    assert g.depth == 8
    assert g.image_size == (256, 256)
    assert tuple(g.input_shape) == (None, 256, 256, 3)
    assert tuple(g.output_shape) == (None, 256, 256, 3)
    # Encoder widths 64·2^i capped at 512 (SPEC §2), 1×1 bottleneck.
    widths = [g.get_layer(f"generator_down{i}_conv").filters for i in range(8)]
    assert widths == [64, 128, 256, 512, 512, 512, 512, 512]
    assert tuple(g.get_layer("generator_down7_act").output.shape) == (
        None,
        1,
        1,
        512,
    )
    dec = [g.get_layer(f"generator_up{i}_conv").filters for i in range(7)]
    assert dec == [512, 512, 512, 512, 256, 128, 64]
    # No skip needs a projection when the decoder mirrors the encoder.
    assert not [layer for layer in g.layers if layer.name.endswith("_proj")]
    # Unnormalized outermost and innermost down blocks; dropout 0.5 on the
    # first three up blocks only.
    names = {layer.name for layer in g.layers}
    assert {f"generator_down{i}_norm" for i in range(8)} & names == {
        f"generator_down{i}_norm" for i in range(1, 7)
    }
    drops = [layer for layer in g.layers if isinstance(layer, keras.layers.Dropout)]
    assert sorted(layer.name for layer in drops) == [
        f"generator_up{i}_dropout" for i in range(3)
    ]
    assert all(layer.rate == 0.5 for layer in drops)


def test_default_generator_parameter_count(unet_256):
    expected = unet_param_count()
    assert unet_256.count_params() == expected
    # SPEC §2: the classic U-Net 256 with batch norm has ≈ 54.4 M parameters.
    assert abs(expected - 54.4e6) / 54.4e6 < 1e-3


def test_default_generator_forward_shape_and_range(unet_256):
    x, _ = tiny_arrays(n=1, size=256)
    y = ops.convert_to_numpy(unet_256(x, training=False))
    assert y.shape == (1, 256, 256, 3)
    assert y.dtype == np.float32
    assert np.all(np.abs(y) <= 1.0)
    assert np.all(np.isfinite(y))


# Parameter counts of other configurations -------------------------------


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_parameter_count_formula_per_norm(norm):
    g = tiny_generator(norm=norm)
    assert g.depth == 5
    assert g.count_params() == unet_param_count(
        depth=5, filters=8, max_filters=32, norm=norm
    )
    # Hand count of the smallest case, depth 2 at 4×4, 2 filters, 1→1 ch:
    # down0 16*1*2 (+2 bias), down1 16*2*4 (+4), up0 16*4*2 (+2) (+norm),
    # output 16*(2*2)*1 + 1.
    small = pk.UNetGenerator(
        image_size=4, in_channels=1, out_channels=1, filters=2, norm=norm
    )
    bias = 0 if norm == "batch" else 2 + 4 + 2
    norm_params = 4 * 2 if norm == "batch" else 0
    assert small.count_params() == 32 + 128 + 128 + 65 + bias + norm_params


def test_instance_norm_is_affine_free_group_norm():
    g = tiny_generator(norm="instance")
    norms = [
        layer
        for layer in g.layers
        if isinstance(layer, keras.layers.GroupNormalization)
    ]
    # Down blocks 1..3 and all four up blocks.
    assert len(norms) == 3 + 4
    for layer in norms:
        assert layer.groups == layer.input.shape[-1]  # one group per channel
        assert layer.count_params() == 0
    assert all(g.get_layer(f"generator_down{i}_conv").use_bias for i in range(5))
    assert not [
        layer
        for layer in g.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


# Shapes -------------------------------------------------------------------


def test_shape_128_depth_7():
    g = pk.UNetGenerator(image_size=128, filters=8, max_filters=64)
    assert g.depth == 7
    assert tuple(g.get_layer("generator_down6_act").output.shape) == (
        None,
        1,
        1,
        64,
    )
    x, _ = tiny_arrays(n=1, size=128)
    assert tuple(g(x, training=False).shape) == (1, 128, 128, 3)
    assert g.count_params() == unet_param_count(depth=7, filters=8, max_filters=64)


def test_shape_non_square_64x128_depth_6():
    g = pk.UNetGenerator(image_size=(64, 128), filters=8, max_filters=64)
    assert g.depth == 6
    assert g.image_size == (64, 128)
    # The shorter side reaches 1 pixel: a 1×2 bottleneck.
    assert tuple(g.get_layer("generator_down5_act").output.shape) == (
        None,
        1,
        2,
        64,
    )
    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 128, 3))
    assert tuple(g(x.astype("float32"), training=False).shape) == (
        1,
        64,
        128,
        3,
    )


def test_channels_and_explicit_depth():
    g = tiny_generator(in_channels=1, out_channels=2, depth=3)
    assert g.depth == 3
    assert tuple(g.get_layer("generator_down2_act").output.shape) == (
        None,
        4,
        4,
        32,
    )
    x = np.zeros((2, 32, 32, 1), "float32")
    assert tuple(g(x).shape) == (2, 32, 32, 2)
    assert g.count_params() == unet_param_count(
        in_channels=1, out_channels=2, depth=3, filters=8, max_filters=32
    )


def test_output_is_tanh_of_last_transposed_conv():
    g = tiny_generator(norm="none")
    out_layer = g.get_layer("generator_output")
    assert out_layer.activation is keras.activations.tanh
    # Blow up the output kernel so that the pre-activations saturate.
    kernel, bias = out_layer.get_weights()
    out_layer.set_weights([kernel * 1e4, bias])
    x, _ = tiny_arrays(n=2, size=32)
    features = keras.Model(g.input, out_layer.input)(x)
    pre = ops.conv_transpose(
        features, out_layer.kernel, strides=2, padding="same"
    ) + ops.convert_to_tensor(bias)
    y = ops.convert_to_numpy(g(x, training=False))
    np.testing.assert_allclose(y, np.tanh(ops.convert_to_numpy(pre)), atol=1e-6)
    assert np.all(np.abs(y) <= 1.0)
    assert np.abs(y).max() > 0.999  # saturated, yet bounded
    assert y.min() < -0.999 and y.max() > 0.999


# Skip projections ---------------------------------------------------------


def test_skip_projection_only_where_widths_differ():
    # Encoder widths at depth 5: [8, 16, 32, 32, 32]; skips innermost first
    # are [32, 32, 16, 8].
    decoder = [16, 32, 8, 8]
    g = tiny_generator(decoder_filters=decoder)
    proj = sorted(layer.name for layer in g.layers if layer.name.endswith("_proj"))
    assert proj == ["generator_skip0_proj", "generator_skip2_proj"]
    p0 = g.get_layer("generator_skip0_proj")
    assert p0.kernel_size == (1, 1)
    assert tuple(p0.kernel.shape) == (1, 1, 32, 16)
    assert tuple(g.get_layer("generator_skip2_proj").kernel.shape) == (
        1,
        1,
        16,
        8,
    )
    # Each concatenation is twice its up block's width.
    for i, f in enumerate(decoder):
        assert g.get_layer(f"generator_skip{i}").output.shape[-1] == 2 * f
    x, _ = tiny_arrays(n=2, size=32)
    assert tuple(g(x, training=False).shape) == (2, 32, 32, 3)
    assert g.count_params() == unet_param_count(
        depth=5, filters=8, max_filters=32, decoder_filters=decoder
    )


def test_decoder_filters_of_wrong_length_rejected():
    with pytest.raises(ValueError, match="decoder_filters"):
        tiny_generator(decoder_filters=[16, 16, 8])
    with pytest.raises(ValueError, match="decoder_filters"):
        tiny_generator(decoder_filters=[16, 16, 8, 0])


# Validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, shown",
    [
        (dict(image_size=100), "100"),  # default depth 6: 100 % 64 != 0
        (dict(image_size=(64, 96)), "96"),  # depth 6 from the short side
        (dict(image_size=64, depth=7), "64"),
        (dict(image_size=(48, 32), depth=5), "48"),
    ],
)
def test_image_size_not_divisible_by_2_pow_depth(kwargs, shown):
    with pytest.raises(ValueError, match="image_size") as info:
        pk.UNetGenerator(filters=8, **kwargs)
    assert shown in str(info.value)


@pytest.mark.parametrize("norm", ["layer", "Batch", None])
def test_bad_norm_rejected(norm):
    with pytest.raises(ValueError, match="norm"):
        tiny_generator(norm=norm)


@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5])
def test_dropout_out_of_range_rejected(dropout):
    with pytest.raises(ValueError, match="dropout"):
        tiny_generator(dropout=dropout)


@pytest.mark.parametrize("depth", [0, 1, 2.0])
def test_bad_depth_rejected(depth):
    with pytest.raises(ValueError, match="depth"):
        tiny_generator(depth=depth)


# Dropout ------------------------------------------------------------------


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_dropout_only_active_in_training(norm):
    g = tiny_generator(norm=norm, dropout=0.5)
    x, _ = tiny_arrays(n=2, size=32)
    a = ops.convert_to_numpy(g(x, training=False))
    b = ops.convert_to_numpy(g(x, training=False))
    np.testing.assert_array_equal(a, b)
    c = ops.convert_to_numpy(g(x, training=True))
    d = ops.convert_to_numpy(g(x, training=True))
    # Identical calls are bitwise equal (as the inference calls show), so
    # any difference comes from the dropout masks; they reach almost every
    # output pixel through the decoder.
    assert np.mean(c != d) > 0.9
    assert np.mean(c != a) > 0.9
    assert np.abs(c - d).max() > 1e-4 * np.abs(a).max()


def test_dropout_layer_drops_half_and_rescales():
    g = tiny_generator(norm="instance", dropout=0.5)
    x, _ = tiny_arrays(n=2, size=32)
    pre = keras.Model(g.input, g.get_layer("generator_up2_norm").output)
    drop = g.get_layer("generator_up2_dropout")
    kept = ops.convert_to_numpy(pre(x))
    out = ops.convert_to_numpy(drop(kept, training=True))
    assert out.shape == (2, 8, 8, 16)
    assert np.count_nonzero(kept) == kept.size
    zero = out == 0
    # 2048 Bernoulli(0.5) draws: the dropped fraction is 0.5 ± 0.011 (1 sd).
    assert 0.44 < zero.mean() < 0.56
    np.testing.assert_allclose(out[~zero], 2.0 * kept[~zero], rtol=1e-6)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(drop(kept, training=False)), kept
    )


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_no_dropout_makes_training_deterministic(norm):
    g = tiny_generator(norm=norm, dropout=0.0)
    assert not [layer for layer in g.layers if isinstance(layer, keras.layers.Dropout)]
    x, _ = tiny_arrays(n=2, size=32)
    a = ops.convert_to_numpy(g(x, training=True))
    b = ops.convert_to_numpy(g(x, training=True))
    c = ops.convert_to_numpy(g(x, training=False))
    np.testing.assert_array_equal(a, b)
    # Without dropout and batch statistics, training changes nothing.
    np.testing.assert_allclose(a, c, atol=1e-6)


def test_num_dropout_controls_dropout_blocks():
    g = tiny_generator(dropout=0.3, num_dropout=2)
    drops = [layer for layer in g.layers if isinstance(layer, keras.layers.Dropout)]
    assert sorted(layer.name for layer in drops) == [
        "generator_up0_dropout",
        "generator_up1_dropout",
    ]
    assert [layer.rate for layer in drops] == [0.3, 0.3]


# Config round trip --------------------------------------------------------


def _dumps(config):
    return json.dumps(config, sort_keys=True)


def test_config_round_trip_and_weight_transfer():
    g = pk.UNetGenerator(
        **ODD_SHAPE,
        depth=4,
        filters=8,
        max_filters=16,
        decoder_filters=[16, 8, 4],
        norm="instance",
        dropout=0.25,
        num_dropout=2,
        name="gen",
    )
    # Through JSON, as a .keras file stores it (tuples become lists).
    g2 = config_round_trip(g)
    assert g2.count_params() == g.count_params()
    g2.set_weights(g.get_weights())
    x = np.random.default_rng(4).uniform(-1, 1, (2, 32, 64, 1))
    x = x.astype("float32")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(g(x, training=False)),
        ops.convert_to_numpy(g2(x, training=False)),
    )


def test_default_config_round_trip_batch_norm(tmp_path):
    g = tiny_generator()
    g2 = pk.UNetGenerator.from_config(g.get_config())
    assert _dumps(g2.get_config()) == _dumps(g.get_config())
    g2.set_weights(g.get_weights())
    x, _ = tiny_arrays(n=2, size=32)
    expected = ops.convert_to_numpy(g(x, training=False))
    np.testing.assert_array_equal(expected, ops.convert_to_numpy(g2(x, training=False)))
    # A .keras file restores the class, its config and its weights.
    path = str(tmp_path / "generator.keras")
    g.save(path)
    g3 = keras.saving.load_model(path)
    assert type(g3) is pk.UNetGenerator
    assert _dumps(g3.get_config()) == _dumps(g.get_config())
    np.testing.assert_allclose(
        ops.convert_to_numpy(g3(x, training=False)), expected, atol=1e-6
    )

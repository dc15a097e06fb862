"""Generator variants (SPEC §2 options): ResNet generator, Attention U-Net
gates and residual blocks inside the U-Net.

Every variant: output shapes, exact parameter counts by formula, training
through `Pix2Pix.fit`, `.keras` save/load, export and config round trip.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import pix2pix_keras as pk
from pix2pix_keras.models.blocks import NoiseDropout
from pix2pix_keras.models.blocks import ReflectionPadding2D
from pix2pix_keras.models.blocks import apply_attention_gate
from pix2pix_keras.models.resnet import ResnetGenerator
from tests._helpers import config_round_trip
from tests._model_helpers import NORM_PARAMS
from tests._model_helpers import ODD_SHAPE
from tests.conftest import tiny_arrays
from tests.conftest import tiny_dataset
from tests.test_generator import unet_param_count


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _dumps(config):
    return json.dumps(config, sort_keys=True)


# Parameter formulas ---------------------------------------------------------


def conv_params(k, cin, cout, norm="none", bias=None):
    """k×k conv (or transposed conv) plus the norm that follows it.

    A conv before batch norm has no bias (beta is the offset); batch norm
    holds gamma, beta, moving mean and variance; instance norm is
    affine-free.
    """
    if bias is None:
        bias = norm != "batch"
    return k * k * cin * cout + (cout if bias else 0) + NORM_PARAMS[norm] * cout


def residual_block_params(c, norm):
    """Two 3×3 convs c → c, each with its norm: 2·(9c² + c) with instance
    norm, 2·(9c² + 4c) with batch norm."""
    return 2 * conv_params(3, c, c, norm)


def resnet_param_count(
    in_channels=3,
    out_channels=3,
    filters=64,
    n_blocks=9,
    n_downsampling=2,
    norm="instance",
):
    """c7s1-f, n_downsampling d(2f, 4f, ...), n_blocks R(f·2^n), the mirror
    ups, c7s1-out with bias (no norm)."""
    total = conv_params(7, in_channels, filters, norm)
    for i in range(n_downsampling):
        total += conv_params(3, filters * 2**i, filters * 2 ** (i + 1), norm)
    total += n_blocks * residual_block_params(filters * 2**n_downsampling, norm)
    for i in range(n_downsampling, 0, -1):
        total += conv_params(3, filters * 2**i, filters * 2 ** (i - 1), norm)
    return total + conv_params(7, filters, out_channels, bias=True)


def gate_params(skip_channels, gate_channels):
    """θ (1×1, no bias) and φ (1×1, bias) to F = max(1, C_x // 2), ψ to 1
    channel with bias: F·(C_x + C_g + 2) + 1."""
    f = max(1, skip_channels // 2)
    return f * (skip_channels + gate_channels + 2) + 1


# The tiny U-Net: 32×32, depth 5, encoder widths [8, 16, 32, 32, 32] with
# outputs 16, 8, 4, 2, 1 pixels; up blocks [32, 32, 16, 8], each joined with
# a skip of the same width (innermost first: 32, 32, 16, 8).
ENC = [8, 16, 32, 32, 32]
DEC = [32, 32, 16, 8]
SKIPS = ENC[-2::-1]
RES_DOWN = ENC[:4]  # the 1×1 bottleneck gets no residual block


def tiny_unet(**kw):
    args = dict(image_size=32, filters=8, max_filters=32)
    args.update(kw)
    return pk.UNetGenerator(**args)


def tiny_resnet(**kw):
    args = dict(image_size=32, filters=8, n_blocks=2)
    args.update(kw)
    return ResnetGenerator(**args)


# ResNet generator: architecture and parameter counts -----------------------


def test_resnet_256_9_blocks_matches_pytorch_reference_count():
    g = ResnetGenerator()
    assert g.count_params() == resnet_param_count()
    # junyanz ResnetGenerator(3, 3, 64, InstanceNorm2d, n_blocks=9):
    # sum(p.numel() for p in net.parameters()) == 11,378,179.
    assert g.count_params() == 11_378_179
    assert tuple(g.output_shape) == (None, 256, 256, 3)
    assert tuple(g.get_layer("resnet_generator_res8").output.shape) == (
        None,
        64,
        64,
        256,
    )
    # The 6-block network for 128×128 (CycleGAN's resnet_6blocks).
    g6 = ResnetGenerator(image_size=128, n_blocks=6)
    assert g6.count_params() == resnet_param_count(n_blocks=6) == 7_837_699


def test_resnet_layer_shapes_and_kernels():
    g = tiny_resnet()
    shapes = {
        "resnet_generator_in_pad": (None, 38, 38, 3),
        "resnet_generator_in_act": (None, 32, 32, 8),
        "resnet_generator_down0_act": (None, 16, 16, 16),
        "resnet_generator_down1_act": (None, 8, 8, 32),
        "resnet_generator_res0": (None, 8, 8, 32),
        "resnet_generator_res1": (None, 8, 8, 32),
        "resnet_generator_up0_act": (None, 16, 16, 16),
        "resnet_generator_up1_act": (None, 32, 32, 8),
        "resnet_generator_out_pad": (None, 38, 38, 8),
        "resnet_generator_output": (None, 32, 32, 3),
    }
    for layer_name, shape in shapes.items():
        assert tuple(g.get_layer(layer_name).output.shape) == shape, layer_name
    assert g.get_layer("resnet_generator_in_conv").kernel_size == (7, 7)
    assert g.get_layer("resnet_generator_in_conv").padding == "valid"
    for i in range(2):
        down = g.get_layer(f"resnet_generator_down{i}_conv")
        up = g.get_layer(f"resnet_generator_up{i}_conv")
        assert (down.kernel_size, down.strides) == ((3, 3), (2, 2))
        assert isinstance(up, keras.layers.Conv2DTranspose)
        assert (up.kernel_size, up.strides) == ((3, 3), (2, 2))
    out = g.get_layer("resnet_generator_output")
    assert out.activation is keras.activations.tanh
    assert out.dtype_policy.compute_dtype == "float32"
    blocks = [layer for layer in g.layers if isinstance(layer, pk.ResidualBlock)]
    assert [b.norm for b in blocks] == ["instance", "instance"]
    # Instance norm (one group per channel, no weights) everywhere.
    norms = [
        layer
        for layer in g._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.GroupNormalization)
    ]
    assert len(norms) == 1 + 2 + 2 * 2 + 2
    assert sum(n.count_params() for n in norms) == 0
    outer = [n for n in norms if n in g.layers]
    assert len(outer) == 5
    assert all(n.groups == n.input.shape[-1] for n in outer)
    x, _ = tiny_arrays(n=2, size=32)
    y = _np(g(x, training=False))
    assert y.shape == (2, 32, 32, 3) and y.dtype == np.float32
    assert np.all(np.abs(y) <= 1.0)


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("n_blocks, n_downsampling", [(6, 2), (0, 1), (3, 3)])
def test_resnet_parameter_count_formula(norm, n_blocks, n_downsampling):
    g = tiny_resnet(
        in_channels=1,
        out_channels=2,
        n_blocks=n_blocks,
        n_downsampling=n_downsampling,
        norm=norm,
    )
    assert g.count_params() == resnet_param_count(
        1, 2, 8, n_blocks, n_downsampling, norm
    )
    side = 32 // 2**n_downsampling
    last_down = g.get_layer(f"resnet_generator_down{n_downsampling - 1}_act")
    assert tuple(last_down.output.shape) == (
        None,
        side,
        side,
        8 * 2**n_downsampling,
    )
    assert tuple(g.output_shape) == (None, 32, 32, 2)


def test_resnet_hand_count_smallest_case():
    # 4×4, 1→1 channels, 2 filters, one down, one block, no norm (biases):
    # c7s1-2: 49·1·2 + 2 = 100; d4: 9·2·4 + 4 = 76; R4: 2·(9·16+4) = 296;
    # u2: 9·4·2 + 2 = 74; c7s1-1: 49·2·1 + 1 = 99.
    g = ResnetGenerator(
        image_size=4,
        in_channels=1,
        out_channels=1,
        filters=2,
        n_blocks=1,
        n_downsampling=1,
        norm="none",
    )
    assert g.count_params() == 100 + 76 + 296 + 74 + 99 == 645


def test_resnet_non_square_and_channels():
    g = tiny_resnet(image_size=(32, 64), in_channels=1, out_channels=2)
    assert g.image_size == (32, 64)
    assert tuple(g.get_layer("resnet_generator_res1").output.shape) == (
        None,
        8,
        16,
        32,
    )
    x = np.random.default_rng(0).uniform(-1, 1, (3, 32, 64, 1))
    assert tuple(g(x.astype("float32")).shape) == (3, 32, 64, 2)


def test_reflection_padding_mirrors_without_repeating_the_border():
    x = np.arange(2 * 4 * 5 * 3, dtype="float32").reshape(2, 4, 5, 3)
    layer = ReflectionPadding2D((3, 2))
    y = _np(layer(x))
    assert y.shape == (2, 10, 9, 3)
    np.testing.assert_array_equal(
        y, np.pad(x, [(0, 0), (3, 3), (2, 2), (0, 0)], mode="reflect")
    )
    assert tuple(layer.compute_output_shape((None, None, 5, 3))) == (
        None,
        None,
        9,
        3,
    )
    again = ReflectionPadding2D.from_config(layer.get_config())
    assert again.padding == (3, 2)
    # The generator's first layer pads the image by 3 this way.
    g = tiny_resnet()
    probe = keras.Model(g.input, g.get_layer("resnet_generator_in_pad").output)
    img, _ = tiny_arrays(n=1, size=32)
    np.testing.assert_array_equal(
        _np(probe(img)),
        np.pad(img, [(0, 0), (3, 3), (3, 3), (0, 0)], mode="reflect"),
    )
    with pytest.raises(ValueError, match="padding"):
        ReflectionPadding2D(-1)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(image_size=30), "image_size"),  # 30 % 4 != 0
        (dict(image_size=(32, 36), n_downsampling=3), "image_size"),
        (dict(image_size=4), "image_size"),  # 1×1 at the residual blocks
        (dict(image_size=2, n_downsampling=0), "image_size"),  # pad 3 > 2
        (dict(n_blocks=-1), "n_blocks"),
        (dict(n_blocks=2.0), "n_blocks"),
        (dict(n_downsampling=-1), "n_downsampling"),
        (dict(filters=0), "filters"),
        (dict(in_channels=True), "in_channels"),
        (dict(norm="layer"), "norm"),
        (dict(dropout=1.0), "dropout"),
        (dict(dropout=-0.1), "dropout"),
        (dict(inference_dropout="yes"), "inference_dropout"),
    ],
)
def test_resnet_bad_arguments_rejected(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        tiny_resnet(**kwargs)


def test_resnet_dropout_is_noise_dropout_in_each_block():
    g = tiny_resnet(n_blocks=3, dropout=0.5)
    drops = [
        layer
        for layer in g._flatten_layers(include_self=False)
        if isinstance(layer, NoiseDropout)
    ]
    assert len(drops) == 3
    assert {d.rate for d in drops} == {0.5}
    assert not any(d.at_inference for d in drops)
    # Dropout adds no parameters.
    assert g.count_params() == resnet_param_count(filters=8, n_blocks=3)
    assert not [
        layer
        for layer in tiny_resnet()._flatten_layers(include_self=False)
        if isinstance(layer, NoiseDropout)
    ]


def test_resnet_inference_dropout_makes_predict_stochastic(tmp_path):
    x, _ = tiny_arrays(n=2, size=32, seed=1)
    g = tiny_resnet(dropout=0.5, norm="none")
    a, b = g.predict(x, verbose=0), g.predict(x, verbose=0)
    np.testing.assert_array_equal(a, b)
    g.inference_dropout = True  # drops the cached predict function
    assert all(
        d.at_inference
        for d in g._flatten_layers(include_self=False)
        if isinstance(d, NoiseDropout)
    )
    c, d = g.predict(x, verbose=0), g.predict(x, verbose=0)
    assert np.mean(c != d) > 0.9
    assert np.mean(c != a) > 0.9
    assert g.get_config()["inference_dropout"] is True
    # Saved with the model.
    path = os.fspath(tmp_path / "g.keras")
    g.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is ResnetGenerator
    assert loaded.inference_dropout is True
    e, f = loaded.predict(x, verbose=0), loaded.predict(x, verbose=0)
    assert np.mean(e != f) > 0.9
    loaded.inference_dropout = False
    np.testing.assert_allclose(loaded.predict(x, verbose=0), a, atol=1e-6)
    # In the constructor too.
    h = tiny_resnet(dropout=0.5, inference_dropout=True)
    assert float(np.max(np.abs(_np(h(x)) - _np(h(x))))) > 0.0


def test_pix2pix_inference_dropout_switches_resnet_generator():
    def wrap(generator):
        return pk.Pix2Pix(
            generator=generator,
            discriminator=pk.PatchDiscriminator(image_size=32, filters=8, n_layers=2),
            image_size=32,
        )

    model = wrap(tiny_resnet(dropout=0.5, norm="none"))
    x, _ = tiny_arrays(n=2, size=32, seed=4)
    base = model.predict(x, verbose=0)
    assert model.inference_dropout is False
    model.inference_dropout = True
    assert model.generator.inference_dropout is True
    a, b = model.predict(x, verbose=0), model.predict(x, verbose=0)
    assert np.mean(a != b) > 0.9
    model.inference_dropout = False
    np.testing.assert_array_equal(model.predict(x, verbose=0), base)
    with pytest.raises(ValueError, match="no NoiseDropout layer"):
        wrap(tiny_resnet()).inference_dropout = True


def test_resnet_config_round_trip():
    g = ResnetGenerator(
        **ODD_SHAPE,
        filters=4,
        n_blocks=3,
        n_downsampling=1,
        norm="batch",
        dropout=0.25,
        name="res",
    )
    config = g.get_config()
    assert config["n_blocks"] == 3 and config["n_downsampling"] == 1
    g2 = config_round_trip(g)
    assert g2.count_params() == g.count_params()
    g2.set_weights(g.get_weights())
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 64, 1))
    x = x.astype("float32")
    np.testing.assert_array_equal(_np(g(x, training=False)), _np(g2(x, training=False)))


# Attention U-Net ----------------------------------------------------------


def test_attention_adds_exactly_the_gate_parameters():
    plain = tiny_unet()
    g = tiny_unet(attention=True)
    # Each gate sees the skip (C_x) and the up block output (C_g = its width).
    extra = sum(gate_params(s, f) for s, f in zip(SKIPS, DEC))
    # F_int = 16, 16, 8, 4: 16·66+1, 16·66+1, 8·34+1, 4·18+1.
    assert extra == 1057 + 1057 + 273 + 73 == 2460
    assert g.count_params() == plain.count_params() + extra
    assert (
        g.count_params() == unet_param_count(depth=5, filters=8, max_filters=32) + extra
    )
    for i, (s, f) in enumerate(zip(SKIPS, DEC)):
        theta = g.get_layer(f"generator_att{i}_theta")
        phi = g.get_layer(f"generator_att{i}_phi")
        psi = g.get_layer(f"generator_att{i}_psi")
        assert tuple(theta.kernel.shape) == (1, 1, s, s // 2)
        assert not theta.use_bias
        assert tuple(phi.kernel.shape) == (1, 1, f, s // 2)
        assert tuple(psi.kernel.shape) == (1, 1, s // 2, 1)
        # The concatenation still joins [up block, gated skip].
        assert g.get_layer(f"generator_skip{i}").output.shape[-1] == 2 * f
    assert tuple(g.output_shape) == (None, 32, 32, 3)


def test_attention_with_skip_projection_gates_the_raw_skip():
    decoder = [16, 32, 8, 8]  # skips 0 and 2 need a 1×1 projection
    plain = tiny_unet(decoder_filters=decoder)
    g = tiny_unet(decoder_filters=decoder, attention=True)
    extra = sum(gate_params(s, f) for s, f in zip(SKIPS, decoder))
    assert g.count_params() == plain.count_params() + extra
    # The gate works on the encoder's 32 channels; the projection follows.
    assert tuple(g.get_layer("generator_att0_theta").kernel.shape) == (
        1,
        1,
        32,
        16,
    )
    proj = g.get_layer("generator_skip0_proj")
    assert proj.input.shape[-1] == 32 and proj.output.shape[-1] == 16


def test_attention_coefficients_in_unit_interval_with_shape():
    g = tiny_unet(attention=True, norm="instance")
    x, _ = tiny_arrays(n=3, size=32, seed=2)
    for i in range(4):
        side = 2 ** (i + 1)  # skips 2×2, 4×4, 8×8, 16×16
        coef = g.get_layer(f"generator_att{i}_coef")
        alpha = _np(keras.Model(g.input, coef.output)(x))
        assert alpha.shape == (3, side, side, 1)
        assert np.all((alpha >= 0.0) & (alpha <= 1.0))
    # Saturate the outermost gate: still in [0, 1], now reaching both ends.
    psi = g.get_layer("generator_att3_psi")
    kernel, bias = psi.get_weights()
    psi.set_weights([kernel * 1e5, bias])
    probe = keras.Model(g.input, g.get_layer("generator_att3_coef").output)
    alpha = _np(probe(x))
    assert np.all((alpha >= 0.0) & (alpha <= 1.0))
    assert alpha.min() < 1e-3 and alpha.max() > 1 - 1e-3


def test_attention_gate_computes_oktay_formula():
    g = tiny_unet(attention=True, norm="none")
    i = 2  # 8×8 skip with 16 channels, gated by the 16-channel up block
    gate = g.get_layer(f"generator_att{i}_gate")
    skip_t, alpha_t = gate.input
    g_t = g.get_layer(f"generator_att{i}_phi").input
    probe = keras.Model(g.input, [skip_t, g_t, alpha_t, gate.output])
    x, _ = tiny_arrays(n=2, size=32, seed=3)
    skip, gsig, alpha, gated = (_np(t) for t in probe(x))
    assert skip.shape == (2, 8, 8, 16) and gsig.shape == (2, 8, 8, 16)
    wt = _np(g.get_layer(f"generator_att{i}_theta").kernel)[0, 0]
    wp, bp = (_np(v) for v in g.get_layer(f"generator_att{i}_phi").weights)
    ws, bs = (_np(v) for v in g.get_layer(f"generator_att{i}_psi").weights)
    q = np.maximum(skip @ wt + gsig @ wp[0, 0] + bp, 0.0)
    want = 1.0 / (1.0 + np.exp(-(q @ ws[0, 0] + bs)))
    np.testing.assert_allclose(alpha, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gated, skip * alpha, rtol=1e-6, atol=1e-7)


def test_apply_attention_gate_inter_channels_default_is_at_least_one():
    x = keras.Input((4, 4, 1))
    gsig = keras.Input((4, 4, 3))
    y = apply_attention_gate(x, gsig, name="a")
    m = keras.Model([x, gsig], y)
    # F = max(1, 1 // 2) = 1: 1·1 + 3·1 + 1 + (1 + 1) = 7.
    assert m.count_params() == gate_params(1, 3) == 7
    assert tuple(m.get_layer("a_coef").output.shape) == (None, 4, 4, 1)


# Residual blocks inside the U-Net -----------------------------------------


@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("n", [1, 2])
def test_residual_blocks_add_exact_parameters(norm, n):
    plain = tiny_unet(norm=norm)
    g = tiny_unet(norm=norm, residual_blocks=n)
    eligible = RES_DOWN + DEC  # 8, 16, 32, 32 | 32, 32, 16, 8
    extra = n * sum(residual_block_params(c, norm) for c in eligible)
    if norm == "instance":
        # 2·(9c² + c) per block: c=8: 1168, 16: 4640, 32: 18496.
        assert extra == n * (2 * 1168 + 2 * 4640 + 4 * 18496)
    assert g.count_params() == plain.count_params() + extra
    names = sorted(
        layer.name for layer in g.layers if isinstance(layer, pk.ResidualBlock)
    )
    assert names == sorted(
        [f"generator_down{i}_res{j}" for i in range(4) for j in range(n)]
        + [f"generator_up{i}_res{j}" for i in range(4) for j in range(n)]
    )
    assert {
        layer.norm for layer in g.layers if isinstance(layer, pk.ResidualBlock)
    } == {norm}
    x, _ = tiny_arrays(n=2, size=32)
    assert tuple(g(x, training=False).shape) == (2, 32, 32, 3)


def test_residual_blocks_rule_at_least_2x2():
    # Depth 3 at 32: the bottleneck is 4×4 and gets blocks too.
    g = tiny_unet(depth=3, residual_blocks=1, norm="none")
    assert tuple(g.get_layer("generator_down2_res0").output.shape) == (
        None,
        4,
        4,
        32,
    )
    plain = tiny_unet(depth=3, norm="none")
    widths = [8, 16, 32] + [16, 8]
    assert g.count_params() == plain.count_params() + sum(
        residual_block_params(c, "none") for c in widths
    )
    # 64×128 at default depth 6: a 1×2 bottleneck, too thin to reflect.
    wide = pk.UNetGenerator(
        image_size=(64, 128), filters=8, max_filters=32, residual_blocks=1
    )
    names = {layer.name for layer in wide.layers}
    assert "generator_down5_res0" not in names
    assert "generator_down4_res0" in names  # 2×4
    assert tuple(wide.output_shape) == (None, 64, 128, 3)


def test_residual_blocks_feed_the_skips():
    g = tiny_unet(residual_blocks=1, norm="none")
    # Skip 3 (outermost) joins the refined 16×16 output of down0.
    concat = g.get_layer("generator_skip3")
    res = g.get_layer("generator_down0_res0")
    probe = keras.Model(g.input, [concat.output, res.output])
    x, _ = tiny_arrays(n=1, size=32)
    joined, refined = (_np(t) for t in probe(x))
    np.testing.assert_array_equal(joined[..., 8:], refined)
    # The up block's residual output comes first in the concatenation.
    up = keras.Model(g.input, g.get_layer("generator_up3_res0").output)
    np.testing.assert_array_equal(joined[..., :8], _np(up(x)))


def test_bn_momentum_reaches_nested_residual_batch_norms():
    g = tiny_unet(residual_blocks=1, bn_momentum=0.99)
    norms = [
        layer
        for layer in g._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    # 3 down + 4 up block norms, 2 per residual block × 8 blocks.
    assert len(norms) == 7 + 16
    assert {n.momentum for n in norms} == {0.99}


def test_attention_and_residual_blocks_combined_count():
    g = tiny_unet(attention=True, residual_blocks=1, norm="instance")
    assert g.count_params() == unet_param_count(
        depth=5, filters=8, max_filters=32, norm="instance"
    ) + sum(gate_params(s, f) for s, f in zip(SKIPS, DEC)) + sum(
        residual_block_params(c, "instance") for c in RES_DOWN + DEC
    )


@keras.saving.register_keras_serializable(package="pix2pix_keras_tests")
class _WideUp(pk.UNetGenerator):
    """A hook override: every up block ends in a 1×1 conv (no bias)."""

    def up_block(self, x, filters, *, norm, dropout, name):
        x = super().up_block(x, filters, norm=norm, dropout=dropout, name=name)
        return keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_mix")(x)


def test_options_wrap_the_overridden_hooks():
    base = _WideUp(image_size=32, filters=8, max_filters=32, norm="none")
    g = _WideUp(
        image_size=32,
        filters=8,
        max_filters=32,
        norm="none",
        attention=True,
        residual_blocks=1,
    )
    assert base.count_params() == unet_param_count(
        depth=5, filters=8, max_filters=32, norm="none"
    ) + sum(f * f for f in DEC)
    assert g.count_params() == base.count_params() + sum(
        gate_params(s, f) for s, f in zip(SKIPS, DEC)
    ) + sum(residual_block_params(c, "none") for c in RES_DOWN + DEC)
    # The gate's signal is the hook's output after its residual block.
    phi = g.get_layer("generator_att0_phi")
    res = g.get_layer("generator_up0_res0")
    assert res.input.shape == g.get_layer("generator_up0_mix").output.shape
    probe = keras.Model(g.input, [phi.input, res.output])
    x, _ = tiny_arrays(n=1, size=32)
    a, b = (_np(t) for t in probe(x))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(attention=1), "attention"),
        (dict(attention="yes"), "attention"),
        (dict(residual_blocks=-1), "residual_blocks"),
        (dict(residual_blocks=1.5), "residual_blocks"),
        (dict(residual_blocks=True), "residual_blocks"),
    ],
)
def test_unet_bad_option_rejected(kwargs, arg):
    with pytest.raises(ValueError, match=f"`{arg}`"):
        tiny_unet(**kwargs)


def test_unet_options_config_round_trip_and_old_configs():
    g = tiny_unet(attention=True, residual_blocks=2, norm="instance")
    config = g.get_config()
    assert config["attention"] is True and config["residual_blocks"] == 2
    g2 = pk.UNetGenerator.from_config(json.loads(_dumps(config)))
    assert _dumps(g2.get_config()) == _dumps(config)
    g2.set_weights(g.get_weights())
    x, _ = tiny_arrays(n=2, size=32)
    np.testing.assert_array_equal(_np(g(x, training=False)), _np(g2(x, training=False)))
    # Defaults are off and saved; a config from before the options exists
    # rebuilds the plain U-Net.
    plain = tiny_unet().get_config()
    assert plain["attention"] is False and plain["residual_blocks"] == 0
    old = {k: v for k, v in plain.items() if k not in ("attention", "residual_blocks")}
    assert _dumps(pk.UNetGenerator.from_config(old).get_config()) == _dumps(plain)


# Every variant trains, saves, loads and exports ---------------------------

VARIANTS = {
    "resnet6": lambda: ResnetGenerator(image_size=32, filters=8, n_blocks=6),
    "resnet_dropout_batch": lambda: ResnetGenerator(
        image_size=32, filters=8, n_blocks=2, norm="batch", dropout=0.5
    ),
    "unet_attention": lambda: tiny_unet(attention=True),
    # Depth 3 (4×4 bottleneck, which gets a residual block too) keeps the
    # traced train step small.
    "unet_residual": lambda: tiny_unet(depth=3, residual_blocks=1),
    "unet_attention_residual": lambda: tiny_unet(
        depth=3, attention=True, residual_blocks=1, norm="instance"
    ),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def trained(request):
    """(name, Pix2Pix, generator weights before, history) after 3 steps."""
    keras.utils.set_random_seed(0)
    generator = VARIANTS[request.param]()
    model = pk.Pix2Pix(
        generator=generator,
        discriminator=pk.PatchDiscriminator(image_size=32, filters=8, n_layers=2),
        image_size=32,
    )
    model.compile()
    before = [np.array(_np(v)) for v in generator.trainable_variables]
    history = model.fit(tiny_dataset(n=6, size=32), epochs=1, verbose=0)
    return request.param, model, before, history.history


def test_variant_trains_through_pix2pix_fit(trained):
    name, model, before, history = trained
    assert model.step_counter.numpy() == 3  # 6 images, batch size 2
    for key in ("g_loss", "g_gan", "g_l1", "d_loss"):
        assert np.all(np.isfinite(history[key])), key
    after = model.generator.trainable_variables
    assert len(after) == len(before)
    changed = {v.path: float(np.max(np.abs(_np(v) - b))) for v, b in zip(after, before)}
    # Adam moves every weight with a nonzero gradient by about lr = 2e-4
    # per step; all kernels (convs, gates, residual blocks) get one.
    kernels = {p: d for p, d in changed.items() if p.endswith("kernel")}
    assert kernels and min(kernels.values()) > 1e-5, kernels
    if "attention" in name:
        g = model.generator
        n_gates = g.depth - 1
        gate = [p for p in kernels if "_att" in p]
        assert len(gate) == 3 * n_gates  # theta, phi, psi of each gate
        x, _ = tiny_arrays(n=2, size=32, seed=5)
        for i in range(n_gates):
            side = 32 // 2 ** (n_gates - i)
            coef = g.get_layer(f"generator_att{i}_coef")
            alpha = _np(keras.Model(g.input, coef.output)(x))
            assert alpha.shape == (2, side, side, 1)
            assert np.all((alpha >= 0.0) & (alpha <= 1.0))
    if name.startswith("resnet"):
        assert tuple(model.generator.output_shape) == (None, 32, 32, 3)


def test_variant_save_load_keras_identical_predict(trained, tmp_path):
    name, model, _, _ = trained
    x, _ = tiny_arrays(n=3, size=32, seed=6)
    path = os.fspath(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.generator) is type(model.generator)
    assert _dumps(loaded.generator.get_config()) == _dumps(model.generator.get_config())
    assert loaded.generator.count_params() == model.generator.count_params()
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_variant_export_serves_predict(trained, tmp_path):
    _, model, _, _ = trained
    x, _ = tiny_arrays(n=3, size=32, seed=7)
    served = tf.saved_model.load(model.export(os.fspath(tmp_path / "g")))
    np.testing.assert_allclose(
        served.serve(tf.constant(x)).numpy(),
        model.predict(x, verbose=0),
        atol=1e-5,
    )


def test_variant_config_round_trip(trained):
    _, model, _, _ = trained
    g = model.generator
    config = g.get_config()
    g2 = type(g).from_config(json.loads(_dumps(config)))
    assert _dumps(g2.get_config()) == _dumps(config)
    g2.set_weights(g.get_weights())
    x, _ = tiny_arrays(n=2, size=32, seed=8)
    np.testing.assert_array_equal(_np(g2(x, training=False)), _np(g(x, training=False)))

"""ResidualBlock and the down/up blocks (SPEC §2)."""

import json

import keras
import numpy as np
import pytest
from keras import layers
from keras import ops

import pix2pix_keras as pk
from pix2pix_keras.models.blocks import ResidualBlock
from pix2pix_keras.models.blocks import apply_downsample
from pix2pix_keras.models.blocks import apply_upsample


def _random(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _np_reflect_conv3x3(x, kernel, bias):
    """Reflection pad 1 then a 'valid' 3×3 conv, in float64 numpy."""
    x = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    n, h, w, _ = x.shape
    out = np.zeros((n, h - 2, w - 2, kernel.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            window = x[:, dy : dy + h - 2, dx : dx + w - 2]
            out += np.einsum("nhwc,cd->nhwd", window, kernel[dy, dx])
    return out + (0.0 if bias is None else bias)


def _block(norm="instance", channels=8, **kw):
    block = ResidualBlock(norm=norm, **kw)
    block.build((None, 6, 6, channels))
    return block


# ResidualBlock ---------------------------------------------------------------


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("shape", [(2, 8, 8, 16), (1, 6, 10, 3)])
def test_residual_block_keeps_shape(norm, shape):
    block = ResidualBlock(norm=norm)
    y = block(_random(shape), training=False)
    assert tuple(y.shape) == shape
    assert block.compute_output_shape(shape) == shape
    # Functional use: symbolic shapes with an unknown batch.
    inputs = keras.Input(shape[1:])
    assert tuple(ResidualBlock(norm=norm)(inputs).shape) == (None, *shape[1:])


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_residual_block_with_zero_convs_is_identity(norm):
    block = _block(norm=norm, channels=4)
    for conv in (block.conv1, block.conv2):
        conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    x = _random((2, 6, 6, 4), seed=1)
    np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=False)), x)


def test_residual_block_matches_numpy_reference():
    # norm="none": x + conv2(pad(relu(conv1(pad(x))))).
    block = _block(norm="none", channels=3)
    rng = np.random.default_rng(2)
    weights = [
        rng.normal(scale=0.3, size=w.shape).astype("float32")
        for w in block.get_weights()
    ]
    block.set_weights(weights)
    k1, b1 = block.conv1.get_weights()
    k2, b2 = block.conv2.get_weights()
    x = _random((2, 5, 7, 3), seed=3)
    h = np.maximum(_np_reflect_conv3x3(x.astype("float64"), k1, b1), 0.0)
    expected = x + _np_reflect_conv3x3(h, k2, b2)
    np.testing.assert_allclose(
        ops.convert_to_numpy(block(x)), expected, rtol=1e-5, atol=1e-5
    )


def test_residual_block_instance_norm_matches_numpy_reference():
    block = _block(norm="instance", channels=3)
    rng = np.random.default_rng(4)
    block.set_weights(
        [rng.normal(size=w.shape).astype("float32") for w in block.get_weights()]
    )
    k1, b1 = block.conv1.get_weights()
    k2, b2 = block.conv2.get_weights()

    def inorm(z):  # per sample and channel, biased variance, eps 1e-5
        mean = z.mean(axis=(1, 2), keepdims=True)
        var = z.var(axis=(1, 2), keepdims=True)
        return (z - mean) / np.sqrt(var + 1e-5)

    x = _random((2, 6, 6, 3), seed=5)
    h = np.maximum(inorm(_np_reflect_conv3x3(x.astype("float64"), k1, b1)), 0)
    expected = x + inorm(_np_reflect_conv3x3(h, k2, b2))
    np.testing.assert_allclose(
        ops.convert_to_numpy(block(x)), expected, rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("channels", [4, 16])
def test_residual_block_parameter_counts(channels):
    c = channels
    # Two 3×3 c→c convs with bias; the instance norm is affine-free.
    assert _block("instance", c).count_params() == 2 * (9 * c * c + c)
    assert _block("none", c).count_params() == 2 * (9 * c * c + c)
    # Under batch norm the convs lose their bias; each norm holds 4·c
    # (gamma, beta, moving mean, moving variance), 2·c of them trainable.
    block = _block("batch", c)
    assert block.count_params() == 2 * 9 * c * c + 2 * 4 * c
    trainable = sum(int(np.prod(w.shape)) for w in block.trainable_weights)
    assert trainable == 2 * 9 * c * c + 2 * 2 * c
    kernels = [tuple(conv.kernel.shape) for conv in (block.conv1, block.conv2)]
    assert kernels == [(3, 3, c, c)] * 2


def test_residual_block_dropout_only_in_training():
    block = _block(norm="none", channels=8, dropout=0.5)
    x = _random((2, 6, 6, 8), seed=6)
    a = ops.convert_to_numpy(block(x, training=False))
    np.testing.assert_array_equal(a, ops.convert_to_numpy(block(x, training=False)))
    b = ops.convert_to_numpy(block(x, training=True))
    c = ops.convert_to_numpy(block(x, training=True))
    assert np.mean(b != c) > 0.9
    assert np.mean(b != a) > 0.9
    # Dropout adds no parameters.
    assert block.count_params() == 2 * (9 * 64 + 8)


def test_residual_block_validation():
    with pytest.raises(ValueError, match="norm"):
        ResidualBlock(norm="layer")
    with pytest.raises(ValueError, match="channel"):
        ResidualBlock().build((None, 8, 8, None))


def _dumps(config):
    return json.dumps(config, sort_keys=True)


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_residual_block_config_round_trip(norm):
    block = ResidualBlock(norm=norm, dropout=0.25, name="res")
    config = block.get_config()
    assert config["norm"] == norm and config["dropout"] == 0.25
    clone = ResidualBlock.from_config(json.loads(_dumps(config)))
    assert _dumps(clone.get_config()) == _dumps(config)
    assert clone.name == "res"
    # Registered for serialization under the package name.
    assert (
        keras.saving.get_registered_name(ResidualBlock) == "pix2pix_keras>ResidualBlock"
    )
    x = _random((2, 6, 6, 4), seed=7)
    expected = ops.convert_to_numpy(block(x, training=False))
    clone.build(x.shape)
    clone.set_weights(block.get_weights())
    np.testing.assert_array_equal(
        ops.convert_to_numpy(clone(x, training=False)), expected
    )


def test_residual_block_saves_inside_functional_model(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = ResidualBlock(norm="instance", name="res_in")(x)
    x = ResidualBlock(norm="batch", dropout=0.5, name="res_bn")(x)
    model = keras.Model(inputs, x)
    # Non-trivial batch-norm statistics so that they must be restored too.
    bn = model.get_layer("res_bn").norm1
    bn.moving_mean.assign(_random((8,), seed=8))
    bn.moving_variance.assign(np.abs(_random((8,), seed=9)) + 0.5)
    data = _random((2, 8, 8, 3), seed=10)
    expected = ops.convert_to_numpy(model(data, training=False))

    path = str(tmp_path / "res.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("res_in"), ResidualBlock)
    assert loaded.get_layer("res_bn").norm == "batch"
    assert loaded.get_layer("res_bn").dropout == 0.5
    assert loaded.count_params() == model.count_params()
    for w_saved, w_loaded in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(w_saved), ops.convert_to_numpy(w_loaded)
        )
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(data, training=False)), expected, atol=1e-6
    )


def test_residual_block_exported_at_top_level():
    assert pk.ResidualBlock is ResidualBlock


# Down and up blocks ---------------------------------------------------------


def _functional(apply, input_shape, filters, **kw):
    """`apply(inputs, filters, **kw)` on a symbolic input: (output, model)."""
    inputs = keras.Input(input_shape)
    out = apply(inputs, filters, **kw)
    return out, keras.Model(inputs, out)


@pytest.mark.parametrize(
    "norm, normalize, params",
    [
        # 4×4×3×8 kernel; bias only without batch norm; BN 4·8.
        ("batch", True, 16 * 3 * 8 + 4 * 8),
        ("batch", False, 16 * 3 * 8),
        ("instance", True, 16 * 3 * 8 + 8),
        ("none", True, 16 * 3 * 8 + 8),
    ],
)
def test_apply_downsample(norm, normalize, params):
    out, model = _functional(
        apply_downsample, (16, 12, 3), 8, norm=norm, normalize=normalize, name="d"
    )
    assert tuple(out.shape) == (None, 8, 6, 8)
    assert model.count_params() == params
    assert model.get_layer("d_act").negative_slope == pytest.approx(0.2)


@pytest.mark.parametrize(
    "norm, dropout, params",
    [
        ("batch", 0.5, 16 * 6 * 4 + 4 * 4),
        ("instance", 0.0, 16 * 6 * 4 + 4),
        ("none", 0.0, 16 * 6 * 4 + 4),
    ],
)
def test_apply_upsample(norm, dropout, params):
    out, model = _functional(
        apply_upsample, (4, 5, 6), 4, norm=norm, dropout=dropout, name="u"
    )
    assert tuple(out.shape) == (None, 8, 10, 4)
    assert model.count_params() == params
    names = {layer.name for layer in model.layers}
    assert ("u_dropout" in names) == (dropout > 0)
    # ReLU output.
    y = ops.convert_to_numpy(model(_random((2, 4, 5, 6)), training=False))
    assert y.min() == 0.0 and y.max() > 0.0

"""`norm="instance"`: exact instance normalization, and the 1×1 bottleneck."""

import keras
import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras.models.blocks import make_norm


def numpy_instance_norm(x, eps=1e-5):
    """PyTorch InstanceNorm2d(affine=False): per image and channel."""
    x = x.astype("float64")
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)  # biased, as PyTorch
    return (x - mean) / np.sqrt(var + eps)


@pytest.mark.parametrize("shape", [(2, 8, 8, 4), (1, 16, 12, 3), (3, 2, 2, 5)])
def test_instance_norm_matches_numpy_reference(shape):
    rng = np.random.default_rng(0)
    # Offsets and scales differ per image and channel, as in real features.
    x = rng.normal(size=shape) * rng.uniform(
        0.1, 5, shape[:1] + (1, 1) + shape[3:]
    ) + rng.uniform(-3, 3, shape[:1] + (1, 1) + shape[3:])
    x = x.astype("float32")
    layer = make_norm("instance", "in")
    got = keras.ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(got, numpy_instance_norm(x), atol=1e-5)
    # No running statistics: training and inference are the same function.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(x, training=False)), got
    )
    assert layer.weights == []  # affine-free, as PyTorch's default


def test_instance_norm_epsilon_is_pytorch_default():
    """A constant channel maps to 0; a tiny-variance one is scaled by eps."""
    x = np.zeros((1, 4, 4, 2), "float32")
    x[..., 1] = np.tile([0.0, 1e-3], 8).reshape(4, 4)  # variance 2.5e-7
    got = keras.ops.convert_to_numpy(make_norm("instance", "in")(x))
    np.testing.assert_array_equal(got[..., 0], 0.0)
    want = (x[..., 1] - 5e-4) / np.sqrt(2.5e-7 + 1e-5)
    np.testing.assert_allclose(got[..., 1], want, rtol=1e-4)


def test_instance_norm_everywhere_in_generator_and_discriminator():
    g = pk.UNetGenerator(image_size=32, filters=8, norm="instance")
    d = pk.PatchDiscriminator(image_size=32, filters=8, n_layers=2, norm="instance")
    for model in (g, d):
        kinds = {type(layer).__name__ for layer in model.layers}
        assert "BatchNormalization" not in kinds
        assert "GroupNormalization" in kinds


def test_bottleneck_is_not_normalized_and_carries_information():
    """At 1×1, instance norm of the bottleneck would output exactly 0.

    The innermost down block is left unnormalized (SPEC §2), so two inputs
    give different bottlenecks; normalizing it would erase the difference.
    """
    g = pk.UNetGenerator(image_size=32, filters=8, norm="instance")
    inner = g.get_layer("generator_down4_act").output
    assert tuple(inner.shape[1:3]) == (1, 1)
    probe = keras.Model(g.input, inner)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    z = keras.ops.convert_to_numpy(probe(x))
    assert np.max(np.abs(z[0] - z[1])) > 1e-3
    # What a normalized 1×1 bottleneck would give: all zeros.
    normed = make_norm("instance", "probe")(z)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(normed), 0.0)
    # `normalize_innermost=True` (kept to reproduce classic networks) does
    # exactly that: the bottleneck is constant whatever the input.
    classic = pk.UNetGenerator(
        image_size=32, filters=8, norm="instance", normalize_innermost=True
    )
    probe = keras.Model(classic.input, classic.get_layer("generator_down4_norm").output)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(probe(x)), 0.0)

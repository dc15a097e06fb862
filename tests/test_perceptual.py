"""VGG19 perceptual loss and the L2 reconstruction loss (SPEC §4, §6).

No ImageNet download: the VGG19 here has random weights (`weights=None`)
or weights saved to a local file by a module fixture, so every loss built
from that file has the same network. Images are 32×32, batch 2.
"""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from pix2pix_keras import losses
from pix2pix_keras.losses import VGGPerceptualLoss

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
DEFAULT_LAYERS = (  # pix2pixHD's relu1_1 ... relu5_1
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
DEFAULT_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

_rng = np.random.default_rng(0)
TARGET = _rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
GENERATED = _rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")


def caffe_by_hand(images):
    """[-1, 1] RGB -> [0, 255] BGR minus the ImageNet mean, in float64."""
    x = (np.asarray(images, "float64") + 1.0) * 127.5
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x[..., ::-1] - CAFFE_MEAN_BGR


def truncated(vgg, layers):
    return keras.Model(vgg.input, [vgg.get_layer(n).output for n in layers])


def loss_by_hand(feature_model, layer_weights, target, generated, square=False):
    """Σ_i w_i · mean d(f_i(t), f_i(g)) from the feature model's outputs."""
    ft = feature_model(caffe_by_hand(target).astype("float32"))
    fg = feature_model(caffe_by_hand(generated).astype("float32"))
    ft, fg = (f if isinstance(f, list) else [f] for f in (ft, fg))
    total = 0.0
    for w, a, b in zip(layer_weights, ft, fg):
        d = np.asarray(a, "float64") - np.asarray(b, "float64")
        total += w * np.mean(d**2 if square else np.abs(d))
    return total


def _assert_scalar_f32(value):
    assert tuple(value.shape) == ()
    assert keras.backend.standardize_dtype(value.dtype) == "float32"


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A random VGG19 (no top) and the path of its saved weights."""
    keras.utils.set_random_seed(7)
    vgg = keras.applications.VGG19(
        include_top=False, weights=None, input_shape=(None, None, 3)
    )
    path = tmp_path_factory.mktemp("vgg") / "vgg19_random.weights.h5"
    vgg.save_weights(path)
    return vgg, str(path)


@pytest.fixture(scope="module")
def vgg_loss(vgg_file):
    """The default perceptual loss on the saved random VGG19, built once."""
    loss = VGGPerceptualLoss(weights=vgg_file[1])
    loss.build()
    return loss


# Preprocessing ---------------------------------------------------------


def test_preprocess_is_the_caffe_formula(vgg_loss):
    # One pixel per case, RGB in [-1, 1]:
    #   (-1, -1, -1) -> BGR (0, 0, 0) - mean
    #   ( 1,  1,  1) -> BGR (255, 255, 255) - mean
    #   ( 1,  0, -1) -> BGR (0, 127.5, 255) - mean
    #                 = (-103.939, 10.721, 131.32)
    pixels = np.array([[[[-1, -1, -1], [1, 1, 1], [1, 0, -1]]]], dtype="float32")
    x = ops.convert_to_numpy(vgg_loss.preprocess(pixels))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0], -CAFFE_MEAN_BGR, atol=1e-4)
    np.testing.assert_allclose(x[0, 0, 1], 255.0 - CAFFE_MEAN_BGR, atol=1e-4)
    np.testing.assert_allclose(x[0, 0, 2], [-103.939, 10.721, 131.32], atol=1e-4)
    np.testing.assert_allclose(
        ops.convert_to_numpy(vgg_loss.preprocess(TARGET)),
        caffe_by_hand(TARGET),
        atol=1e-4,
    )
    gray = TARGET[..., :1]
    np.testing.assert_allclose(
        ops.convert_to_numpy(vgg_loss.preprocess(gray)),
        caffe_by_hand(gray),
        atol=1e-4,
    )


# Values ----------------------------------------------------------------


def test_identical_images_give_exactly_zero(vgg_loss):
    value = vgg_loss(TARGET, TARGET)
    _assert_scalar_f32(value)
    assert float(value) == 0.0
    assert float(vgg_loss(TARGET, GENERATED)) > 0.0


def test_loss_equals_hand_computation_with_random_weights():
    keras.utils.set_random_seed(3)
    loss = VGGPerceptualLoss(weights=None)
    value = loss(TARGET, GENERATED)  # builds the VGG19 here
    _assert_scalar_f32(value)
    model = loss.feature_model
    # Frozen and truncated after block5_conv1: 2+2+4+4+1 = 13 convs, kernel
    # and bias each.
    assert len(model.weights) == 26 and model.trainable_weights == []
    assert [o.shape[-1] for o in model.outputs] == [64, 128, 256, 512, 512]
    expected = loss_by_hand(model, DEFAULT_WEIGHTS, TARGET, GENERATED)
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)

    # The same seed gives the same random VGG19 from keras.applications.
    keras.utils.set_random_seed(3)
    vgg = keras.applications.VGG19(
        include_top=False, weights=None, input_shape=(None, None, 3)
    )
    for a, b in zip(truncated(vgg, DEFAULT_LAYERS).weights, model.weights):
        np.testing.assert_array_equal(a, b)


def test_weights_file_loss_equals_hand_computation_on_its_model(vgg_file, vgg_loss):
    vgg, _ = vgg_file
    reference = truncated(vgg, DEFAULT_LAYERS)
    # Same network: the features are bit-identical to the saved model's.
    x = vgg_loss.preprocess(GENERATED)
    for mine, ref in zip(vgg_loss.features(GENERATED), reference(x)):
        np.testing.assert_array_equal(mine, ref)
    expected = loss_by_hand(reference, DEFAULT_WEIGHTS, TARGET, GENERATED)
    np.testing.assert_allclose(float(vgg_loss(TARGET, GENERATED)), expected, rtol=1e-5)


def test_layer_selection_and_weights_follow_the_formula(vgg_file, vgg_loss):
    path = vgg_file[1]
    two = ("block1_conv2", "block3_conv4")

    def value(layer_weights, layers=two):
        loss = VGGPerceptualLoss(layers, layer_weights, weights=path)
        return float(loss(TARGET, GENERATED)), loss

    first, loss = value((1.0, 0.0))
    # Truncated after block3_conv4: 8 convs.
    assert len(loss.feature_model.weights) == 16
    second, _ = value((0.0, 1.0))
    mixed, _ = value((2.0, 0.5))
    alone, alone_loss = value((1.0,), layers=("block1_conv2",))
    assert len(alone_loss.feature_model.weights) == 4
    assert first > 0 and second > 0
    np.testing.assert_allclose(2 * first + 0.5 * second, mixed, rtol=1e-6)
    assert alone == first
    expected = loss_by_hand(truncated(vgg_file[0], two), (2.0, 0.5), TARGET, GENERATED)
    np.testing.assert_allclose(mixed, expected, rtol=1e-5)


def test_l2_distance_is_the_mean_squared_feature_difference(vgg_file):
    vgg, path = vgg_file
    layers, weights = ("block2_conv2", "block4_conv4"), (0.5, 2.0)
    loss = VGGPerceptualLoss(layers, weights, weights=path, distance="l2")
    expected = loss_by_hand(
        truncated(vgg, layers), weights, TARGET, GENERATED, square=True
    )
    np.testing.assert_allclose(float(loss(TARGET, GENERATED)), expected, rtol=1e-5)
    assert float(loss(GENERATED, GENERATED)) == 0.0


def test_grayscale_equals_the_repeated_three_channel_image(vgg_loss):
    t, g = TARGET[..., :1], GENERATED[..., 1:2]
    rgb = float(vgg_loss(np.repeat(t, 3, -1), np.repeat(g, 3, -1)))
    assert float(vgg_loss(t, g)) == rgb
    assert rgb > 0


def test_resize_resizes_before_vgg(vgg_file, vgg_loss):
    path = vgg_file[1]
    same = VGGPerceptualLoss(weights=path, resize=(32, 32))
    # Bilinear resizing to the same size is the identity.
    assert float(same(TARGET, GENERATED)) == float(vgg_loss(TARGET, GENERATED))
    up = VGGPerceptualLoss(weights=path, resize=(48, 40))
    pre = [tf.image.resize(x, (48, 40)) for x in (TARGET, GENERATED)]
    np.testing.assert_allclose(
        float(up(TARGET, GENERATED)), float(vgg_loss(*pre)), rtol=1e-5
    )
    # Resizing lifts the minimum input size (16 px for block5).
    small = TARGET[:, :8, :8], GENERATED[:, :8, :8]
    with pytest.raises(ValueError, match="images"):
        vgg_loss(*small)
    assert float(up(*small)) > 0


# Gradients and tracking -------------------------------------------------


def test_gradients_flow_to_generated_only(vgg_loss):
    target = tf.constant(TARGET)
    generated = tf.Variable(GENERATED)
    model = vgg_loss.feature_model
    with tf.GradientTape() as tape:
        tape.watch(target)
        value = vgg_loss(target, generated)
    grad_t, grad_g, *grad_w = tape.gradient(value, [target, generated] + model.weights)
    assert grad_t is None
    grad_g = ops.convert_to_numpy(grad_g)
    assert grad_g.shape == GENERATED.shape
    assert np.all(np.isfinite(grad_g)) and np.abs(grad_g).max() > 0
    # Frozen network: nothing for an optimizer to update.
    assert model.trainable_weights == []
    assert len(model.non_trainable_weights) == 26  # 13 convs
    before = [w.copy() for w in model.get_weights()]
    opt = keras.optimizers.SGD(1.0)
    opt.apply([tf.convert_to_tensor(grad_g)], [generated])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_model_holding_the_loss_does_not_track_its_vgg(vgg_loss, tmp_path):
    class Holder(keras.Model):
        def __init__(self, perceptual, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)
            self.perceptual = perceptual

        def call(self, x):
            return self.dense(x)

    holder = Holder(vgg_loss)
    holder(np.zeros((1, 4), "float32"))
    assert len(holder.weights) == 2 and len(holder.trainable_weights) == 2
    path = tmp_path / "holder.weights.h5"
    holder.save_weights(path)
    # Only the Dense kernel and bias (a VGG19 up to block5 is 80 MB).
    assert path.stat().st_size < 100_000


def test_first_call_inside_tf_function_builds_eagerly(vgg_file, vgg_loss):
    loss = VGGPerceptualLoss(weights=vgg_file[1])
    traced = tf.function(lambda t, g: loss(t, g))
    value = float(traced(TARGET, GENERATED))
    np.testing.assert_allclose(value, float(vgg_loss(TARGET, GENERATED)), rtol=1e-6)
    # The weights were loaded eagerly, not as ops of the traced graph.
    for a, b in zip(loss.feature_model.weights, vgg_loss.feature_model.weights):
        np.testing.assert_array_equal(a, b)
    assert float(traced(TARGET, TARGET)) == 0.0


# Configuration ----------------------------------------------------------


def test_config_round_trip_reproduces_the_value(vgg_file, vgg_loss):
    config = vgg_loss.get_config()
    assert config == {
        "layers": list(DEFAULT_LAYERS),
        "layer_weights": list(DEFAULT_WEIGHTS),
        "weights": vgg_file[1],
        "distance": "l1",
        "resize": None,
    }
    restored = VGGPerceptualLoss.from_config(json.loads(json.dumps(config)))
    assert restored.get_config() == config
    assert float(restored(TARGET, GENERATED)) == float(vgg_loss(TARGET, GENERATED))
    # Through Keras's own serialization (registered as pix2pix_keras>...).
    serialized = keras.saving.serialize_keras_object(
        VGGPerceptualLoss(weights=None, distance="l2", resize=(64, 48))
    )
    assert serialized["registered_name"] == "pix2pix_keras>VGGPerceptualLoss"
    again = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert isinstance(again, VGGPerceptualLoss)
    assert again.get_config() == {
        "layers": list(DEFAULT_LAYERS),
        "layer_weights": list(DEFAULT_WEIGHTS),
        "weights": None,
        "distance": "l2",
        "resize": [64, 48],
    }


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(layers=("block1_conv2", "fc1")), ValueError, "layers"),
        (dict(layers=()), ValueError, "layers"),
        (dict(layer_weights=(1.0, 1.0)), ValueError, "layer_weights"),
        (dict(layer_weights=(1, 1, 1, 1, -1)), ValueError, "layer_weights"),
        (dict(layer_weights=(1, 1, 1, 1, "x")), ValueError, "layer_weights"),
        (dict(distance="cosine"), ValueError, "distance"),
        (dict(resize=(8, 8)), ValueError, "resize"),
        (dict(resize=(32,)), ValueError, "resize"),
        (dict(resize=224), ValueError, "resize"),
        (dict(resize=(32.0, 32)), ValueError, "resize"),
        (dict(weights="vgg19.bin"), ValueError, "weights"),
        (dict(weights=3), ValueError, "weights"),
        (dict(weights="missing.weights.h5"), FileNotFoundError, "weights"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, name):
    kwargs.setdefault("weights", None)
    with pytest.raises(error, match=f"`{name}`") as info:
        VGGPerceptualLoss(**kwargs)
    assert repr(kwargs[name])[:20] in str(info.value)


def test_unknown_layer_error_lists_the_valid_names():
    with pytest.raises(ValueError, match="block5_conv4") as info:
        VGGPerceptualLoss(layers=("block6_conv1",), layer_weights=(1,))
    assert all(n in str(info.value) for n in losses.VGG19_LAYERS)
    assert len(losses.VGG19_LAYERS) == 21
    single = VGGPerceptualLoss("block2_pool", (1,), weights=None)
    assert single.layers == ("block2_pool",)
    hd = VGGPerceptualLoss(losses.PIX2PIXHD_LAYERS, weights=None)
    assert hd.layers == tuple(f"block{i}_conv1" for i in range(1, 6))


def test_bad_images_are_rejected_before_building():
    loss = VGGPerceptualLoss(weights=None)
    with pytest.raises(ValueError, match="same shape"):
        loss(TARGET, GENERATED[:1])
    with pytest.raises(ValueError, match="1 or 3"):
        loss(TARGET[..., :2], GENERATED[..., :2])
    with pytest.raises(ValueError, match="16×16"):
        loss(TARGET[:, :8, :8], GENERATED[:, :8, :8])
    assert loss._feature_model is None


def test_imagenet_download_failure_explains_the_offline_options(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    loss = VGGPerceptualLoss(("block1_conv2",), (1.0,))
    assert loss.weights == "imagenet"
    with pytest.raises(RuntimeError, match="no internet") as info:
        loss.build()
    message = str(info.value)
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "weights=None" in message and "no network" in message


# L2 reconstruction ------------------------------------------------------


def test_l2_loss_hand_and_numpy_values():
    target = np.zeros((1, 2, 2, 1), "float32")
    generated = np.array([[[[1.0], [-2.0]], [[0.5], [0.0]]]], "float32")
    # (1 + 4 + 0.25 + 0) / 4 = 1.3125
    value = losses.l2_loss(target, generated)
    _assert_scalar_f32(value)
    assert float(value) == 1.3125
    np.testing.assert_allclose(
        float(losses.l2_loss(TARGET, GENERATED)),
        np.mean((TARGET.astype("float64") - GENERATED) ** 2),
        rtol=1e-6,
    )
    assert float(losses.l2_loss(TARGET, TARGET)) == 0.0
    half = losses.l2_loss(generated.astype("float16"), target)
    _assert_scalar_f32(half)
    assert float(half) == 1.3125


def test_get_reconstruction_loss():
    assert losses.get_reconstruction_loss("l1") is losses.l1_loss
    assert losses.get_reconstruction_loss("l2") is losses.l2_loss
    assert losses.RECONSTRUCTION_LOSSES == ("l1", "l2")


@pytest.mark.parametrize("name", ["L1", "mse", "vgg", None])
def test_get_reconstruction_loss_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="reconstruction") as info:
        losses.get_reconstruction_loss(name)
    assert repr(name) in str(info.value)

"""Building blocks shared by the generators and discriminators.

Every block follows the pix2pix conventions of Isola et al. (2017,
https://arxiv.org/abs/1611.07004): 4×4 kernels, weights drawn from
N(0, 0.02), and a choice of batch, instance or no normalization.
"""

import contextlib
import inspect

import keras
from keras import layers
from keras import ops

from pix2pix_keras._compat import flatten_layers
from pix2pix_keras.utils import check_config_keys

__all__ = [
    "BatchNormalization",
    "ConcatLatent",
    "INFERENCE_STATISTICS",
    "LatentNoise",
    "NORMS",
    "NoiseDropout",
    "ReflectionPadding2D",
    "ResidualBlock",
    "apply_attention_gate",
    "apply_downsample",
    "apply_upsample",
    "conv_initializer",
    "dtype_policy_scope",
    "make_norm",
    "set_inference_statistics",
    "set_layer_option",
    "uses_bias",
    "validate_inference_statistics",
    "validate_norm",
]

NORMS = ("batch", "instance", "none")
INFERENCE_STATISTICS = ("image", "moving")


def conv_initializer():
    """Returns the N(0, 0.02) kernel initializer of the pix2pix paper."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def validate_norm(norm, arg_name="norm"):
    """Raises a `ValueError` unless `norm` is one of `NORMS`."""
    if norm not in NORMS:
        raise ValueError(
            f"`{arg_name}` must be one of {NORMS}. Received: {arg_name}={norm!r}"
        )
    return norm


def uses_bias(norm):
    """Whether a convolution followed by `norm` needs its own bias.

    Batch norm has a learned offset, so the convolution before it drops its
    bias (as both the TensorFlow tutorial and the PyTorch reference do).
    Instance norm here is affine-free (PyTorch's `InstanceNorm2d` default),
    so the convolution keeps its bias.
    """
    return norm != "batch"


def make_norm(norm, name):
    """Creates the normalization layer for `norm`, or `None` for `"none"`.

    Batch norm uses momentum 0.9 in Keras terms (PyTorch's `momentum=0.1`):
    with batch size 1 the per-image statistics vary a lot, and the moving
    averages must follow the late training steps closely for inference to
    match training (see `docs/inference.md`).

    Args:
        norm: str. One of `"batch"`, `"instance"` or `"none"`.
        name: str. Layer name.

    Returns:
        A Keras layer, or `None`.
    """
    validate_norm(norm)
    if norm == "batch":
        # Momentum and epsilon of PyTorch's BatchNorm2d, gamma ~ N(1, 0.02)
        # as in the reference's init_weights().
        return BatchNormalization(
            momentum=0.9,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
            name=name,
        )
    if norm == "instance":
        # GroupNormalization with one group per channel is exactly instance
        # norm (1e-5 of a float64 reference) and as fast as a hand-written
        # moments version (benchmarks/instance_norm.py: 0.88-1.07x), with no
        # custom layer to serialize. Epsilon must be set (the default 1e-3
        # differs from PyTorch's 1e-5).
        return layers.GroupNormalization(
            groups=-1, epsilon=1e-5, center=False, scale=False, name=name
        )
    return None


def validate_inference_statistics(value, arg_name="inference_statistics"):
    """Raises a `ValueError` unless `value` is one of
    `INFERENCE_STATISTICS`."""
    if value not in INFERENCE_STATISTICS:
        raise ValueError(
            f"`{arg_name}` must be one of {INFERENCE_STATISTICS}. Received: "
            f"{arg_name}={value!r}"
        )
    return value


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class BatchNormalization(layers.BatchNormalization):
    """Batch normalization that can normalize each image by its own
    statistics at inference.

    In training it is `keras.layers.BatchNormalization`: it normalizes with
    the statistics of the batch and updates the moving averages. At
    inference (`training=False`, or a frozen layer) the choice is:

    - `inference_statistics="moving"`: the moving averages, as Keras does;
    - `inference_statistics="image"`: the mean and variance of each image
      over its height and width, channel by channel (instance norm with the
      layer's learned scale and offset). A network trained with batch
      size 1 saw exactly these statistics in training, so inference then
      computes the function that was trained, whatever the moving averages
      hold; and an image's output does not depend on the rest of its batch.
      This is the pix2pix paper's test-time rule ("batch normalization
      using the statistics of the test batch" at batch size 1).

    The moving averages are updated in training either way, so the choice
    can be changed on a trained layer. It is part of the config.

    Args:
        inference_statistics: str. `"image"` or `"moving"`. Defaults to
            `"moving"` (Keras' behaviour).
        **kwargs: `keras.layers.BatchNormalization` arguments.

    Example:
    >>> x = keras.random.normal((2, 4, 4, 3), seed=1)
    >>> bn = BatchNormalization(inference_statistics="image")
    >>> y = bn(x, training=False)
    >>> alone = bn(x[:1], training=False)
    >>> bool(keras.ops.max(keras.ops.abs(y[:1] - alone)) < 1e-6)
    True
    >>> print(round(float(keras.ops.mean(y[1])), 4))
    0.0
    """

    def __init__(self, inference_statistics="moving", **kwargs):
        super().__init__(**kwargs)
        self.inference_statistics = validate_inference_statistics(inference_statistics)

    def call(self, inputs, training=None, mask=None):
        if (
            self.inference_statistics == "moving"
            or (training and self.trainable)
            or mask is not None
        ):
            return super().call(inputs, training=training, mask=mask)
        dtype = inputs.dtype
        if dtype in ("float16", "bfloat16"):
            dtype = "float32"  # statistics in float32, as Keras does
        x = ops.cast(inputs, dtype)
        rank = len(x.shape)
        axis = self.axis % rank
        mean, variance = ops.moments(
            x, [i for i in range(1, rank) if i != axis], keepdims=True
        )
        shape = [1] * rank
        shape[axis] = x.shape[axis]
        gamma = beta = None
        if self.gamma is not None:
            gamma = ops.reshape(ops.cast(self.gamma, dtype), shape)
        if self.beta is not None:
            beta = ops.reshape(ops.cast(self.beta, dtype), shape)
        # Broadcasting `(batch, 1, 1, c)` statistics: the same op as training.
        outputs = ops.batch_normalization(
            x,
            mean,
            variance,
            axis=-1,
            offset=beta,
            scale=gamma,
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["inference_statistics"] = self.inference_statistics
        return config


def set_layer_option(model, layer_class, attribute, value):
    """Sets `attribute = value` on every `layer_class` layer of `model`
    (nested ones and `model` itself included) and drops its cached
    `predict()` function, which was traced with the old setting.

    The one loop behind `set_inference_statistics` and
    `set_inference_dropout`. Returns `value`.
    """
    for layer in flatten_layers(model, include_self=True):
        if isinstance(layer, layer_class):
            setattr(layer, attribute, value)
    if getattr(model, "predict_function", None) is not None:
        model.predict_function = None
    return value


def set_inference_statistics(model, value):
    """Sets `inference_statistics` on every package `BatchNormalization`
    layer of `model` (nested ones included).

    Args:
        model: `keras.Model` or layer.
        value: str. `"image"` or `"moving"`.

    Returns:
        str. `value`.
    """
    validate_inference_statistics(value)
    return set_layer_option(model, BatchNormalization, "inference_statistics", value)


def _apply_norm(x, norm, name):
    """`x` through a new `make_norm(norm, name)` layer (as is for "none")."""
    norm_layer = make_norm(norm, name)
    return x if norm_layer is None else norm_layer(x)


def _constructor_args(init, last=()):
    """The argument names of a network constructor, in signature order.

    Args:
        init: function. The `__init__` of a network.
        last: tuple of str. Names to move to the end, in this order.
            Defaults to `()`.

    Returns:
        tuple of str: every named parameter but `self` and `name`.
    """
    params = inspect.signature(init).parameters.values()
    names = [
        p.name
        for p in params
        if p.name not in ("self", "name", *last)
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return (*names, *last)


class _ConfigMixin:
    """Config plumbing shared by the package's networks (private mixin).

    Subclasses list their constructor arguments in `_config_keys` (plain
    attributes or properties; most take them from the signature with
    `_constructor_args(__init__)`) and set them after building, most with
    `_record_config(...)`; `get_config` returns them after the name and
    `trainable`, and `from_config` refuses unknown keys.
    """

    _config_keys = ()

    def _record_config(self, **values):
        """Sets each keyword as an attribute of the same name."""
        for key, value in values.items():
            setattr(self, key, value)

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            **{key: getattr(self, key) for key in self._config_keys},
        }
        # A network built under a mixed policy (e.g. "mixed_bfloat16")
        # records it, so that loading builds it the same way; float32
        # networks keep the config they always had.
        policy = self.dtype_policy.name
        if policy != "float32":
            config["dtype"] = policy
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        dtype = config.pop("dtype", None)
        check_config_keys(cls, config)
        with dtype_policy_scope(dtype):
            return cls(**config)


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Builds layers under the Keras dtype `policy`, then restores the old one.

    Args:
        policy: str or `None`. A dtype policy name such as
            `"mixed_bfloat16"`; `None` keeps the current policy.
    """
    if policy is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _stride2_conv(conv, x, filters, norm, name):
    """The 4×4 stride-2 convolution (`conv`: `Conv2D` or `Conv2DTranspose`)
    of the down and up blocks, biased only without a normalization."""
    return conv(
        filters,
        4,
        strides=2,
        padding="same",
        use_bias=uses_bias(norm),
        kernel_initializer=conv_initializer(),
        name=f"{name}_conv",
    )(x)


def apply_downsample(x, filters, *, norm="batch", normalize=True, name):
    """Conv 4×4 stride 2 → norm → LeakyReLU(0.2), the U-Net down block.

    Args:
        x: symbolic tensor `(batch, h, w, c)`.
        filters: int. Output channels.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        normalize: bool. Whether to normalize (the first and the innermost
            blocks do not). Defaults to `True`.
        name: str. Prefix of the layer names.

    Returns:
        Symbolic tensor `(batch, h / 2, w / 2, filters)`.
    """
    x = _stride2_conv(layers.Conv2D, x, filters, norm, name)
    if normalize:
        x = _apply_norm(x, norm, f"{name}_norm")
    return layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act")(x)


def apply_upsample(x, filters, *, norm="batch", dropout=0.0, name):
    """ConvTranspose 4×4 stride 2 → norm → Dropout → ReLU, the up block.

    Args:
        x: symbolic tensor `(batch, h, w, c)`.
        filters: int. Output channels.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        dropout: float. Dropout rate; `0` adds no dropout layer. Defaults
            to `0.0`.
        name: str. Prefix of the layer names.

    Returns:
        Symbolic tensor `(batch, 2h, 2w, filters)`.
    """
    x = _stride2_conv(layers.Conv2DTranspose, x, filters, norm, name)
    x = _apply_norm(x, norm, f"{name}_norm")
    if dropout > 0:
        x = NoiseDropout(dropout, name=f"{name}_dropout")(x)
    return layers.ReLU(name=f"{name}_act")(x)


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class NoiseDropout(layers.Dropout):
    """Dropout that can stay on at inference, as the generator's noise.

    The pix2pix generator gets its only noise from dropout, which the paper
    applies "at both training and test time". `keras.layers.Dropout` is off
    whenever `training=False` (`predict()`, `model(x)`, a SavedModel); this
    layer also drops when `at_inference=True`, so inference can sample
    diverse outputs on request while everything else (batch norm moving
    statistics) stays in inference mode. The flag is part of the config,
    so it is saved with the model and carried into an export.

    Args:
        rate: float in [0, 1). Fraction of the units to drop.
        at_inference: bool. Also drop when `training=False`. Defaults to
            `False` (deterministic inference).
        **kwargs: `keras.layers.Dropout` arguments (`seed`, `name`, ...).

    Example:
    >>> layer = NoiseDropout(0.5, at_inference=True, seed=1)
    >>> y = layer(keras.ops.ones((1, 1000)))
    >>> 0.3 < float(keras.ops.mean(keras.ops.equal(y, 0.0))) < 0.7
    True
    """

    def __init__(self, rate, at_inference=False, **kwargs):
        super().__init__(rate, **kwargs)
        self.at_inference = bool(at_inference)

    def call(self, inputs, training=False):
        if self.at_inference:
            training = True
        return super().call(inputs, training=training)

    def get_config(self):
        config = super().get_config()
        config["at_inference"] = self.at_inference
        return config


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class ResidualBlock(layers.Layer):
    """Residual block: two 3×3 convolutions with reflection padding.

    `x + norm(conv(pad(relu(norm(conv(pad(x)))))))`, the block of the
    ResNet generator of Johnson et al. (2016) used by CycleGAN and
    pix2pixHD (https://arxiv.org/abs/1711.11585). The output has the same
    shape as the input.

    Args:
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"instance"`.
        dropout: float. Dropout between the two convolutions. Defaults to
            `0.0`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:
    >>> block = ResidualBlock(norm="instance")
    >>> tuple(block(keras.ops.zeros((1, 8, 8, 16))).shape)
    (1, 8, 8, 16)
    """

    def __init__(self, norm="instance", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.norm = validate_norm(norm)
        self.dropout = float(dropout)
        self.conv1 = None
        self.conv2 = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "ResidualBlock needs a known channel count. Received "
                f"input_shape={input_shape}"
            )
        conv_kw = dict(
            kernel_size=3,
            padding="valid",
            use_bias=uses_bias(self.norm),
            kernel_initializer=conv_initializer(),
        )
        self.conv1 = layers.Conv2D(channels, name="conv1", **conv_kw)
        self.conv2 = layers.Conv2D(channels, name="conv2", **conv_kw)
        self.norm1 = make_norm(self.norm, "norm1")
        self.norm2 = make_norm(self.norm, "norm2")
        self.drop = (
            NoiseDropout(self.dropout, name="dropout") if self.dropout > 0 else None
        )
        shape = tuple(input_shape)
        # The convolutions see the reflection-padded input (2 px larger).
        padded = (
            shape[:1]
            + tuple(None if d is None else d + 2 for d in shape[1:3])
            + shape[3:]
        )
        self.conv1.build(padded)
        self.conv2.build(padded)
        for layer in (self.norm1, self.norm2):
            if layer is not None:
                layer.build(shape)
        super().build(input_shape)

    @staticmethod
    def _reflect(x):
        return ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")

    def call(self, inputs, training=False):
        x = self.conv1(self._reflect(inputs))
        if self.norm1 is not None:
            x = self.norm1(x, training=training)
        x = ops.relu(x)
        if self.drop is not None:
            x = self.drop(x, training=training)
        x = self.conv2(self._reflect(x))
        if self.norm2 is not None:
            x = self.norm2(x, training=training)
        return inputs + x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(norm=self.norm, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring the border (PyTorch's
    `ReflectionPad2d`), as the ResNet generator does before its 7×7
    convolutions.

    The border pixel is not repeated: `[1, 2, 3]` padded by 2 becomes
    `[3, 2, 1, 2, 3, 2, 1]`. Each padding must be smaller than the side it
    pads.

    Args:
        padding: int or `(pad_h, pad_w)`. Pixels added on each side.
            Defaults to `1`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:
    >>> y = ReflectionPadding2D(3)(keras.ops.zeros((1, 8, 8, 2)))
    >>> tuple(y.shape)
    (1, 14, 14, 2)
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (padding, padding)
        pad_h, pad_w = (int(p) for p in padding)
        if pad_h < 0 or pad_w < 0:
            raise ValueError(
                f"`padding` must be >= 0. Received: padding={(pad_h, pad_w)!r}"
            )
        self.padding = (pad_h, pad_w)

    def call(self, inputs):
        pad_h, pad_w = self.padding
        return ops.pad(
            inputs,
            [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]],
            mode="reflect",
        )

    def compute_output_shape(self, input_shape):
        pad_h, pad_w = self.padding
        b, h, w, c = input_shape
        return (
            b,
            None if h is None else h + 2 * pad_h,
            None if w is None else w + 2 * pad_w,
            c,
        )

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


def apply_attention_gate(x, g, *, inter_channels=None, name):
    """Additive attention gate on a skip connection (Attention U-Net).

    Oktay et al. 2018, https://arxiv.org/abs/1804.03999:
    `alpha = sigmoid(psi(relu(theta(x) + phi(g))))` and the gated skip is
    `x * alpha`. `theta`, `phi` and `psi` are 1×1 convolutions to
    `inter_channels`, `inter_channels` and 1 channels; `theta` has no bias
    (`phi`'s bias is the additive offset, as in the paper's `b_g`), `phi`
    and `psi` have one. Here the gating signal `g` has the resolution of
    `x` already (the U-Net's up block output), so no resampling is needed.

    Parameters: `F·(C_x + C_g + 2) + 1` for `F = inter_channels`.

    Layers: `{name}_theta`, `{name}_phi`, `{name}_add`, `{name}_relu`,
    `{name}_psi`, `{name}_coef` (the coefficients `alpha`, shape
    `(batch, h, w, 1)`, in [0, 1]) and `{name}_gate`.

    Args:
        x: symbolic tensor `(batch, h, w, C_x)`. The skip features.
        g: symbolic tensor `(batch, h, w, C_g)`. The gating signal.
        inter_channels: int or `None`. `F`, the width of the joint
            feature space; `None` takes `max(1, C_x // 2)`. Defaults to
            `None`.
        name: str. Prefix of the layer names.

    Returns:
        Symbolic tensor `(batch, h, w, C_x)`: `x` times the coefficients.
    """
    if inter_channels is None:
        inter_channels = max(1, int(x.shape[-1]) // 2)
    theta = layers.Conv2D(
        inter_channels,
        1,
        use_bias=False,
        kernel_initializer=conv_initializer(),
        name=f"{name}_theta",
    )(x)
    phi = layers.Conv2D(
        inter_channels,
        1,
        kernel_initializer=conv_initializer(),
        name=f"{name}_phi",
    )(g)
    q = layers.Add(name=f"{name}_add")([theta, phi])
    q = layers.ReLU(name=f"{name}_relu")(q)
    psi = layers.Conv2D(
        1, 1, kernel_initializer=conv_initializer(), name=f"{name}_psi"
    )(q)
    alpha = layers.Activation("sigmoid", name=f"{name}_coef")(psi)
    return layers.Multiply(name=f"{name}_gate")([x, alpha])


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class LatentNoise(layers.Layer):
    """Samples a latent code `z ~ N(0, I)` for every image of a batch.

    The generators' noise source when `latent_dim > 0` and no `z` is given
    (see `UNetGenerator`). The draws come from the layer's own
    `keras.random.SeedGenerator`, so they work inside `tf.function`, under
    XLA and in a SavedModel (each call advances the generator's state and
    gives new codes).

    Args:
        latent_dim: int >= 1. Size of `z`.
        seed: int or `None`. Seed of the generator; `None` draws one from
            the global seed (`keras.utils.set_random_seed`). Defaults to
            `None`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:
    >>> z = LatentNoise(8, seed=1)(keras.ops.zeros((2, 32, 32, 3)))
    >>> tuple(z.shape)
    (2, 8)
    """

    def __init__(self, latent_dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(latent_dim, bool)
            or not isinstance(latent_dim, int)
            or latent_dim < 1
        ):
            raise ValueError(
                f"`latent_dim` must be an int >= 1. Received: latent_dim={latent_dim!r}"
            )
        self.latent_dim = latent_dim
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        return keras.random.normal(
            (batch, self.latent_dim),
            seed=self.seed_generator,
            dtype=self.compute_dtype,
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.latent_dim)

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class ConcatLatent(layers.Layer):
    """Tiles a latent code over the image plane and appends it as channels.

    `[x, z]` with `x` of shape `(batch, h, w, c)` and `z` of shape
    `(batch, latent_dim)` gives `(batch, h, w, c + latent_dim)`: every pixel
    gets the same `z` (BicycleGAN's "add_to_input", Zhu et al. 2017,
    https://arxiv.org/abs/1711.11586). `h` and `w` are read at call time,
    so the layer works at any image size.

    Example:
    >>> y = ConcatLatent()([keras.ops.zeros((2, 8, 8, 3)),
    ...                     keras.ops.ones((2, 4))])
    >>> tuple(y.shape), float(y[0, 5, 7, 3])
    ((2, 8, 8, 7), 1.0)
    """

    def call(self, inputs):
        x, z = inputs
        z = ops.cast(z, x.dtype)
        shape = ops.shape(x)
        z = ops.broadcast_to(
            z[:, None, None, :], (shape[0], shape[1], shape[2], z.shape[-1])
        )
        return ops.concatenate([x, z], axis=-1)

    def compute_output_shape(self, input_shape):
        x_shape, z_shape = input_shape
        channels = (
            None if None in (x_shape[-1], z_shape[-1]) else x_shape[-1] + z_shape[-1]
        )
        return tuple(x_shape[:-1]) + (channels,)

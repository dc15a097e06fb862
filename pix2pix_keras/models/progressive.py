"""Progressive growing for high resolutions (ProGAN / pix2pixHD style).

Train at a small size, then double the size with new outer layers that
fade in, keeping every trained weight (Karras et al. 2018,
https://arxiv.org/abs/1710.10196; Wang et al. 2018,
https://arxiv.org/abs/1711.11585 grow pix2pixHD's generator the same way,
coarse to fine):

- `ProgressiveUNetGenerator` and `ProgressivePatchDiscriminator`: networks
  at stage `s` (size `base · 2**s`), optionally fading in their outermost
  stage with a weight `alpha`;
- `grow(model)`: a new `Pix2Pix` at twice the size, every existing layer's
  weights copied, fading in from `alpha = 0`;
- `FadeIn(fade_steps)`: the callback that moves `alpha` from 0 to 1;
- `stabilize(model)`: drops the fade-in branch once `alpha = 1`;
- `train_progressive(model, datasets, epochs, fade_steps)`: one `fit()`
  per size, growing in between.

Keras `fit()` cannot swap the model it trains, so growing happens between
`fit()` calls (`train_progressive`), not inside a callback.
"""

import collections.abc

import keras
import tensorflow as tf
from keras import layers
from keras import ops

from pix2pix_keras._compat import flatten_layers
from pix2pix_keras.models.blocks import _ConfigMixin
from pix2pix_keras.models.blocks import apply_downsample
from pix2pix_keras.models.blocks import apply_upsample
from pix2pix_keras.models.blocks import conv_initializer
from pix2pix_keras.models.blocks import validate_norm
from pix2pix_keras.models.discriminator import _SingleScaleDiscriminator
from pix2pix_keras.models.discriminator import _check_args
from pix2pix_keras.models.discriminator import _pair_inputs
from pix2pix_keras.models.discriminator import _patchgan
from pix2pix_keras.models.discriminator import receptive_field
from pix2pix_keras.models.generator import InferenceDropoutMixin
from pix2pix_keras.models.generator import InferenceStatisticsMixin
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.models.generator import _resolve_depth
from pix2pix_keras.models.generator import _set_bn_momentum
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_number


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class Fade(layers.Layer):
    """Blends a new path with an old one: `alpha · new + (1 − alpha) · old`.

    The fade-in of progressive growing (Karras et al. 2018,
    https://arxiv.org/abs/1710.10196). `alpha` is a non-trainable scalar
    weight, so a callback (`FadeIn`) can move it between steps without
    retracing the train step, and `.keras` files save it. At `alpha = 0`
    the output is exactly `old`, at `alpha = 1` exactly `new`.

    Args:
        alpha: float in [0, 1]. Initial weight of the new path. Defaults
            to `0.0`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:
    >>> fade = Fade(0.25)
    >>> new, old = keras.ops.ones((1, 2)), keras.ops.zeros((1, 2))
    >>> keras.ops.convert_to_numpy(fade([new, old])).tolist()
    [[0.25, 0.25]]
    """

    def __init__(self, alpha=0.0, **kwargs):
        super().__init__(**kwargs)
        alpha = check_number("alpha", alpha, low=0.0, high=1.0)
        self.alpha = self.add_weight(
            shape=(),
            dtype="float32",
            initializer=keras.initializers.Constant(alpha),
            trainable=False,
            name="alpha",
        )
        self.built = True

    def call(self, inputs):
        new, old = inputs
        a = ops.cast(self.alpha, new.dtype)
        return a * new + (1.0 - a) * ops.cast(old, new.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config["alpha"] = float(ops.convert_to_numpy(self.alpha))
        return config


def _stage_args(image_size, stage, alpha):
    """`(image size, base size, alpha)`, base size `image_size / 2**stage`."""
    h, w = _image_size(image_size)
    check_int(minimum=0, stage=stage)
    factor = 2**stage
    if h % factor or w % factor:
        raise ValueError(
            f"`image_size`={(h, w)} must be divisible by 2**stage = {factor} "
            f"(stage={stage}): every stage doubles the base size."
        )
    return (h, w), (h // factor, w // factor), _check_alpha(alpha, stage)


def _check_alpha(alpha, stage):
    if alpha is None:
        return None
    if stage == 0:
        raise ValueError(
            f"`alpha` must be None at stage 0 (there is no smaller stage to "
            f"fade from). Received: alpha={alpha!r}"
        )
    return check_number("alpha", alpha, low=0.0, high=1.0)


def stage_filters(filters, min_filters, stage):
    """Width of the features at `stage` (size `base · 2**stage`).

    Halved at every stage, as in ProGAN: `max(filters // 2**(stage + 1),
    min_filters)`. The base stage's outermost down block has `filters`.

    Example:
    >>> [stage_filters(64, 16, s) for s in range(4)]
    [32, 16, 16, 16]
    """
    return max(filters // 2 ** (stage + 1), min_filters)


def _stage_widths(filters, min_filters, stage):
    """`stage_filters` of stages 0 to `stage`."""
    return [stage_filters(filters, min_filters, k) for k in range(stage + 1)]


def _from_rgb(x, filters, *, name):
    """1×1 conv + LeakyReLU(0.2): images (or pairs) to features."""
    x = layers.Conv2D(
        filters, 1, kernel_initializer=conv_initializer(), name=name
    )(x)
    return layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act")(x)


def _to_rgb(x, channels, *, name):
    """1×1 conv + tanh: features to an image in [-1, 1] (float32)."""
    return layers.Conv2D(
        channels,
        1,
        activation="tanh",
        kernel_initializer=conv_initializer(),
        dtype="float32",
        name=name,
    )(x)


def _fade_from_smaller(x, images, fade, width, *, stage, name):
    """`fade([x, old])`, `old` the previous stage's input path on `images`."""
    small = layers.AveragePooling2D(2, name=f"{name}_fade{stage}_down")(images)
    old = _from_rgb(small, width, name=f"{name}_from_rgb{stage - 1}")
    return fade([x, old])


def _fade_layer(model):
    fades = [
        layer for layer in flatten_layers(model, include_self=False)
        if isinstance(layer, Fade)
    ]
    return fades[0] if fades else None


class _FadeMixin:
    """The `alpha` property of a progressive network."""

    @property
    def alpha(self):
        """float or `None`: the fade-in weight, `None` without a fade-in.

        Setting it assigns the `Fade` layer's weight (no retracing).
        """
        fade = _fade_layer(self)
        if fade is None:
            return None
        return float(ops.convert_to_numpy(fade.alpha))

    @alpha.setter
    def alpha(self, value):
        fade = _fade_layer(self)
        if fade is None:
            raise ValueError(
                f"{self.name!r} has no fade-in branch (stage {self.stage}, "
                "built with alpha=None): there is no alpha to set."
            )
        fade.alpha.assign(check_number("alpha", value, low=0.0, high=1.0))


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class ProgressiveUNetGenerator(
    InferenceStatisticsMixin,
    _FadeMixin,
    _ConfigMixin,
    InferenceDropoutMixin,
    keras.Model,
):
    """A U-Net generator that grows outward, one stage per doubling.

    Stage 0 at the base size `b` is a pix2pix U-Net (`depth` down and up
    blocks, skips, as `UNetGenerator`) between a "from RGB" 1×1
    convolution and a "to RGB" 1×1 convolution with tanh, so that its
    inner blocks see features rather than images. Each stage `s ≥ 1`
    (size `b · 2**s`) adds around it a new from-RGB convolution, a down
    block (`f"{name}_grow{s}_down"`, 4×4 stride 2, norm, LeakyReLU), an up
    block (`f"{name}_grow{s}_up"`, transposed 4×4 stride 2, norm, ReLU)
    that also gets the skip from the new down block, and a new to-RGB
    convolution. Widths halve per stage (`stage_filters`), as in ProGAN
    (Karras et al. 2018, https://arxiv.org/abs/1710.10196).

    With `alpha` set (stage ≥ 1), the outermost stage is fading in, in
    both the encoder and the decoder, with one weight `alpha`
    (`Fade` layer `f"{name}_fade{stage}"`):

    - encoder: the features entering stage `s - 1` are
      `alpha · grow_down(from_rgb_s(x)) + (1 − alpha) ·
      from_rgb_{s-1}(avgpool(x))`;
    - decoder: the output is `alpha · to_rgb_s(grow_up(...)) + (1 − alpha)
      · upsample(to_rgb_{s-1}(features of stage s - 1))`.

    At `alpha = 0` the output is therefore exactly
    `upsample(G_{s-1}(avgpool(x)))`, the previous stage's generator on the
    downsampled image (2×2 average pooling, nearest-neighbour upsampling),
    and the inner network runs once: fading in costs two 1×1 convolutions
    at half size. At `alpha = 1` it is exactly the new network
    (`stabilize()` then drops the fade-in branch).

    Layer names do not depend on the stage (`f"{name}_down{i}"`,
    `f"{name}_grow{k}_up"`, `f"{name}_from_rgb{k}"`, ...), so `grow()`
    copies weights by layer name.

    Args:
        image_size: int or `(height, width)`. The current size, `base ·
            2**stage`. Defaults to `(128, 128)`.
        stage: int >= 0. Number of doublings since the base size. Defaults
            to `0`.
        alpha: float in [0, 1] or `None`. Weight of the outermost stage,
            which is fading in; `None` builds no fade-in branch (always at
            stage 0). Defaults to `None`.
        in_channels: int. Input channels. Defaults to `3`.
        out_channels: int. Output channels. Defaults to `3`.
        depth: int >= 2 or `None`. Down blocks of the base U-Net; `None`
            takes the base size down to 1 pixel. The base size must be
            divisible by `2**depth`. Defaults to `None`.
        filters: int. Filters of the base U-Net's first down block (then
            doubled, capped at `max_filters`). Defaults to `64`.
        max_filters: int. Cap on the filters. Defaults to `512`.
        min_filters: int. Floor on the halved widths of the stages.
            Defaults to `16`.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        dropout: float in [0, 1). Dropout of the `num_dropout` innermost
            up blocks. Defaults to `0.5`.
        num_dropout: int >= 0. Up blocks with dropout. Defaults to `3`.
        inference_dropout: bool. Keep dropout on when `training=False`.
            Defaults to `False`.
        inference_statistics: str. What batch norm normalizes with at
            inference: `"image"` or `"moving"` (as `UNetGenerator`).
            Defaults to `"image"`.
        bn_momentum: float in [0, 1). Batch-norm momentum. Defaults to
            `0.9`.
        name: str. Model name. Defaults to `"generator"`.

    Example:
    >>> g = ProgressiveUNetGenerator(image_size=32, stage=1, alpha=0.0,
    ...                              filters=8, min_filters=4)
    >>> tuple(g(keras.ops.zeros((2, 32, 32, 3))).shape)
    (2, 32, 32, 3)
    >>> g.base_size, g.alpha
    ((16, 16), 0.0)
    """

    _config_keys = ("image_size", "stage", "alpha", "in_channels",
                    "out_channels", "depth", "filters", "max_filters",
                    "min_filters", "norm", "dropout", "num_dropout",
                    "inference_dropout", "inference_statistics",
                    "bn_momentum")

    def __init__(
        self,
        image_size=(128, 128),
        stage=0,
        alpha=None,
        in_channels=3,
        out_channels=3,
        depth=None,
        filters=64,
        max_filters=512,
        min_filters=16,
        norm="batch",
        dropout=0.5,
        num_dropout=3,
        inference_dropout=False,
        inference_statistics="image",
        bn_momentum=0.9,
        name="generator",
        **kwargs,
    ):
        (h, w), (bh, bw), alpha = _stage_args(image_size, stage, alpha)
        depth = _resolve_depth(depth, (bh, bw))
        if bh % 2**depth or bw % 2**depth:
            raise ValueError(
                f"The base size {(bh, bw)} (image_size {(h, w)} / 2**stage) "
                f"must be divisible by 2**depth = {2**depth} (depth={depth})."
            )
        check_int(
            in_channels=in_channels,
            out_channels=out_channels,
            filters=filters,
            max_filters=max_filters,
            min_filters=min_filters,
        )
        validate_norm(norm)
        check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        check_int(minimum=0, num_dropout=num_dropout)
        check_number(
            "bn_momentum", bn_momentum, low=0.0, high=1.0, high_open=True
        )
        encoder = [min(filters * 2**i, max_filters) for i in range(depth)]
        widths = _stage_widths(filters, min_filters, stage)

        inputs = keras.Input((h, w, in_channels), name="image")
        fade = None
        if alpha is not None:
            fade = Fade(alpha, dtype="float32", name=f"{name}_fade{stage}")
        x = _from_rgb(inputs, widths[stage], name=f"{name}_from_rgb{stage}")
        outer_skips = []  # encoder features of the grown stages, outer first
        for k in range(stage, 0, -1):
            x = self.down_block(
                x, widths[k - 1], norm=norm, normalize=True,
                name=f"{name}_grow{k}_down",
            )
            if fade is not None and k == stage:
                x = _fade_from_smaller(
                    x, inputs, fade, widths[k - 1], stage=stage, name=name
                )
            outer_skips.append(x)
        skips = []
        for i, f in enumerate(encoder):
            x = self.down_block(
                x, f, norm=norm, normalize=0 < i < depth - 1,
                name=f"{name}_down{i}",
            )
            skips.append(x)
        for i, (f, skip) in enumerate(zip(encoder[-2::-1], skips[-2::-1])):
            x = self.up_block(
                x, f, norm=norm,
                dropout=dropout if i < num_dropout else 0.0,
                name=f"{name}_up{i}",
            )
            x = layers.Concatenate(name=f"{name}_skip{i}")([x, skip])
        x = self.up_block(
            x, widths[0], norm=norm, dropout=0.0, name=f"{name}_up{depth - 1}"
        )
        previous = x
        for k in range(1, stage + 1):
            previous = x
            x = layers.Concatenate(name=f"{name}_grow{k}_skip")(
                [x, outer_skips[stage - k]]
            )
            x = self.up_block(
                x, widths[k], norm=norm, dropout=0.0,
                name=f"{name}_grow{k}_up",
            )
        outputs = _to_rgb(x, out_channels, name=f"{name}_to_rgb{stage}")
        if fade is not None:
            old = _to_rgb(
                previous, out_channels, name=f"{name}_to_rgb{stage - 1}"
            )
            old = layers.UpSampling2D(2, name=f"{name}_fade{stage}_up")(old)
            outputs = fade([outputs, old])
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        _set_bn_momentum(self, bn_momentum)
        self._record_config(
            image_size=(h, w), stage=stage, in_channels=in_channels,
            out_channels=out_channels, depth=depth, filters=filters,
            max_filters=max_filters, min_filters=min_filters, norm=norm,
            dropout=float(dropout), num_dropout=num_dropout,
            bn_momentum=float(bn_momentum),
        )
        self.base_size = (bh, bw)
        self.inference_dropout = inference_dropout
        self.inference_statistics = inference_statistics

    def down_block(self, x, filters, *, norm, normalize, name):
        """One encoder block (as `UNetGenerator.down_block`); override to
        change the encoder, the grown stages' included."""
        return apply_downsample(
            x, filters, norm=norm, normalize=normalize, name=name
        )

    def up_block(self, x, filters, *, norm, dropout, name):
        """One decoder block (as `UNetGenerator.up_block`); override to
        change the decoder, the grown stages' included."""
        return apply_upsample(x, filters, norm=norm, dropout=dropout, name=name)


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class ProgressivePatchDiscriminator(_FadeMixin, _SingleScaleDiscriminator):
    """A conditional PatchGAN that grows by a new input stage per doubling.

    Stage 0 at the base size is a `PatchDiscriminator` (source and image
    concatenated, `n_layers` stride-2 4×4 convolutions, a stride-1 one,
    then one logit per patch) behind a "from RGB" 1×1 convolution with
    LeakyReLU. Each stage `s ≥ 1` puts in front of it a new from-RGB
    convolution and a 4×4 stride-2 convolution (`f"{name}_grow{s}_conv"`,
    norm, LeakyReLU) that brings the pair down to the previous size. The
    logit grid keeps its size, so each logit sees a patch twice as large
    in pixels per stage (the same fraction of the image):
    `receptive_field` is 70, 142, 286 for `n_layers=3` at stages 0, 1, 2.

    With `alpha` set (stage ≥ 1), the new stage fades in as in ProGAN
    (Karras et al. 2018, https://arxiv.org/abs/1710.10196): the features
    entering stage `s - 1` are `alpha · grow_s(from_rgb_s(pair)) + (1 −
    alpha) · from_rgb_{s-1}(avgpool(pair))` (`Fade` layer
    `f"{name}_fade{stage}"`), so at `alpha = 0` the logits are exactly
    the previous stage's discriminator on the 2×2-average-pooled pair.

    Called as `discriminator([source, image])`; returns raw logits.
    `features([source, image])` returns the LeakyReLU outputs (the blended
    features while fading) and the logits, for feature matching.

    Args:
        image_size: int or `(height, width)`. The current size, `base ·
            2**stage`. Defaults to `(128, 128)`.
        stage: int >= 0. Number of doublings since the base size. Defaults
            to `0`.
        alpha: float in [0, 1] or `None`. Weight of the outermost stage,
            which is fading in; `None` builds no fade-in branch. Defaults
            to `None`.
        in_channels: int. Source channels. Defaults to `3`.
        out_channels: int. Image channels. Defaults to `3`.
        n_layers: int >= 1. Stride-2 convolutions of the base PatchGAN.
            Defaults to `3`.
        filters: int. Filters of the base PatchGAN's first convolution.
            Defaults to `64`.
        max_filters: int. Cap on the filters. Defaults to `512`.
        min_filters: int. Floor on the halved widths of the stages.
            Defaults to `16`.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        name: str. Model name. Defaults to `"discriminator"`.

    Example:
    >>> d = ProgressivePatchDiscriminator(image_size=32, stage=1, n_layers=2,
    ...                                   filters=8, min_filters=4)
    >>> x = keras.ops.zeros((1, 32, 32, 3))
    >>> tuple(d([x, x]).shape), d.receptive_field
    ((1, 2, 2, 1), 70)
    """

    _config_keys = ("image_size", "stage", "in_channels", "out_channels",
                    "n_layers", "filters", "max_filters", "min_filters",
                    "norm", "alpha")

    def __init__(
        self,
        image_size=(128, 128),
        stage=0,
        alpha=None,
        in_channels=3,
        out_channels=3,
        n_layers=3,
        filters=64,
        max_filters=512,
        min_filters=16,
        norm="batch",
        name="discriminator",
        **kwargs,
    ):
        (h, w), (bh, bw), alpha = _stage_args(image_size, stage, alpha)
        receptive_field(n_layers)  # validates n_layers
        _check_args(
            norm, in_channels=in_channels, out_channels=out_channels,
            filters=filters, max_filters=max_filters, min_filters=min_filters,
        )
        if min(bh, bw) <= 2 ** (n_layers + 1):
            raise ValueError(
                f"The base size {(bh, bw)} (image_size {(h, w)} / 2**stage) "
                f"is too small for n_layers={n_layers}: each side must be "
                f"more than {2 ** (n_layers + 1)}."
            )
        widths = _stage_widths(filters, min_filters, stage)

        source, image = _pair_inputs(h, w, in_channels, out_channels)
        pair = layers.Concatenate(name=f"{name}_pair")([source, image])
        x = _from_rgb(pair, widths[stage], name=f"{name}_from_rgb{stage}")
        activations = [x]
        for k in range(stage, 0, -1):
            # conv 4×4 stride 2, norm, LeakyReLU: a U-Net down block.
            x = apply_downsample(
                x, widths[k - 1], norm=norm, name=f"{name}_grow{k}"
            )
            if alpha is not None and k == stage:
                fade = Fade(alpha, name=f"{name}_fade{stage}")
                x = _fade_from_smaller(
                    x, pair, fade, widths[k - 1], stage=stage, name=name
                )
            activations.append(x)
        # The base PatchGAN, layer for layer as PatchDiscriminator.
        base_activations, logits = _patchgan(
            x, n_layers=n_layers, filters=filters, max_filters=max_filters,
            norm=norm, spectral_norm=False, name=name,
        )
        activations += base_activations
        self._finish(source, image, activations, logits, name, kwargs)
        self._record_config(
            image_size=(h, w), stage=stage, in_channels=in_channels,
            out_channels=out_channels, n_layers=n_layers, filters=filters,
            max_filters=max_filters, min_filters=min_filters, norm=norm,
        )
        self.base_size = (bh, bw)

    @property
    def receptive_field(self):
        """int. Input pixels (at the current size) seen by one logit."""
        r = receptive_field(self.n_layers)
        for _ in range(self.stage):
            r = (r - 1) * 2 + 4
        return r


# ----------------------------------------------------------------------
# growing a Pix2Pix


def _networks(model, what):
    g = getattr(model, "generator", None)
    d = getattr(model, "discriminator", None)
    if not isinstance(g, ProgressiveUNetGenerator) or not isinstance(
        d, ProgressivePatchDiscriminator
    ):
        raise ValueError(
            f"{what} needs a Pix2Pix whose generator is a "
            "ProgressiveUNetGenerator and whose discriminator is a "
            "ProgressivePatchDiscriminator. Received generator "
            f"{type(g).__name__} and discriminator {type(d).__name__}."
        )
    if g.stage != d.stage or g.image_size != d.image_size:
        raise ValueError(
            f"{what}: the generator (stage {g.stage}, {g.image_size}) and the "
            f"discriminator (stage {d.stage}, {d.image_size}) must be at the "
            "same stage and size."
        )
    return g, d


def get_alpha(model):
    """The fade-in weight of a progressive `Pix2Pix` (or network).

    Returns:
        float, or `None` when nothing is fading in.
    """
    fade = _fade_layer(model)
    return None if fade is None else float(ops.convert_to_numpy(fade.alpha))


def set_alpha(model, alpha):
    """Sets the fade-in weight of every `Fade` layer of `model` (both
    networks of a `Pix2Pix`).

    Raises:
        ValueError: `alpha` outside [0, 1], or nothing to fade in.
    """
    alpha = check_number("alpha", alpha, low=0.0, high=1.0)
    fades = [
        layer for layer in flatten_layers(model, include_self=True)
        if isinstance(layer, Fade)
    ]
    if not fades:
        raise ValueError(
            f"{model.name!r} has no Fade layer: only a model made by grow() "
            "(or built with alpha set) fades in."
        )
    for fade in fades:
        fade.alpha.assign(alpha)


def _copy_weights(source, target):
    """Copies every layer's weights from `source` into the same-named layer
    of `target`; returns the names copied."""
    by_name = {layer.name: layer for layer in source.layers}
    copied = []
    for layer in target.layers:
        old = by_name.get(layer.name)
        if old is None or not layer.weights or isinstance(layer, Fade):
            continue
        values = old.get_weights()
        shapes = [tuple(v.shape) for v in values]
        expected = [tuple(w.shape) for w in layer.weights]
        if shapes != expected:
            raise ValueError(
                f"Cannot copy layer {layer.name!r}: its weights have shapes "
                f"{shapes} in the old network and {expected} in the new one."
            )
        layer.set_weights(values)
        copied.append(layer.name)
    return copied


def _rebuild(model, **changes):
    """A new Pix2Pix (same class and settings) with networks rebuilt from
    their configs plus `changes`, weights copied by layer name, not
    compiled."""
    g, d = model.generator, model.discriminator
    with model.distribute_strategy.scope():
        new_g = type(g).from_config({**g.get_config(), **changes})
        new_d = type(d).from_config({**d.get_config(), **changes})
        config = model.get_config()
        config.pop("generator")
        config.pop("discriminator")
        new = type(model)(generator=new_g, discriminator=new_d, **config)
    _copy_weights(g, new_g)
    _copy_weights(d, new_d)
    new.step_counter.assign(model.step_counter)
    return new


def _compile_like(model, new):
    """Compiles `new` with `model`'s settings and fresh optimizers of the
    same configuration (class, current learning rate, ...)."""
    config = model.get_compile_config()
    if config is None:
        return False
    config = dict(config)
    base = config.pop("base_learning_rates", None)
    optimizers = {
        key: keras.saving.deserialize_keras_object(config.pop(key))
        for key in ("g_optimizer", "d_optimizer")
    }
    if config.get("perceptual_loss") is not None:
        config["perceptual_loss"] = model.perceptual_loss  # no VGG reload
    with new.distribute_strategy.scope():
        new.compile(**optimizers, **config)
    if base:
        new.base_learning_rates = dict(base)
    new.l1_weight.assign(model.l1_weight)
    return True


def grow(model):
    """Doubles the size of a progressive `Pix2Pix`, keeping its weights.

    Builds a new model of the same class at stage `s + 1` (twice the
    height and width) whose networks fade in the new stage from `alpha =
    0`: at first it computes exactly the old model on 2×2-average-pooled
    inputs, upsampled. Every layer of the old networks that the new ones
    keep (all of them when the old model is not fading) gets its weights
    copied by name, bit for bit; the new layers are initialised as
    usual. A model that was fading in stage `s` (with `alpha = 1`) loses
    its stage-`s - 1` fade-in branch (`from_rgb{s-1}`, `to_rgb{s-1}`,
    `fade{s}`).

    The optimizers are fresh instances of the same configuration (class,
    current learning rate, betas, clipping): their moments and
    `iterations` start at zero, as ProGAN resets Adam for every new
    resolution; Keras optimizers are built for a fixed list of variables,
    and stale moments next to zero ones for the new layers would
    mis-scale the first steps. `step_counter`, the L1 weight in use, the
    base learning rates and every compile setting are carried over.

    Args:
        model: `Pix2Pix` with a `ProgressiveUNetGenerator` and a
            `ProgressivePatchDiscriminator` at the same stage, not fading
            or fading with `alpha = 1`. Compiled or not.

    Returns:
        A new `Pix2Pix` (compiled if `model` was) at twice the size, with
        `alpha = 0`.

    Raises:
        ValueError: other networks, or `alpha < 1` (finish the fade-in
            first: growing would drop a branch that still contributes).

    Example:

    ```python
    model = grow(model)            # 2x size, alpha = 0
    model.fit(ds_2x, epochs=10, callbacks=[FadeIn(fade_steps=1000)])
    ```
    """
    g, _ = _networks(model, "grow()")
    alpha = get_alpha(model)
    if alpha is not None and alpha < 1.0:
        raise ValueError(
            f"grow(): the model is still fading in stage {g.stage} "
            f"(alpha={alpha:.4g}). Finish the fade-in (alpha = 1, see FadeIn) "
            "before growing again: the branch growing would drop still "
            f"makes {1 - alpha:.0%} of the output."
        )
    h, w = g.image_size
    new = _rebuild(
        model, image_size=(2 * h, 2 * w), stage=g.stage + 1, alpha=0.0
    )
    _compile_like(model, new)
    return new


def _carry_optimizer(old, new):
    """Copies `old`'s state into `new`, matched by variable path (the
    slots are named after the model variables, whose paths are the layer
    names)."""
    def key(v):
        return v.path.split("/", 1)[-1]

    source = {key(v): v for v in old.variables}
    for v in new.variables:
        src = source.get(key(v))
        if src is None or tuple(src.shape) != tuple(v.shape):
            raise ValueError(
                f"Cannot carry the state of optimizer {old.name!r}: no "
                f"variable {key(v)!r} of shape {tuple(v.shape)} in it."
            )
        v.assign(src)


def stabilize(model):
    """Ends a finished fade-in: the same `Pix2Pix` without the fade branch.

    After the fade-in (`alpha = 1`) the old stage's from-RGB and to-RGB
    convolutions no longer contribute; this rebuilds both networks
    without them (and without the `Fade` layers), weights copied by
    name. Unlike `grow()`, the optimizers keep their state (moments and
    `iterations`): the model is the same function, training continues.

    Args:
        model: a progressive `Pix2Pix` with `alpha = 1`, or without a
            fade-in (returned unchanged).

    Returns:
        A `Pix2Pix` whose networks have `alpha = None`.

    Raises:
        ValueError: `alpha < 1`.
    """
    g, _ = _networks(model, "stabilize()")
    alpha = get_alpha(model)
    if alpha is None:
        return model
    if alpha < 1.0:
        raise ValueError(
            f"stabilize(): the fade-in of stage {g.stage} is not finished "
            f"(alpha={alpha:.4g}); the old branch still makes "
            f"{1 - alpha:.0%} of the output."
        )
    new = _rebuild(model, alpha=None)
    if _compile_like(model, new):
        _carry_optimizer(model.g_optimizer, new.g_optimizer)
        _carry_optimizer(model.d_optimizer, new.d_optimizer)
    return new


class FadeIn(keras.callbacks.Callback):
    """Moves `alpha` linearly from 0 to 1 over `fade_steps` training steps.

    Before each batch, sets the fade-in weight of both networks to
    `min(1, t / fade_steps)`, where `t` is `model.g_optimizer.iterations`
    (the steps trained since `grow()`, which resets the optimizers).
    Keyed on the optimizer, which `.keras` files save, the fade resumes
    exactly after `keras.saving.load_model`. Logs `alpha` at each epoch's
    end. With `steps_per_execution = k`, alpha moves every `k` steps.

    Args:
        fade_steps: int >= 1. Steps from `alpha = 0` to `alpha = 1`.

    Example:

    ```python
    model = grow(model)
    model.fit(ds_2x, epochs=10, callbacks=[FadeIn(fade_steps=1000)])
    ```
    """

    def __init__(self, fade_steps):
        super().__init__()
        check_int(fade_steps=fade_steps)
        self.fade_steps = fade_steps

    def alpha(self, step):
        """Alpha after `step` training steps."""
        return min(1.0, step / self.fade_steps)

    def _update(self):
        step = int(ops.convert_to_numpy(self.model.g_optimizer.iterations))
        value = self.alpha(step)
        set_alpha(self.model, value)
        return value

    def on_train_begin(self, logs=None):
        if getattr(self.model, "g_optimizer", None) is None or (
            get_alpha(self.model) is None
        ):
            raise ValueError(
                "FadeIn needs a compiled Pix2Pix that is fading in a new "
                "stage (made by grow()); this model has no Fade layer."
            )
        self._update()

    def on_train_batch_begin(self, batch, logs=None):
        self._update()

    def on_epoch_end(self, epoch, logs=None):
        value = self._update()
        if logs is not None:
            logs["alpha"] = value


# ----------------------------------------------------------------------
# training


def _by_stage(value, n, name):
    """`value` (an int or a sequence of n ints) as a list of n ints >= 1."""
    try:
        values = [value] * n if isinstance(value, int) else list(value)
    except TypeError:
        values = None
    if values is None or len(values) != n:
        raise ValueError(
            f"`{name}` must be an int or a list of {n} ints (one per "
            f"{'grown ' if name == 'fade_steps' else ''}stage). Received: "
            f"{name}={value!r}"
        )
    for v in values:
        check_int(**{name: v})
    return values


def _steps_per_epoch(dataset, steps_per_epoch):
    if steps_per_epoch is not None:
        return steps_per_epoch
    if isinstance(dataset, tf.data.Dataset):
        n = int(dataset.cardinality())
        return n if n > 0 else None
    try:
        return len(dataset)
    except TypeError:
        return None


def _check_sizes(sizes, first):
    if sizes[0] != first:
        raise ValueError(
            f"The first size of `datasets` must be the model's size {first}. "
            f"Received sizes {sizes}."
        )
    for a, b in zip(sizes, sizes[1:]):
        if b != (2 * a[0], 2 * a[1]):
            raise ValueError(
                "Every size in `datasets` must be twice the one before (each "
                f"stage doubles the size). Received {a} then {b}, in sizes "
                f"{sizes}."
            )


def _check_dataset_size(dataset, size, what):
    spec = getattr(dataset, "element_spec", None)
    if isinstance(spec, (tuple, list)) and spec:
        shape = getattr(spec[0], "shape", None)
        if shape is not None and shape.rank == 4:
            hw = tuple(shape[1:3])
            if None not in hw and hw != size:
                raise ValueError(
                    f"{what} yields {hw} images, not {size}: load it at that "
                    "size (load_paired_dataset(..., image_size=...))."
                )


def train_progressive(
    model,
    datasets,
    epochs,
    fade_steps,
    *,
    validation_data=None,
    steps_per_epoch=None,
    callbacks=None,
    verbose="auto",
):
    """Trains a progressive `Pix2Pix` size by size, growing in between.

    Stage 0 trains `model` at its size with `fit()`. Every following
    stage calls `grow()` (twice the size, weights kept, fresh optimizers)
    and `fit()`s the grown model on the next dataset, with `FadeIn`
    moving `alpha` from 0 to 1 over the stage's first `fade_steps` steps.
    The epochs are numbered on across stages (`initial_epoch`), so
    epoch-keyed callbacks (`LearningRateHalving`, `LambdaSchedule`) run
    one schedule. The returned model has its last fade-in branch dropped
    (`stabilize()`).

    Args:
        model: compiled `Pix2Pix` with a `ProgressiveUNetGenerator` and a
            `ProgressivePatchDiscriminator`, not fading (or at `alpha =
            1`).
        datasets: dict `{image_size: dataset}` of `(source, target)`
            batches, one per stage in training order; the first size is
            the model's and each next one twice the previous (e.g. `{128:
            ds_128, 256: ds_256, 512: ds_512}`). Sizes are ints or
            `(height, width)`.
        epochs: int or list (one per stage). Epochs of each stage.
        fade_steps: int or list (one per grown stage). Steps of each
            fade-in; at most the stage's steps.
        validation_data: dict like `datasets` (same sizes) or `None`.
            Defaults to `None`.
        steps_per_epoch: int or `None`. Passed to `fit()`; needed when a
            dataset's length is unknown. Defaults to `None`.
        callbacks: list of callbacks for every stage, or a function
            `(stage, image_size) -> list` (for callbacks tied to one size,
            such as `SampleGrid`). Defaults to `None`.
        verbose: passed to `fit()`. Defaults to `"auto"`.

    Returns:
        `(model, stages)`: the trained model at the last size, and one
        dict per stage with `image_size`, `epochs`, `fade_steps` (0 for
        stage 0), `g_steps` / `d_steps` (the optimizers' steps in the
        stage) and `history` (the `fit()` history dict).

    Raises:
        ValueError: another kind of model, an uncompiled or mid-fade
            model, sizes that do not start at the model's size or do not
            double, a dataset of the wrong size, a fade longer than its
            stage, or bad `epochs` / `fade_steps`.

    Example:

    ```python
    datasets = {s: pk.load_paired_dataset(d, image_size=s, load_size=s + s // 8)
                for s in (128, 256, 512)}
    model, stages = train_progressive(model, datasets, epochs=[50, 50, 100],
                                      fade_steps=20_000)
    ```
    """
    g, _ = _networks(model, "train_progressive()")
    if getattr(model, "g_optimizer", None) is None:
        raise ValueError(
            "train_progressive() needs a compiled model: every stage is "
            "compiled with its settings and optimizer configuration."
        )
    alpha = get_alpha(model)
    if alpha is not None and alpha < 1.0:
        raise ValueError(
            f"train_progressive(): the model is fading in (alpha={alpha:.4g}); "
            "finish that fade-in first."
        )
    if not isinstance(datasets, collections.abc.Mapping) or not datasets:
        raise ValueError(
            "`datasets` must be a non-empty dict {image_size: dataset}, one "
            f"entry per stage. Received: {type(datasets).__name__}"
        )
    sizes = [_image_size(s, "datasets key") for s in datasets]
    sets = list(datasets.values())
    _check_sizes(sizes, tuple(g.image_size))
    n = len(sizes)
    epochs = _by_stage(epochs, n, "epochs")
    fades = [0] + (_by_stage(fade_steps, n - 1, "fade_steps") if n > 1 else [])
    if validation_data is None:
        validation = [None] * n
    else:
        if not isinstance(validation_data, collections.abc.Mapping):
            raise ValueError(
                "`validation_data` must be a dict {image_size: dataset} like "
                f"`datasets`. Received: {type(validation_data).__name__}"
            )
        val_sizes = [_image_size(s, "validation_data key")
                     for s in validation_data]
        if val_sizes != sizes:
            raise ValueError(
                f"`validation_data` must have the sizes of `datasets` "
                f"{sizes}, in order. Received {val_sizes}."
            )
        validation = list(validation_data.values())
    if callbacks is not None and not callable(callbacks):
        callbacks = list(callbacks)
    for k, (size, ds) in enumerate(zip(sizes, sets)):
        _check_dataset_size(ds, size, f"datasets[{size}]")
        if validation[k] is not None:
            _check_dataset_size(
                validation[k], size, f"validation_data[{size}]"
            )
        if k == 0:
            continue
        steps = _steps_per_epoch(ds, steps_per_epoch)
        if steps is None:
            raise ValueError(
                f"The length of datasets[{size}] is unknown, so the fade-in "
                "cannot be checked to fit in its stage: pass "
                "`steps_per_epoch`."
            )
        if fades[k] > epochs[k] * steps:
            raise ValueError(
                f"`fade_steps`={fades[k]} for stage {k} ({size}) is longer "
                f"than the stage ({epochs[k]} epochs × {steps} steps = "
                f"{epochs[k] * steps} steps): the fade-in must finish "
                "before the next stage grows."
            )

    stages = []
    epoch = 0
    for k, (size, ds) in enumerate(zip(sizes, sets)):
        own = []
        if k > 0:
            model = grow(model)
            own = [FadeIn(fades[k])]
        if callable(callbacks):
            user = list(callbacks(k, size) or [])
        else:
            user = list(callbacks or [])
        history = model.fit(
            ds,
            epochs=epoch + epochs[k],
            initial_epoch=epoch,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation[k],
            callbacks=own + user,
            verbose=verbose,
        )
        epoch += epochs[k]
        stages.append({
            "image_size": size,
            "epochs": epochs[k],
            "fade_steps": fades[k],
            "g_steps": int(ops.convert_to_numpy(model.g_optimizer.iterations)),
            "d_steps": int(ops.convert_to_numpy(model.d_optimizer.iterations)),
            "history": dict(history.history),
        })
    return stabilize(model), stages

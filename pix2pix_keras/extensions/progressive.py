"""Progressive growing for high resolutions (ProGAN / pix2pixHD style).

Train at a small size, then double the size with new outer layers that
fade in, keeping every trained weight (Karras et al. 2018,
https://arxiv.org/abs/1710.10196; Wang et al. 2018,
https://arxiv.org/abs/1711.11585 grow pix2pixHD's generator the same way,
coarse to fine):

- `ProgressiveUNetGenerator` and `ProgressivePatchDiscriminator` (this
  module): networks at stage `s` (size `base · 2**s`), optionally fading
  in their outermost stage with a weight `alpha`;
- `grow`, `FadeIn`, `stabilize` and `train_progressive`: growing a model
  between `fit()` calls (`pix2pix_keras.extensions.growing`).

Keras `fit()` cannot swap the model it trains, so growing happens between
`fit()` calls (`train_progressive`), not inside a callback.
"""

import keras
from keras import layers
from keras import ops

from pix2pix_keras._compat import flatten_layers
from pix2pix_keras.models.blocks import _ConfigMixin
from pix2pix_keras.models.blocks import _constructor_args
from pix2pix_keras.models.blocks import apply_downsample
from pix2pix_keras.models.blocks import apply_upsample
from pix2pix_keras.models.blocks import conv_initializer
from pix2pix_keras.models.blocks import validate_norm
from pix2pix_keras.models.discriminator import _check_patchgan_args
from pix2pix_keras.models.discriminator import _pair_inputs
from pix2pix_keras.models.discriminator import _patchgan
from pix2pix_keras.models.discriminator import _patchgan_options
from pix2pix_keras.models.discriminator import _SingleScaleDiscriminator
from pix2pix_keras.models.discriminator import receptive_field
from pix2pix_keras.models.generator import InferenceDropoutMixin
from pix2pix_keras.models.generator import InferenceStatisticsMixin
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.models.generator import _resolve_depth
from pix2pix_keras.models.generator import _set_bn_momentum
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_number

__all__ = [
    "Fade",
    "ProgressivePatchDiscriminator",
    "ProgressiveUNetGenerator",
    "stage_filters",
]


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
    x = layers.Conv2D(filters, 1, kernel_initializer=conv_initializer(), name=name)(x)
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
        layer
        for layer in flatten_layers(model, include_self=False)
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
        check_number("bn_momentum", bn_momentum, low=0.0, high=1.0, high_open=True)
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
                x,
                widths[k - 1],
                norm=norm,
                normalize=True,
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
                x,
                f,
                norm=norm,
                normalize=0 < i < depth - 1,
                name=f"{name}_down{i}",
            )
            skips.append(x)
        for i, (f, skip) in enumerate(zip(encoder[-2::-1], skips[-2::-1])):
            x = self.up_block(
                x,
                f,
                norm=norm,
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
                x,
                widths[k],
                norm=norm,
                dropout=0.0,
                name=f"{name}_grow{k}_up",
            )
        outputs = _to_rgb(x, out_channels, name=f"{name}_to_rgb{stage}")
        if fade is not None:
            old = _to_rgb(previous, out_channels, name=f"{name}_to_rgb{stage - 1}")
            old = layers.UpSampling2D(2, name=f"{name}_fade{stage}_up")(old)
            outputs = fade([outputs, old])
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        _set_bn_momentum(self, bn_momentum)
        self._record_config(
            image_size=(h, w),
            stage=stage,
            in_channels=in_channels,
            out_channels=out_channels,
            depth=depth,
            filters=filters,
            max_filters=max_filters,
            min_filters=min_filters,
            norm=norm,
            dropout=float(dropout),
            num_dropout=num_dropout,
            bn_momentum=float(bn_momentum),
        )
        self.base_size = (bh, bw)
        self.inference_dropout = inference_dropout
        self.inference_statistics = inference_statistics

    _config_keys = _constructor_args(__init__)

    def down_block(self, x, filters, *, norm, normalize, name):
        """One encoder block (as `UNetGenerator.down_block`); override to
        change the encoder, the grown stages' included."""
        return apply_downsample(x, filters, norm=norm, normalize=normalize, name=name)

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
        patchgan = _patchgan_options(n_layers, filters, max_filters, norm)
        smallest = _check_patchgan_args(
            in_channels, out_channels, **patchgan, min_filters=min_filters
        )
        if min(bh, bw) <= smallest:
            raise ValueError(
                f"The base size {(bh, bw)} (image_size {(h, w)} / 2**stage) "
                f"is too small for n_layers={n_layers}: each side must be "
                f"more than {smallest}."
            )
        widths = _stage_widths(filters, min_filters, stage)

        source, image = _pair_inputs(h, w, in_channels, out_channels)
        pair = layers.Concatenate(name=f"{name}_pair")([source, image])
        x = _from_rgb(pair, widths[stage], name=f"{name}_from_rgb{stage}")
        activations = [x]
        for k in range(stage, 0, -1):
            # conv 4×4 stride 2, norm, LeakyReLU: a U-Net down block.
            x = apply_downsample(x, widths[k - 1], norm=norm, name=f"{name}_grow{k}")
            if alpha is not None and k == stage:
                fade = Fade(alpha, name=f"{name}_fade{stage}")
                x = _fade_from_smaller(
                    x, pair, fade, widths[k - 1], stage=stage, name=name
                )
            activations.append(x)
        # The base PatchGAN, layer for layer as PatchDiscriminator.
        base_activations, logits = _patchgan(x, **patchgan, name=name)
        activations += base_activations
        self._finish(source, image, activations, logits, name, kwargs)
        self._record_config(
            image_size=(h, w),
            stage=stage,
            in_channels=in_channels,
            out_channels=out_channels,
            n_layers=n_layers,
            filters=filters,
            max_filters=max_filters,
            min_filters=min_filters,
            norm=norm,
        )
        self.base_size = (bh, bw)

    _config_keys = _constructor_args(__init__, last=("alpha",))

    @property
    def receptive_field(self):
        """int. Input pixels (at the current size) seen by one logit."""
        r = receptive_field(self.n_layers)
        for _ in range(self.stage):
            r = (r - 1) * 2 + 4
        return r


def __getattr__(name):
    # Growing a Pix2Pix with these networks is in
    # `pix2pix_keras.extensions.growing`, whose public names are importable
    # from here too; imported on first use, since growing imports this
    # module.
    from pix2pix_keras.extensions import growing

    if name in growing.__all__:
        return getattr(growing, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Conditional discriminators of pix2pix and pix2pixHD.

`PatchDiscriminator` (the 70×70 PatchGAN and its `n_layers` variants),
`PixelDiscriminator` (the 1×1 PixelGAN) and `MultiScaleDiscriminator`
(pix2pixHD's PatchGANs on a pyramid of downsampled pairs), all called as
`discriminator([source, image])` and returning raw logits. All three expose
`features(inputs)`, the intermediate activations that
`pix2pix_keras.losses.feature_matching_loss` compares, and take `spectral_norm=True` to wrap
every convolution in `keras.layers.SpectralNormalization`.
"""

import keras
from keras import layers

from pix2pix_keras._compat import get_untracked
from pix2pix_keras._compat import set_untracked
from pix2pix_keras.losses import feature_matching_loss  # noqa: F401
from pix2pix_keras.models.blocks import _apply_norm
from pix2pix_keras.models.blocks import _ConfigMixin
from pix2pix_keras.models.blocks import _constructor_args
from pix2pix_keras.models.blocks import conv_initializer
from pix2pix_keras.models.blocks import uses_bias
from pix2pix_keras.models.blocks import validate_norm
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.utils import check_int

__all__ = [
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "PixelDiscriminator",
    "receptive_field",
]


def receptive_field(n_layers=3, kernel_size=4):
    """Receptive field, in input pixels, of one PatchGAN output logit.

    The PatchGAN stacks `n_layers` stride-2 convolutions and two stride-1
    convolutions, all `kernel_size` wide; walking back from one output
    pixel, each layer maps a window `r` to `(r - 1) * stride + kernel`.

    Args:
        n_layers: int. Number of stride-2 convolutions. Defaults to `3`.
        kernel_size: int. Kernel size of every convolution. Defaults to `4`.

    Returns:
        int. 16, 34, 70, 142, 286 for `n_layers` 1 to 5.

    Example:
    >>> receptive_field(3)
    70
    """
    if not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(
            f"`n_layers` must be an int >= 1. Received: n_layers={n_layers!r}"
        )
    r = 1
    for stride in [1, 1] + [2] * n_layers:
        r = (r - 1) * stride + kernel_size
    return r


class _Hidden:
    """Holds a value out of reach of Keras tracking and `.keras` saving.

    Keras saves every attribute it finds in `dir(model)` that is a layer, a
    model or a list/dict/tuple; this holder is none of these, so the
    feature model it carries is neither counted in `weights` nor saved.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _hide(obj, attr, value):
    set_untracked(obj, attr, _Hidden(value))


def _check_args(norm, spectral_norm, in_channels, out_channels, **widths):
    """Checks `norm`, `spectral_norm`, then the int >= 1 channels and
    `widths`."""
    validate_norm(norm)
    if not isinstance(spectral_norm, bool):
        raise ValueError(
            f"`spectral_norm` must be a bool. Received: spectral_norm={spectral_norm!r}"
        )
    check_int(in_channels=in_channels, out_channels=out_channels, **widths)


def _check_patchgan_args(
    in_channels,
    out_channels,
    *,
    n_layers,
    filters,
    max_filters,
    norm,
    spectral_norm=False,
    **ints,
):
    """Checks the arguments of a PatchGAN in argument order: `n_layers`,
    `norm`, `spectral_norm`, then the widths (channels, filters, `ints`).

    Returns:
        int. `2 ** (n_layers + 1)`: each side of the pair the PatchGAN sees
        must be more than this (the `n_layers` stride-2 convolutions take
        a side `s` to `ceil(s / 2**n_layers)`; the two padded stride-1 4×4
        convolutions then remove 2 pixels, leaving at least one).
    """
    receptive_field(n_layers)  # validates n_layers
    _check_args(
        norm,
        spectral_norm,
        in_channels,
        out_channels,
        filters=filters,
        max_filters=max_filters,
        **ints,
    )
    return 2 ** (n_layers + 1)


def _pair_inputs(h, w, in_channels, out_channels):
    """The `source` and `image` inputs of a conditional discriminator."""
    return (
        keras.Input((h, w, in_channels), name="source"),
        keras.Input((h, w, out_channels), name="image"),
    )


def _conv(
    filters,
    kernel_size,
    *,
    strides=1,
    padding="valid",
    use_bias=True,
    spectral_norm=False,
    dtype=None,
    name,
):
    """A pix2pix `Conv2D`, wrapped in `SpectralNormalization` on request.

    The wrapper takes `name`, so `model.get_layer(name)` finds the layer
    either way; the wrapped convolution is its `.layer`.
    """
    conv = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=use_bias,
        kernel_initializer=conv_initializer(),
        dtype=dtype,
        name=f"{name}_inner" if spectral_norm else name,
    )
    if not spectral_norm:
        return conv
    return layers.SpectralNormalization(
        conv, power_iterations=1, dtype=dtype, name=name
    )


def _patchgan_options(n_layers, filters, max_filters, norm, spectral_norm=False):
    """The keyword arguments of `_patchgan` and `_check_patchgan_args`."""
    return dict(
        n_layers=n_layers,
        filters=filters,
        max_filters=max_filters,
        norm=norm,
        spectral_norm=spectral_norm,
    )


def _patchgan(x, *, n_layers, filters, max_filters, norm, spectral_norm, name):
    """The PatchGAN layers on `x`: `(LeakyReLU outputs, logits)`."""
    activations = []
    for i in range(n_layers + 1):
        f = min(filters * 2**i, max_filters)
        last = i == n_layers
        if last:
            x = layers.ZeroPadding2D(1, name=f"{name}_pad{i}")(x)
        x = _conv(
            f,
            4,
            strides=1 if last else 2,
            padding="valid" if last else "same",
            use_bias=i == 0 or uses_bias(norm),
            spectral_norm=spectral_norm,
            name=f"{name}_conv{i}",
        )(x)
        if i > 0:
            x = _apply_norm(x, norm, f"{name}_norm{i}")
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act{i}")(x)
        activations.append(x)
    x = layers.ZeroPadding2D(1, name=f"{name}_pad_out")(x)
    logits = _conv(
        1,
        4,
        spectral_norm=spectral_norm,
        dtype="float32",
        name=f"{name}_logits",
    )(x)
    return activations, logits


def _single_scale_features(model, inputs, training):
    """`[[activation, ..., logits]]` of a single-scale discriminator.

    The feature model is a second functional model over the same layers
    (same weights), built on first use and hidden from Keras, so
    `model.weights` and the `.keras` file are unchanged.
    """
    holder = get_untracked(model, "_feature_model")
    if holder is None:
        feature_model = keras.Model(
            inputs=model.inputs,
            outputs=list(model._feature_tensors.value) + list(model.outputs),
            name=f"{model.name}_features",
        )
        _hide(model, "_feature_model", feature_model)
    else:
        feature_model = holder.value
    return [list(feature_model(inputs, training=training))]


class _SingleScaleDiscriminator(_ConfigMixin, keras.Model):
    """A functional `[source, image] -> logits` net with `features()`."""

    def _finish(self, source, image, activations, logits, name, kwargs):
        # super(), not keras.Model.__init__: Keras swaps Functional into
        # the bases on the first functional construction, and calling
        # Model.__init__ again would swap it in twice.
        super().__init__(inputs=[source, image], outputs=logits, name=name, **kwargs)
        _hide(self, "_feature_tensors", activations)

    def features(self, inputs, training=False):
        """Intermediate activations and logits, for feature matching.

        Args:
            inputs: list `[source, image]` of `(batch, h, w, c)` tensors.
            training: bool. Mode of the normalization layers (and of
                spectral normalization, which updates the kernels when
                `True`). Defaults to `False`.

        Returns:
            A list of one list (one scale): the output of each LeakyReLU,
            then the logits, equal to `self(inputs, training=training)`.
        """
        return _single_scale_features(self, inputs, training)


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class PatchDiscriminator(_SingleScaleDiscriminator):
    """Conditional PatchGAN: classifies each N×N patch of a pair as real.

    The source image and the real or generated target are concatenated on
    the channel axis, then `n_layers` stride-2 4×4 convolutions (64·2^i
    filters capped at 512; the first not normalized), a stride-1 4×4
    convolution, and a stride-1 4×4 convolution to one logit per patch.
    With `n_layers=3` each logit sees a 70×70 window and a 256×256 pair
    gives 30×30 logits. Isola et al. 2017, https://arxiv.org/abs/1611.07004.

    Called as `discriminator([source, image])`; returns raw logits.
    `features([source, image])` also returns the activation after every
    LeakyReLU, for `feature_matching_loss`.

    With `spectral_norm=True` every convolution is wrapped in
    `keras.layers.SpectralNormalization` (Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957, one power iteration per call). Keras
    normalizes in place: each call with `training=True` divides the stored
    kernel by its estimated largest singular value before using it, so
    the gradient is taken at the normalized kernel (not through the
    division) and a call with `training=False` uses the kernel as stored.
    Each wrapper adds a non-trainable `vector_u` of one value per filter.

    Args:
        image_size: int or `(height, width)`. Defaults to `(256, 256)`.
        in_channels: int. Channels of the source image. Defaults to `3`.
        out_channels: int. Channels of the target image. Defaults to `3`.
        n_layers: int >= 1. Stride-2 convolutions; the receptive field is
            `receptive_field(n_layers)`. Defaults to `3`.
        filters: int. Filters of the first convolution. Defaults to `64`.
        max_filters: int. Cap on the filters. Defaults to `512`.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        spectral_norm: bool. Wrap every convolution in
            `keras.layers.SpectralNormalization`. Defaults to `False`.
        name: str. Model name. Defaults to `"discriminator"`.

    Example:
    >>> d = PatchDiscriminator(image_size=64, filters=8)
    >>> x = keras.ops.zeros((1, 64, 64, 3))
    >>> tuple(d([x, x]).shape)
    (1, 6, 6, 1)
    >>> [tuple(f.shape) for f in d.features([x, x])[0]]
    [(1, 32, 32, 8), (1, 16, 16, 16), (1, 8, 8, 32), (1, 7, 7, 64),
     (1, 6, 6, 1)]
    """

    def __init__(
        self,
        image_size=(256, 256),
        in_channels=3,
        out_channels=3,
        n_layers=3,
        filters=64,
        max_filters=512,
        norm="batch",
        spectral_norm=False,
        name="discriminator",
        **kwargs,
    ):
        h, w = _image_size(image_size)
        patchgan = _patchgan_options(
            n_layers, filters, max_filters, norm, spectral_norm
        )
        smallest = _check_patchgan_args(in_channels, out_channels, **patchgan)
        if min(h, w) <= smallest:
            raise ValueError(
                f"`image_size`={(h, w)} is too small for n_layers={n_layers}: "
                f"each side must be more than {smallest}."
            )

        source, image = _pair_inputs(h, w, in_channels, out_channels)
        x = layers.Concatenate(name=f"{name}_pair")([source, image])
        activations, logits = _patchgan(x, **patchgan, name=name)
        self._finish(source, image, activations, logits, name, kwargs)
        self._record_config(
            image_size=(h, w),
            in_channels=in_channels,
            out_channels=out_channels,
            **patchgan,
        )

    _config_keys = _constructor_args(__init__)

    @property
    def receptive_field(self):
        """int. Input pixels seen by one output logit."""
        return receptive_field(self.n_layers)


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class PixelDiscriminator(_SingleScaleDiscriminator):
    """Conditional 1×1 PixelGAN: classifies each pixel of a pair as real.

    The pix2pix paper's 1×1 "PixelGAN" (Isola et al. 2017,
    https://arxiv.org/abs/1611.07004), as `PixelDiscriminator` in the
    PyTorch reference (junyanz/pytorch-CycleGAN-and-pix2pix): source and
    image concatenated on channels → 1×1 conv `filters` (bias) →
    LeakyReLU(0.2) → 1×1 conv `2 * filters` → norm → LeakyReLU(0.2) → 1×1
    conv to one logit. The last two convolutions have a bias unless
    `norm="batch"`, as in the reference. Each logit sees one pixel of
    each input, so the GAN loss only judges colour, not structure.

    Called as `discriminator([source, image])`; returns raw logits of
    shape `(batch, h, w, 1)`.

    Args:
        image_size: int or `(height, width)`. Defaults to `(256, 256)`.
        in_channels: int. Channels of the source image. Defaults to `3`.
        out_channels: int. Channels of the target image. Defaults to `3`.
        filters: int. Filters of the first convolution. Defaults to `64`.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        spectral_norm: bool. Wrap every convolution in
            `keras.layers.SpectralNormalization` (see
            `PatchDiscriminator`). Defaults to `False`.
        name: str. Model name. Defaults to `"discriminator"`.

    Example:
    >>> d = PixelDiscriminator(image_size=32, filters=8)
    >>> x = keras.ops.zeros((1, 32, 32, 3))
    >>> tuple(d([x, x]).shape)
    (1, 32, 32, 1)
    >>> d.receptive_field
    1
    """

    def __init__(
        self,
        image_size=(256, 256),
        in_channels=3,
        out_channels=3,
        filters=64,
        norm="batch",
        spectral_norm=False,
        name="discriminator",
        **kwargs,
    ):
        h, w = _image_size(image_size)
        _check_args(norm, spectral_norm, in_channels, out_channels, filters=filters)
        bias = uses_bias(norm)

        source, image = _pair_inputs(h, w, in_channels, out_channels)
        x = layers.Concatenate(name=f"{name}_pair")([source, image])
        x = _conv(filters, 1, spectral_norm=spectral_norm, name=f"{name}_conv0")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act0")(x)
        activations = [x]
        x = _conv(
            2 * filters,
            1,
            use_bias=bias,
            spectral_norm=spectral_norm,
            name=f"{name}_conv1",
        )(x)
        x = _apply_norm(x, norm, f"{name}_norm1")
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act1")(x)
        activations.append(x)
        logits = _conv(
            1,
            1,
            use_bias=bias,
            spectral_norm=spectral_norm,
            dtype="float32",
            name=f"{name}_logits",
        )(x)
        self._finish(source, image, activations, logits, name, kwargs)
        self._record_config(
            image_size=(h, w),
            in_channels=in_channels,
            out_channels=out_channels,
            filters=filters,
            norm=norm,
            spectral_norm=spectral_norm,
        )

    _config_keys = _constructor_args(__init__)

    @property
    def receptive_field(self):
        """int. Input pixels seen by one output logit: `1`."""
        return 1


def _downsampled_sizes(h, w, num_scales):
    """`(h, w)` at each scale: 3×3 stride-2 'same' pooling gives ceil(s/2)."""
    sizes = [(h, w)]
    for _ in range(num_scales - 1):
        h, w = -(-h // 2), -(-w // 2)
        sizes.append((h, w))
    return sizes


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class MultiScaleDiscriminator(_ConfigMixin, keras.Model):
    """pix2pixHD's multi-scale discriminator: PatchGANs on an image pyramid.

    `num_scales` `PatchDiscriminator`s with identical architecture and
    their own weights. Scale 0 sees the full-resolution pair; scale `k`
    sees source and image average-pooled `k` times by a 3×3 stride-2
    window (padding excluded from the average, as pix2pixHD's
    `count_include_pad=False`), so with the same `n_layers` the coarse
    scales judge global structure and the fine scale local detail. Wang
    et al. 2018, https://arxiv.org/abs/1711.11585.

    Keras pools with 'same' padding, which for an even side pads one
    pixel at the bottom/right only (PyTorch's `padding=1` pads both
    sides): the pooling grid is offset by one pixel from pix2pixHD's; the
    output sizes, `ceil(side / 2)`, are the same.

    Called as `discriminator([source, image])`; returns a list of
    `num_scales` logits tensors, finest first. `features(inputs)` returns
    one list of activations and logits per scale.

    Args:
        image_size: int or `(height, width)`. Defaults to `(256, 256)`.
        in_channels: int. Channels of the source image. Defaults to `3`.
        out_channels: int. Channels of the target image. Defaults to `3`.
        num_scales: int >= 1. Number of discriminators. Defaults to `3`.
        n_layers: int >= 1. Stride-2 convolutions of each PatchGAN.
            Defaults to `3`.
        filters: int. Filters of each first convolution. Defaults to `64`.
        max_filters: int. Cap on the filters. Defaults to `512`.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        spectral_norm: bool. Wrap every convolution in
            `keras.layers.SpectralNormalization`. Defaults to `False`.
        name: str. Model name; scale `k` is the sub-model
            `f"{name}_scale{k}"`. Defaults to `"discriminator"`.

    Raises:
        ValueError: for a bad argument, or an `image_size` whose coarsest
            scale is too small for an `n_layers` PatchGAN.

    Example:
    >>> d = MultiScaleDiscriminator(image_size=64, n_layers=2, filters=8)
    >>> x = keras.ops.zeros((1, 64, 64, 3))
    >>> [tuple(y.shape) for y in d([x, x])]
    [(1, 14, 14, 1), (1, 6, 6, 1), (1, 2, 2, 1)]
    """

    # PatchDiscriminator's arguments, with `num_scales` after the channels.
    def __init__(
        self,
        image_size=(256, 256),
        in_channels=3,
        out_channels=3,
        num_scales=3,
        n_layers=3,
        filters=64,
        max_filters=512,
        norm="batch",
        spectral_norm=False,
        name="discriminator",
        **kwargs,
    ):
        h, w = _image_size(image_size)
        check_int(num_scales=num_scales)
        patchgan = _patchgan_options(
            n_layers, filters, max_filters, norm, spectral_norm
        )
        smallest = _check_patchgan_args(in_channels, out_channels, **patchgan)
        sizes = _downsampled_sizes(h, w, num_scales)
        if min(sizes[-1]) <= smallest:
            raise ValueError(
                f"`image_size`={(h, w)} is too small for num_scales="
                f"{num_scales} with n_layers={n_layers}: the coarsest scale "
                f"sees {sizes[-1]} pixels and each side must be more than "
                f"{smallest}. Use fewer scales, fewer layers or larger images."
            )

        source, image = _pair_inputs(h, w, in_channels, out_channels)
        s, x = source, image
        scales, pools, logits = [], [], []
        for k, size in enumerate(sizes):
            if k > 0:
                pool_s, pool_x = (
                    layers.AveragePooling2D(
                        3, strides=2, padding="same", name=f"{name}_down{k}_{p}"
                    )
                    for p in ("source", "image")
                )
                s, x = pool_s(s), pool_x(x)
                pools.append((pool_s, pool_x))
            d = PatchDiscriminator(
                image_size=size,
                in_channels=in_channels,
                out_channels=out_channels,
                **patchgan,
                name=f"{name}_scale{k}",
            )
            scales.append(d)
            logits.append(d([s, x]))
        super().__init__(inputs=[source, image], outputs=logits, name=name, **kwargs)
        _hide(self, "_parts", (scales, pools))
        self._record_config(
            image_size=(h, w),
            in_channels=in_channels,
            out_channels=out_channels,
            num_scales=num_scales,
            **patchgan,
        )

    _config_keys = _constructor_args(__init__)

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        # Functional models unwrap a single output; keep the list contract.
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return list(outputs)

    @property
    def scales(self):
        """list of `PatchDiscriminator`, finest first."""
        return list(self._parts.value[0])

    @property
    def scale_sizes(self):
        """list of `(height, width)`: the pair size each scale sees."""
        return _downsampled_sizes(*self.image_size, self.num_scales)

    @property
    def receptive_fields(self):
        """list of int: full-resolution pixels seen by a logit per scale.

        Each 3×3 stride-2 pooling maps a window `r` to `2 * (r - 1) + 3`.
        """
        r = receptive_field(self.n_layers)
        fields = [r]
        for _ in range(self.num_scales - 1):
            r = 2 * (r - 1) + 3
            fields.append(r)
        return fields

    def features(self, inputs, training=False):
        """Intermediate activations and logits of every scale.

        Args:
            inputs: list `[source, image]` of `(batch, h, w, c)` tensors.
            training: bool. Mode of the normalization layers. Defaults to
                `False`.

        Returns:
            A list of `num_scales` lists, finest first: the output of each
            of the `n_layers + 1` LeakyReLUs of that scale's PatchGAN, then
            its logits, equal to `self(inputs, training=training)[k]`.
        """
        scales, pools = self._parts.value
        s, x = inputs
        result = []
        for k, d in enumerate(scales):
            if k > 0:
                pool_s, pool_x = pools[k - 1]
                s, x = pool_s(s), pool_x(x)
            result.extend(d.features([s, x], training=training))
        return result

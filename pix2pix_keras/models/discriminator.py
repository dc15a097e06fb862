"""Conditional PatchGAN discriminator of pix2pix."""

import keras
from keras import layers

from pix2pix_keras.models.blocks import conv_initializer
from pix2pix_keras.models.blocks import make_norm
from pix2pix_keras.models.blocks import uses_bias
from pix2pix_keras.models.blocks import validate_norm
from pix2pix_keras.utils import check_int
from pix2pix_keras.models.generator import _image_size


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


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class PatchDiscriminator(keras.Model):
    """Conditional PatchGAN: classifies each N×N patch of a pair as real.

    The source image and the real or generated target are concatenated on
    the channel axis, then `n_layers` stride-2 4×4 convolutions (64·2^i
    filters capped at 512; the first not normalized), a stride-1 4×4
    convolution, and a stride-1 4×4 convolution to one logit per patch.
    With `n_layers=3` each logit sees a 70×70 window and a 256×256 pair
    gives 30×30 logits. Isola et al. 2017, https://arxiv.org/abs/1611.07004.

    Called as `discriminator([source, image])`; returns raw logits.

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
        name: str. Model name. Defaults to `"discriminator"`.

    Example:
    >>> d = PatchDiscriminator(image_size=64, filters=8)
    >>> x = keras.ops.zeros((1, 64, 64, 3))
    >>> tuple(d([x, x]).shape)
    (1, 6, 6, 1)
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
        name="discriminator",
        **kwargs,
    ):
        h, w = _image_size(image_size)
        receptive_field(n_layers)  # validates n_layers
        validate_norm(norm)
        check_int(
            in_channels=in_channels,
            out_channels=out_channels,
            filters=filters,
            max_filters=max_filters,
        )
        # n stride-2 convs take a side s to ceil(s / 2**n); the two padded
        # stride-1 4x4 convs then remove 2 pixels, leaving at least one.
        if min(h, w) <= 2 ** (n_layers + 1):
            raise ValueError(
                f"`image_size`={(h, w)} is too small for n_layers={n_layers}: "
                f"each side must be more than {2 ** (n_layers + 1)}."
            )

        source = keras.Input((h, w, in_channels), name="source")
        image = keras.Input((h, w, out_channels), name="image")
        x = layers.Concatenate(name=f"{name}_pair")([source, image])
        for i in range(n_layers + 1):
            f = min(filters * 2**i, max_filters)
            last = i == n_layers
            if last:
                x = layers.ZeroPadding2D(1, name=f"{name}_pad{i}")(x)
            x = layers.Conv2D(
                f,
                4,
                strides=1 if last else 2,
                padding="valid" if last else "same",
                use_bias=i == 0 or uses_bias(norm),
                kernel_initializer=conv_initializer(),
                name=f"{name}_conv{i}",
            )(x)
            if i > 0:
                norm_layer = make_norm(norm, f"{name}_norm{i}")
                if norm_layer is not None:
                    x = norm_layer(x)
            x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act{i}")(x)
        x = layers.ZeroPadding2D(1, name=f"{name}_pad_out")(x)
        logits = layers.Conv2D(
            1,
            4,
            strides=1,
            padding="valid",
            kernel_initializer=conv_initializer(),
            dtype="float32",
            name=f"{name}_logits",
        )(x)
        super().__init__(
            inputs=[source, image], outputs=logits, name=name, **kwargs
        )

        self.image_size = (h, w)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_layers = n_layers
        self.filters = filters
        self.max_filters = max_filters
        self.norm = norm

    @property
    def receptive_field(self):
        """int. Input pixels seen by one output logit."""
        return receptive_field(self.n_layers)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "n_layers": self.n_layers,
            "filters": self.filters,
            "max_filters": self.max_filters,
            "norm": self.norm,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

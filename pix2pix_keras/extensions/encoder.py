"""BicycleGAN's latent encoder E.

`LatentEncoder` maps an image to the mean and log-variance of a Gaussian
latent code (the reference's `E_ResNet`);
`pix2pix_keras.losses.kl_divergence` is the KL term that pulls it towards
N(0, I).
"""

import math

import keras
from keras import layers

from pix2pix_keras.losses import kl_divergence  # noqa: F401
from pix2pix_keras.models.blocks import _apply_norm
from pix2pix_keras.models.blocks import _ConfigMixin
from pix2pix_keras.models.blocks import _constructor_args
from pix2pix_keras.models.blocks import conv_initializer
from pix2pix_keras.models.blocks import validate_norm
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.utils import check_int

__all__ = ["LatentEncoder", "apply_encoder_block", "default_encoder_blocks"]


def default_encoder_blocks(image_size):
    """`n_blocks` of `LatentEncoder` that leaves an 8-pixel side, as the
    reference's `resnet_256` (5 blocks) and `resnet_128` (4); at least 1."""
    h, w = _image_size(image_size)
    return max(1, int(math.floor(math.log2(min(h, w)))) - 3)


def apply_encoder_block(x, filters, *, norm="instance", name):
    """Residual down block of the BicycleGAN encoder (`BasicBlock`).

    Main path: norm → LeakyReLU(0.2) → conv 3×3 (same width) → norm →
    LeakyReLU → conv 3×3 to `filters` → 2×2 average pool. Shortcut: 2×2
    average pool → conv 1×1 to `filters`. The two are added.

    Args:
        x: symbolic tensor `(batch, h, w, c)`.
        filters: int. Output channels.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"instance"`.
        name: str. Prefix of the layer names.

    Returns:
        Symbolic tensor `(batch, h // 2, w // 2, filters)`.
    """
    channels = x.shape[-1]
    init = conv_initializer()
    shortcut = layers.AveragePooling2D(2, name=f"{name}_short_pool")(x)
    shortcut = layers.Conv2D(
        filters, 1, kernel_initializer=init, name=f"{name}_short_conv"
    )(shortcut)
    y = x
    for i, width in enumerate((channels, filters)):
        y = _apply_norm(y, norm, f"{name}_norm{i}")
        y = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act{i}")(y)
        y = layers.Conv2D(
            width,
            3,
            padding="same",
            kernel_initializer=init,
            name=f"{name}_conv{i}",
        )(y)
    y = layers.AveragePooling2D(2, name=f"{name}_pool")(y)
    return layers.Add(name=f"{name}_add")([y, shortcut])


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class LatentEncoder(_ConfigMixin, keras.Model):
    """ResNet encoder of BicycleGAN: an image to `μ` and `log σ²`.

    The reference's `E_ResNet` (junyanz/BicycleGAN `models/networks.py`):
    a 4×4 stride-2 convolution to `filters`, `n_blocks - 1` residual down
    blocks (`apply_encoder_block`) widening to `filters·min(max_multiplier,
    i + 1)`, LeakyReLU(0.2), average pooling and two dense heads for `μ`
    and `log σ²`. The reference pools an 8×8 map with a fixed 8×8 window;
    a global average pool gives the same numbers there and accepts any
    image size. Zhu et al. 2017, https://arxiv.org/abs/1711.11586.

    Args:
        image_size: int or `(height, width)`. Input size; each side must
            be at least `2**n_blocks`. Defaults to `(256, 256)`.
        in_channels: int. Channels of the encoded images (the targets).
            Defaults to `3`.
        latent_dim: int. Size of `z`. Defaults to `8`.
        filters: int. Filters of the first convolution. Defaults to `64`.
        n_blocks: int >= 1 or `None`. Number of stride-2 stages (the first
            convolution counts as one); `None` leaves an 8-pixel side (5 at
            256, 4 at 128, as `resnet_256` / `resnet_128`). Defaults to
            `None`.
        max_multiplier: int. Cap on the width multiplier. Defaults to `4`.
        norm: str. `"instance"` (reference default), `"batch"` or
            `"none"`. Defaults to `"instance"`.
        name: str. Model name. Defaults to `"encoder"`.

    Example:
    >>> e = LatentEncoder(image_size=32, filters=8, latent_dim=8)
    >>> mu, log_var = e(keras.ops.zeros((2, 32, 32, 3)))
    >>> tuple(mu.shape), tuple(log_var.shape)
    ((2, 8), (2, 8))
    """

    def __init__(
        self,
        image_size=(256, 256),
        in_channels=3,
        latent_dim=8,
        filters=64,
        n_blocks=None,
        max_multiplier=4,
        norm="instance",
        name="encoder",
        **kwargs,
    ):
        h, w = _image_size(image_size)
        if n_blocks is None:
            n_blocks = default_encoder_blocks((h, w))
        check_int(
            in_channels=in_channels,
            latent_dim=latent_dim,
            filters=filters,
            n_blocks=n_blocks,
            max_multiplier=max_multiplier,
        )
        validate_norm(norm)
        if min(h, w) < 2**n_blocks:
            raise ValueError(
                f"`image_size` {(h, w)} is too small for n_blocks={n_blocks}: "
                f"each side must be at least 2**n_blocks = {2**n_blocks}."
            )
        init = conv_initializer()
        inputs = keras.Input((h, w, in_channels), name="image")
        x = layers.Conv2D(
            filters,
            4,
            strides=2,
            padding="same",
            kernel_initializer=init,
            name=f"{name}_conv",
        )(inputs)
        for i in range(1, n_blocks):
            x = apply_encoder_block(
                x,
                filters * min(max_multiplier, i + 1),
                norm=norm,
                name=f"{name}_block{i}",
            )
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_act")(x)
        x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
        heads = [
            layers.Dense(
                latent_dim,
                kernel_initializer=init,
                dtype="float32",
                name=f"{name}_{head}",
            )(x)
            for head in ("mu", "log_var")
        ]
        super().__init__(inputs=inputs, outputs=heads, name=name, **kwargs)
        self._record_config(
            image_size=(h, w),
            in_channels=in_channels,
            latent_dim=latent_dim,
            filters=filters,
            n_blocks=n_blocks,
            max_multiplier=max_multiplier,
            norm=norm,
        )

    _config_keys = _constructor_args(__init__)

"""ResNet generator (Johnson et al. 2016), the CycleGAN / pix2pixHD one."""

import keras
from keras import layers

from pix2pix_keras.models.blocks import ConcatLatent
from pix2pix_keras.models.blocks import ReflectionPadding2D
from pix2pix_keras.models.blocks import ResidualBlock
from pix2pix_keras.models.blocks import _apply_norm
from pix2pix_keras.models.blocks import _ConfigMixin
from pix2pix_keras.models.blocks import _constructor_args
from pix2pix_keras.models.blocks import conv_initializer
from pix2pix_keras.models.blocks import uses_bias
from pix2pix_keras.models.blocks import validate_norm
from pix2pix_keras.models.generator import InferenceDropoutMixin
from pix2pix_keras.models.generator import InferenceStatisticsMixin
from pix2pix_keras.models.generator import LatentInputMixin
from pix2pix_keras.models.generator import _generator_inputs
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.models.generator import check_latent
from pix2pix_keras.utils import check_int

__all__ = ["ResnetGenerator"]


def _chain(first, second):
    return lambda x: second(first(x))


def _conv_norm_relu(x, conv, norm, name):
    x = _apply_norm(conv(x), norm, f"{name}_norm")
    return layers.ReLU(name=f"{name}_act")(x)


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class ResnetGenerator(
    InferenceStatisticsMixin,
    _ConfigMixin,
    LatentInputMixin,
    InferenceDropoutMixin,
    keras.Model,
):
    """ResNet generator: downsampling, residual blocks, upsampling.

    The image-transformation network of Johnson et al. 2016
    (https://arxiv.org/abs/1603.08155) as CycleGAN uses it
    (https://arxiv.org/abs/1703.10593, junyanz `ResnetGenerator`):

    - `c7s1-filters`: reflection pad 3, conv 7×7, norm, ReLU;
    - `n_downsampling` convs 3×3 stride 2 doubling the width
      (`d128, d256`), each with norm and ReLU;
    - `n_blocks` `ResidualBlock`s at `filters·2**n_downsampling` channels
      (two 3×3 convs with reflection padding and norm; dropout between
      them when `dropout > 0`);
    - `n_downsampling` transposed convs 3×3 stride 2 halving the width
      (`u128, u64`), each with norm and ReLU;
    - `c7s1-out_channels`: reflection pad 3, conv 7×7, tanh (float32).

    Nine blocks are the reference for 256×256 images and six for 128×128.
    Convolutions before a batch norm have no bias; with the default
    affine-free instance norm they keep it, as in the PyTorch reference,
    which gives the same 11,378,179 parameters at the defaults.

    The stride-2 convolutions use Keras `"same"` padding, which pads only
    the bottom and right (PyTorch pads 1 on every side and crops the
    transposed conv's output on the top and left instead); the shapes and
    parameter counts are the same, the sampling grid is shifted by one
    pixel.

    `pytorch_layout=True` builds the PyTorch reference's network exactly
    (for converted checkpoints, `pix2pix_keras.convert_pytorch`): the
    stride-2 convolutions pad 1 pixel on every side, the transposed
    convolutions crop their output on the top and left. Same parameters
    and layer names otherwise (with `norm="none"` the reference's
    convolutions have no bias; converted ones get zero biases).

    Inference is deterministic by default. With `dropout > 0`,
    `inference_dropout=True` keeps the dropout layers on at inference; it
    is saved with the model. Set it on a built model through the
    `inference_dropout` property.

    The network is fully convolutional: a model built at one size
    translates other sizes (multiples of `2**n_downsampling`) with the same
    weights (`pix2pix_keras.translate_tiled` rebuilds it at its tile size).

    `latent_dim > 0` adds a noise input as in `UNetGenerator`: the model
    takes `[image, latent]`, draws `z ~ N(0, I)` when called with the image
    alone, and concatenates the tiled `z` to the image
    (`latent_injection="input"`) or to the input of the first convolution
    and of every downsampling convolution (`"all"`). It needs
    `norm="batch"` or `"none"`: every convolution here is followed by a
    norm, and instance norm removes a spatially constant input exactly.
    Batch norm does the same in training mode with batch size 1 (the
    batch statistics are the image's own), so train with batches of at
    least 2 images, or use `norm="none"`.

    Args:
        image_size: int or `(height, width)`. Both must be divisible by
            `2**n_downsampling` and leave at least 2 pixels at the
            residual blocks (their reflection padding needs them).
            Defaults to `(256, 256)`.
        in_channels: int. Input channels. Defaults to `3`.
        out_channels: int. Output channels. Defaults to `3`.
        filters: int. Filters of the first convolution. Defaults to `64`.
        n_blocks: int >= 0. Number of residual blocks. Defaults to `9`.
        n_downsampling: int >= 0. Number of stride-2 convolutions (and of
            transposed convolutions). Defaults to `2`.
        norm: str. `"instance"`, `"batch"` or `"none"`. Defaults to
            `"instance"`.
        dropout: float in [0, 1). Dropout rate inside the residual blocks.
            Defaults to `0.0`.
        inference_dropout: bool. Keep dropout on when `training=False`
            (stochastic `predict()` and export). Defaults to `False`.
        inference_statistics: str or `None`. With `norm="batch"`, what
            batch norm normalizes with at inference: `"image"` (each
            image's own statistics, as in training at batch size 1) or
            `"moving"` (the moving averages; needed for exact tiled
            inference). `None` picks `"image"`, or `"moving"` with a noise
            input (`latent_dim > 0`): per-image statistics would remove the
            spatially constant code, as instance norm does. Defaults to
            `None`.
        latent_dim: int >= 0. Size of the latent code `z`; `0` for no
            noise input. Defaults to `0`.
        latent_injection: str. `"input"` or `"all"` (see above). Defaults
            to `"input"`.
        pytorch_layout: bool. The PyTorch reference's padding (see
            above). Defaults to `False`.
        name: str. Model name. Defaults to `"resnet_generator"`.

    Raises:
        ValueError: if an argument is out of range; the message names it.

    Example:
    >>> g = ResnetGenerator(image_size=32, filters=8, n_blocks=2)
    >>> tuple(g(keras.ops.zeros((2, 32, 32, 3))).shape)
    (2, 32, 32, 3)
    """

    def __init__(
        self,
        image_size=(256, 256),
        in_channels=3,
        out_channels=3,
        filters=64,
        n_blocks=9,
        n_downsampling=2,
        norm="instance",
        dropout=0.0,
        inference_dropout=False,
        inference_statistics=None,
        latent_dim=0,
        latent_injection="input",
        pytorch_layout=False,
        name="resnet_generator",
        **kwargs,
    ):
        h, w = _image_size(image_size)
        check_int(in_channels=in_channels, out_channels=out_channels, filters=filters)
        check_int(minimum=0, n_blocks=n_blocks, n_downsampling=n_downsampling)
        factor = 2**n_downsampling
        if h % factor or w % factor:
            raise ValueError(
                "`image_size` must be divisible by 2**n_downsampling = "
                f"{factor} (n_downsampling={n_downsampling}). Received: "
                f"image_size={(h, w)}."
            )
        # Reflection padding needs a side longer than the padding: 3 for
        # the 7×7 convolutions, 1 for the residual blocks.
        if min(h, w) < 4 or min(h, w) // factor < 2:
            raise ValueError(
                "`image_size` is too small: the sides must be at least 4 "
                "and at least 2 at the residual blocks (image_size / "
                f"2**n_downsampling). Received: image_size={(h, w)} with "
                f"n_downsampling={n_downsampling}."
            )
        validate_norm(norm)
        if isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        check_latent(latent_dim, latent_injection)
        if not isinstance(pytorch_layout, bool):
            raise ValueError(
                "`pytorch_layout` must be True or False. Received: "
                f"pytorch_layout={pytorch_layout!r}"
            )
        if latent_dim and norm == "instance":
            # z is constant over the image plane, so after any convolution
            # its contribution is a per-channel constant, which instance
            # norm subtracts exactly: every norm here follows a convolution.
            raise ValueError(
                "`latent_dim` > 0 needs norm='batch' or norm='none' in a "
                "ResnetGenerator: instance norm removes the spatially "
                "constant code z exactly (each of its convolutions is "
                "followed by a norm). Received: norm='instance'."
            )
        bias = uses_bias(norm)
        # The reference pads the strided convolutions by 1 on every side and
        # crops its transposed convolutions' output on the top and left.
        padding = "valid" if pytorch_layout else "same"
        init = conv_initializer()

        x, latent, inputs = _generator_inputs(h, w, in_channels, latent_dim)
        if latent_dim:
            x = ConcatLatent(name=f"{name}_latent0")([x, latent])
        x = ReflectionPadding2D(3, name=f"{name}_in_pad")(x)
        conv = layers.Conv2D(
            filters,
            7,
            use_bias=bias,
            kernel_initializer=init,
            name=f"{name}_in_conv",
        )
        x = _conv_norm_relu(x, conv, norm, f"{name}_in")
        for i in range(n_downsampling):
            if latent_dim and latent_injection == "all":
                x = ConcatLatent(name=f"{name}_latent{i + 1}")([x, latent])
            if pytorch_layout:
                x = layers.ZeroPadding2D(1, name=f"{name}_down{i}_pad")(x)
            conv = layers.Conv2D(
                filters * 2 ** (i + 1),
                3,
                strides=2,
                padding=padding,
                use_bias=bias,
                kernel_initializer=init,
                name=f"{name}_down{i}_conv",
            )
            x = _conv_norm_relu(x, conv, norm, f"{name}_down{i}")
        for i in range(n_blocks):
            x = ResidualBlock(norm=norm, dropout=float(dropout), name=f"{name}_res{i}")(
                x
            )
        for i in range(n_downsampling):
            conv = layers.Conv2DTranspose(
                filters * 2 ** (n_downsampling - i - 1),
                3,
                strides=2,
                padding=padding,
                use_bias=bias,
                kernel_initializer=init,
                name=f"{name}_up{i}_conv",
            )
            if pytorch_layout:
                crop = layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_up{i}_crop")
                conv = _chain(conv, crop)
            x = _conv_norm_relu(x, conv, norm, f"{name}_up{i}")
        x = ReflectionPadding2D(3, name=f"{name}_out_pad")(x)
        outputs = layers.Conv2D(
            out_channels,
            7,
            activation="tanh",
            kernel_initializer=init,
            dtype="float32",
            name=f"{name}_output",
        )(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        self._record_config(
            image_size=(h, w),
            in_channels=in_channels,
            out_channels=out_channels,
            filters=filters,
            n_blocks=n_blocks,
            n_downsampling=n_downsampling,
            norm=norm,
            dropout=float(dropout),
            pytorch_layout=pytorch_layout,
        )
        self._init_latent(latent_dim, latent_injection, name)
        self.inference_dropout = inference_dropout
        if inference_statistics is None:
            inference_statistics = "moving" if latent_dim else "image"
        self.inference_statistics = inference_statistics

    _config_keys = _constructor_args(__init__)

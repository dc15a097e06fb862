"""U-Net generator of pix2pix."""

import math

import keras
from keras import layers

from pix2pix_keras._compat import flatten_layers
from pix2pix_keras.models.blocks import ConcatLatent
from pix2pix_keras.models.blocks import LatentNoise
from pix2pix_keras.models.blocks import NoiseDropout
from pix2pix_keras.models.blocks import ResidualBlock
from pix2pix_keras.models.blocks import _apply_norm
from pix2pix_keras.models.blocks import _ConfigMixin
from pix2pix_keras.models.blocks import _constructor_args
from pix2pix_keras.models.blocks import _stride2_conv
from pix2pix_keras.models.blocks import apply_attention_gate
from pix2pix_keras.models.blocks import apply_downsample
from pix2pix_keras.models.blocks import apply_upsample
from pix2pix_keras.models.blocks import conv_initializer
from pix2pix_keras.models.blocks import validate_norm
from pix2pix_keras.models.inference import InferenceDropoutMixin
from pix2pix_keras.models.inference import InferenceStatisticsMixin
from pix2pix_keras.models.inference import set_inference_dropout  # noqa: F401
from pix2pix_keras.utils import check_int

__all__ = [
    "LATENT_INJECTIONS",
    "LatentInputMixin",
    "UNetGenerator",
    "check_latent",
    "default_depth",
]


def _image_size(image_size, arg_name="image_size"):
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{arg_name}` must be an int or a (height, width) pair. "
            f"Received: {arg_name}={image_size!r}"
        ) from None
    if h < 1 or w < 1:
        raise ValueError(
            f"`{arg_name}` must be positive. Received: {arg_name}={image_size!r}"
        )
    return h, w


def default_depth(image_size):
    """Number of down blocks that takes `image_size` to a 1-pixel side.

    `8` for 256×256 and `7` for 128×128, as in the paper; for non-square
    images the shorter side decides (64×128 → 6, bottleneck 1×2).
    """
    h, w = _image_size(image_size)
    return int(math.floor(math.log2(min(h, w))))


def _resolve_depth(depth, image_size):
    """`depth` (`None`: `default_depth(image_size)`), checked to be >= 2."""
    if depth is None:
        depth = default_depth(image_size)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 2:
        raise ValueError(f"`depth` must be an int >= 2. Received: depth={depth!r}")
    return depth


def _set_bn_momentum(model, momentum):
    """Sets the momentum of every `BatchNormalization` layer of `model`."""
    for layer in flatten_layers(model, include_self=False):
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = float(momentum)


LATENT_INJECTIONS = ("input", "all")


def check_latent(latent_dim, latent_injection):
    """Validates the `latent_dim` / `latent_injection` generator arguments."""
    if (
        isinstance(latent_dim, bool)
        or not isinstance(latent_dim, int)
        or (latent_dim < 0)
    ):
        raise ValueError(
            "`latent_dim` must be an int >= 0 (0: no noise input). "
            f"Received: latent_dim={latent_dim!r}"
        )
    if latent_injection not in LATENT_INJECTIONS:
        raise ValueError(
            f"`latent_injection` must be one of {LATENT_INJECTIONS}. "
            f"Received: latent_injection={latent_injection!r}"
        )


def _generator_inputs(h, w, in_channels, latent_dim):
    """`(image, latent, model inputs)`; `latent` is `None` if `latent_dim=0`."""
    image = keras.Input((h, w, in_channels), name="image")
    if not latent_dim:
        return image, None, image
    latent = keras.Input((latent_dim,), name="latent")
    return image, latent, [image, latent]


def _as_tensor(x):
    if x is None or isinstance(x, keras.KerasTensor) or keras.ops.is_tensor(x):
        return x
    return keras.ops.convert_to_tensor(x, "float32")


class LatentInputMixin:
    """The noise input of the package's generators (`latent_dim > 0`).

    A generator with `latent_dim > 0` is a functional model with two
    inputs, `[image, latent]`: `image` of shape `(batch, h, w, channels)`
    and `latent` of shape `(batch, latent_dim)`. Called with the image
    alone (as `Pix2Pix.fit`, `predict()` and the serving signature call
    it) it draws `z ~ N(0, I)` with its `latent_noise` layer and runs
    `[image, z]`. With `latent_dim == 0` nothing changes: one input, the
    classic network.
    """

    def _init_latent(self, latent_dim, latent_injection, name):
        self.latent_dim = latent_dim
        self.latent_injection = latent_injection
        # Not part of the functional graph (the graph takes z as an
        # input); a tracked attribute, so its RNG state is among the
        # model's variables and travels into an export.
        self.latent_noise = (
            LatentNoise(latent_dim, name=f"{name}_latent_noise") if latent_dim else None
        )

    def _with_latent(self, inputs):
        """`inputs` with a sampled `z` where none was given."""
        if not getattr(self, "latent_dim", 0):
            return inputs
        # Arrays become tensors: Keras refuses a call argument that mixes
        # the two (an array image with a tensor code).
        if isinstance(inputs, dict):
            if "image" not in inputs:
                return inputs
            image = _as_tensor(inputs["image"])
            latent = inputs.get("latent")
            latent = self.latent_noise(image) if latent is None else _as_tensor(latent)
            return {**inputs, "image": image, "latent": latent}
        if isinstance(inputs, (list, tuple)):
            if not 1 <= len(inputs) <= 2:
                return inputs
            image = _as_tensor(inputs[0])
            latent = inputs[1] if len(inputs) == 2 else None
            latent = self.latent_noise(image) if latent is None else _as_tensor(latent)
            return [image, latent]
        image = _as_tensor(inputs)
        return [image, self.latent_noise(image)]

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._with_latent(inputs), *args, **kwargs)

    def sample_latent(self, batch_size):
        """Draws `batch_size` codes `z ~ N(0, I)` from the generator's RNG.

        Args:
            batch_size: int. Number of codes.

        Returns:
            Float tensor `(batch_size, latent_dim)`.
        """
        self._require_latent("sample_latent()")
        return keras.random.normal(
            (batch_size, self.latent_dim),
            seed=self.latent_noise.seed_generator,
        )

    def translate(self, x, z=None, training=False):
        """Translates `x` with the latent code `z` (sampled when `None`).

        `generator.translate(x, z)` is `generator([x, z])` and
        `generator.translate(x)` is `generator(x)`.

        Args:
            x: float `(batch, h, w, in_channels)` in [-1, 1].
            z: float `(batch, latent_dim)` or `None` (draw `z ~ N(0, I)`).
                Defaults to `None`.
            training: bool. Training mode (batch statistics, dropout).
                Defaults to `False`.

        Returns:
            Float tensor `(batch, h, w, out_channels)` in [-1, 1].

        Raises:
            ValueError: if `z` is given to a generator without noise input.
        """
        if z is None:
            return self(x, training=training)
        self._require_latent("translate(x, z)")
        return self([x, z], training=training)

    def _require_latent(self, what):
        if not getattr(self, "latent_dim", 0):
            raise ValueError(
                f"{what} needs a generator with a noise input, but "
                f"{self.name!r} has latent_dim=0: build it with "
                "latent_dim > 0."
            )

    def export(
        self,
        filepath,
        format="tf_saved_model",
        verbose=None,
        input_signature=None,
        **kwargs,
    ):
        """Exports the generator; with a noise input, with two endpoints.

        Without a noise input this is `keras.Model.export`. With
        `latent_dim > 0` and `format="tf_saved_model"` the SavedModel has

        - `serve(image)` (also `serving_default`): draws a new
          `z ~ N(0, I)` per image at every call;
        - `serve_latent(image, latent)`: uses the given codes, so equal
          codes give equal outputs.

        `image` is float32 `(batch, height, width, channels)` in [-1, 1]
        (`input_signature[0]`, default free batch, height and width);
        `latent` is float32 `(batch, latent_dim)` (`input_signature[1]` if
        given). Other formats (`"onnx"`, `"litert"`) hold no random
        state: `pix2pix_keras.export_generator` writes them with the two
        inputs `image` and `latent`.
        """
        if not getattr(self, "latent_dim", 0) or format != "tf_saved_model":
            return super().export(
                filepath,
                format=format,
                verbose=verbose,
                input_signature=input_signature,
                **kwargs,
            )
        specs = list(input_signature or [])
        if not specs:
            specs = [
                keras.InputSpec(
                    shape=(None, None, None, self.inputs[0].shape[-1]),
                    dtype="float32",
                    name="image",
                )
            ]
        if len(specs) == 1:
            specs.append(
                keras.InputSpec(
                    shape=(None, self.latent_dim),
                    dtype="float32",
                    name="latent",
                )
            )
        archive = keras.export.ExportArchive()
        archive.track(self)
        archive.add_endpoint(
            "serve",
            lambda image: self(image, training=False),
            input_signature=specs[:1],
            **kwargs,
        )
        archive.add_endpoint(
            "serve_latent",
            lambda image, latent: self([image, latent], training=False),
            input_signature=specs[:2],
            **kwargs,
        )
        archive.write_out(filepath, verbose=True if verbose is None else verbose)


def _check_pytorch_layout(**used):
    """Refuses the options that `pytorch_layout=True` does not support."""
    bad = [key for key, value in used.items() if value]
    if bad:
        raise ValueError(
            "`pytorch_layout=True` builds the PyTorch reference's network "
            f"exactly and cannot be combined with {', '.join(bad)} (leave "
            "them at their defaults)."
        )


def _unet_output(x, out_channels, name):
    """The U-Net's last up block: a 4×4 stride-2 transposed convolution to
    `out_channels` with tanh, in float32 under any mixed precision."""
    return layers.Conv2DTranspose(
        out_channels,
        4,
        strides=2,
        padding="same",
        activation="tanh",
        kernel_initializer=conv_initializer(),
        dtype="float32",
        name=f"{name}_output",
    )(x)


def _pytorch_unet(
    h, w, encoder_filters, in_channels, out_channels, norm, dropout, num_dropout, name
):
    """The PyTorch reference's U-Net (`UnetGenerator` of
    junyanz/pytorch-CycleGAN-and-pix2pix), layer for layer.

    Down block `k` is conv 4×4 stride 2 and norm (none on the first and the
    innermost); its LeakyReLU(0.2) is applied by the next down block. The
    skip of level `k` is `ReLU(d_k)` (the reference's in-place
    LeakyReLU followed by its up block's ReLU), the innermost up block
    takes `ReLU(d_innermost)`, and the concatenation is `[skip, up]`.
    Dropout follows up blocks `1..num_dropout` (the reference's innermost
    block has none). Same layer names as the default network.
    """
    depth = len(encoder_filters)
    x = inputs = keras.Input((h, w, in_channels), name="image")
    pre = []  # d_k: conv (+ norm) outputs, before any activation
    for i, f in enumerate(encoder_filters):
        if i > 0:
            x = layers.LeakyReLU(negative_slope=0.2, name=f"{name}_down{i - 1}_act")(
                pre[-1]
            )
        x = _stride2_conv(layers.Conv2D, x, f, norm, f"{name}_down{i}")
        if 0 < i < depth - 1:
            x = _apply_norm(x, norm, f"{name}_down{i}_norm")
        pre.append(x)
    x = layers.ReLU(name=f"{name}_down{depth - 1}_relu")(pre[-1])
    decoder_filters = encoder_filters[-2::-1]
    for i, f in enumerate(decoder_filters):
        x = _stride2_conv(layers.Conv2DTranspose, x, f, norm, f"{name}_up{i}")
        x = _apply_norm(x, norm, f"{name}_up{i}_norm")
        if dropout > 0 and 1 <= i <= num_dropout:
            x = NoiseDropout(dropout, name=f"{name}_up{i}_dropout")(x)
        x = layers.ReLU(name=f"{name}_up{i}_act")(x)
        skip = layers.ReLU(name=f"{name}_skip{i}_relu")(pre[depth - 2 - i])
        x = layers.Concatenate(name=f"{name}_skip{i}")([skip, x])
    return inputs, _unet_output(x, out_channels, name)


def _residual_stack(x, n, norm, *, name):
    for j in range(n):
        x = ResidualBlock(norm=norm, name=f"{name}_res{j}")(x)
    return x


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class UNetGenerator(
    InferenceStatisticsMixin,
    _ConfigMixin,
    LatentInputMixin,
    InferenceDropoutMixin,
    keras.Model,
):
    """The pix2pix U-Net generator: encoder, decoder and skip connections.

    Each of `depth` down blocks halves the resolution (conv 4×4 stride 2,
    norm, LeakyReLU 0.2; 64·2^i filters capped at `max_filters`); `depth - 1`
    up blocks double it (transposed conv, norm, dropout on the first
    `num_dropout`, ReLU) and concatenate the mirrored encoder output. A
    final transposed conv with tanh maps to `out_channels` in [-1, 1].
    Isola et al. 2017, https://arxiv.org/abs/1611.07004.

    The first down block is not normalized (paper), and neither is the
    innermost one: its output is 1×1 at the default depth, where batch norm
    with batch size 1 (and instance norm at any batch size) would replace
    every activation with the learned offset and cut the bottleneck off.
    The PyTorch reference leaves it unnormalized for the same reason.
    Batch norm uses momentum 0.9 (PyTorch's 0.1). `normalize_innermost=True,
    bn_momentum=0.99, inference_statistics="moving"` rebuilds the classic
    TensorFlow-tutorial network.

    At inference batch norm normalizes each image with its own statistics
    (`inference_statistics="image"`, the paper's test-time rule): for a
    network trained with batch size 1 that is exactly the function it was
    trained as, and an image's output does not depend on its batch.
    `inference_statistics="moving"` uses the moving averages instead (see
    `docs/inference.md` for when each is better).

    Inference is deterministic by default. `inference_dropout=True` keeps
    the dropout layers on at inference (the paper's noise, for diverse
    outputs); it is saved with the model and carried into an export. Set it
    on a built model through the `inference_dropout` property.

    Two options change the network around the blocks, both off by default:

    - `attention=True` gates every skip connection (Attention U-Net, Oktay
      et al. 2018, https://arxiv.org/abs/1804.03999): the up block's output
      `g` and the encoder output `x` it is joined with give coefficients
      `alpha = sigmoid(psi(relu(theta(x) + phi(g))))` in [0, 1], one per
      pixel, and `[g, x * alpha]` is concatenated instead of `[g, x]`
      (see `blocks.apply_attention_gate`; `F_int = max(1, C_x // 2)`). The
      coefficients of skip `i` (innermost first) are the output of the
      layer `f"{name}_att{i}_coef"`, shape `(batch, h, w, 1)`.
    - `residual_blocks=n` appends `n` `ResidualBlock`s (with the
      generator's `norm`) after every up block and after every down block
      whose output is at least 2×2; the skips carry the refined features.
      The blocks pad by reflection, which needs 2 pixels on a side, so a
      1-pixel bottleneck (the default depth) gets none.

    Noise input (off by default): with `latent_dim > 0` the generator takes
    a latent code `z` of shape `(batch, latent_dim)` besides the image and
    can map one input to many outputs (the "noise z" of the paper's
    objective, as BicycleGAN injects it, Zhu et al. 2017,
    https://arxiv.org/abs/1711.11586). `z` is tiled over the image plane
    and concatenated to the image (`latent_injection="input"`) or to the
    input of every down block (`"all"`; layers `f"{name}_latent{i}"`).
    The functional model then has the inputs `[image, latent]`:

    - `generator([x, z])` (or `generator.translate(x, z)`) uses the given
      codes, so equal codes give equal outputs;
    - `generator(x)` draws `z ~ N(0, I)` per image from the layer
      `generator.latent_noise` (its own seed generator, so it works in a
      traced step and in a SavedModel): `Pix2Pix.fit`, `predict()` and the
      `serve` endpoint of the export call it that way;
    - `generator.sample_latent(n)` draws `n` codes.

    `latent_dim=0` builds exactly the classic network (one input, same
    layers and parameters). Without a loss that rewards diversity, pix2pix
    training tends to learn to ignore `z` (the paper's observation); a
    latent encoder and latent regression (BicycleGAN) prevent that.

    `pytorch_layout=True` builds the PyTorch reference's U-Net
    (junyanz/pytorch-CycleGAN-and-pix2pix `UnetGenerator`) exactly, so its
    checkpoints convert with equal outputs (`pix2pix_keras.convert_pytorch`):
    the skips and the innermost block go through ReLU instead of
    LeakyReLU, the concatenation is `[skip, up]`, and dropout follows up
    blocks `1..num_dropout` (the reference's innermost block has none). It
    has the default network's layers and parameter count (with
    `norm="none"` the reference's convolutions have no bias; converted ones
    get zero biases) and cannot be combined with `decoder_filters`,
    `normalize_innermost`, `attention`, `residual_blocks` or
    `latent_dim`; the `down_block()` / `up_block()` hooks are not used.

    Subclasses can override `down_block()` and `up_block()` to change the
    blocks (for instance to append a `ResidualBlock`); the two options above
    wrap whatever the hooks return. Register the subclass with
    `keras.saving.register_keras_serializable` so it saves.

    Args:
        image_size: int or `(height, width)`. Both must be divisible by
            `2**depth`. Defaults to `(256, 256)`.
        in_channels: int. Input channels. Defaults to `3`.
        out_channels: int. Output channels. Defaults to `3`.
        depth: int or `None`. Number of down blocks; `None` takes the
            shorter side down to 1 pixel (8 at 256). Defaults to `None`.
        filters: int. Filters of the first block. Defaults to `64`.
        max_filters: int. Cap on the filters of any block. Defaults to
            `512`.
        decoder_filters: list of `depth - 1` ints or `None`. Filters of the
            up blocks, innermost first; `None` mirrors the encoder. Where an
            up block's width differs from its skip's, a 1×1 convolution
            projects the skip to the up block's width. Defaults to `None`.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        dropout: float in [0, 1). Dropout rate of the first `num_dropout`
            up blocks. Defaults to `0.5`.
        num_dropout: int >= 0. Number of up blocks with dropout (all of
            them if there are fewer). Defaults to `3`.
        inference_dropout: bool. Keep dropout on when `training=False`
            (stochastic `predict()` and export). Defaults to `False`.
        inference_statistics: str. What batch norm normalizes with at
            inference: `"image"` (each image's own statistics) or
            `"moving"` (the moving averages). Defaults to `"image"`.
        bn_momentum: float in [0, 1). Momentum of the batch-norm moving
            statistics (Keras convention: new = m·old + (1-m)·batch).
            Defaults to `0.9`.
        normalize_innermost: bool. Normalize the innermost down block too
            (classic TensorFlow tutorial). Defaults to `False`.
        attention: bool. Attention gates on the skip connections (see
            above). Defaults to `False`.
        residual_blocks: int >= 0. Residual blocks after each up block and
            each down block with an output of at least 2×2 (see above).
            Defaults to `0`.
        latent_dim: int >= 0. Size of the latent code `z`; `0` for no
            noise input (see above). Defaults to `0`.
        latent_injection: str. `"input"` (concatenate `z` to the image) or
            `"all"` (to the input of every down block). Defaults to
            `"input"`.
        pytorch_layout: bool. Build the PyTorch reference's network
            layer for layer (see above). Defaults to `False`.
        name: str. Model name. Defaults to `"generator"`.

    Example:
    >>> g = UNetGenerator(image_size=32, filters=8, max_filters=32)
    >>> tuple(g(keras.ops.zeros((2, 32, 32, 3))).shape)
    (2, 32, 32, 3)
    """

    def __init__(
        self,
        image_size=(256, 256),
        in_channels=3,
        out_channels=3,
        depth=None,
        filters=64,
        max_filters=512,
        decoder_filters=None,
        norm="batch",
        dropout=0.5,
        num_dropout=3,
        inference_dropout=False,
        inference_statistics="image",
        bn_momentum=0.9,
        normalize_innermost=False,
        attention=False,
        residual_blocks=0,
        latent_dim=0,
        latent_injection="input",
        pytorch_layout=False,
        name="generator",
        **kwargs,
    ):
        h, w = _image_size(image_size)
        depth = _resolve_depth(depth, (h, w))
        if not isinstance(pytorch_layout, bool):
            raise ValueError(
                "`pytorch_layout` must be True or False. Received: "
                f"pytorch_layout={pytorch_layout!r}"
            )
        if h % 2**depth or w % 2**depth:
            raise ValueError(
                f"`image_size` must be divisible by 2**depth = {2**depth} "
                f"(depth={depth}). Received: image_size={(h, w)}. Resize or "
                "crop the images, or pass a smaller `depth`."
            )
        check_int(
            in_channels=in_channels,
            out_channels=out_channels,
            filters=filters,
            max_filters=max_filters,
        )
        validate_norm(norm)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout!r}"
            )
        check_int(minimum=0, num_dropout=num_dropout)
        if not 0.0 <= bn_momentum < 1.0:
            raise ValueError(
                "`bn_momentum` must be in [0, 1). Received: "
                f"bn_momentum={bn_momentum!r}"
            )
        if not isinstance(attention, bool):
            raise ValueError(
                f"`attention` must be True or False. Received: attention={attention!r}"
            )
        check_int(minimum=0, residual_blocks=residual_blocks)
        check_latent(latent_dim, latent_injection)
        encoder_filters = [min(filters * 2**i, max_filters) for i in range(depth)]
        if decoder_filters is None:
            decoder_filters = encoder_filters[-2::-1]
        decoder_filters = [int(f) for f in decoder_filters]
        if len(decoder_filters) != depth - 1 or min(decoder_filters) < 1:
            raise ValueError(
                f"`decoder_filters` must list depth - 1 = {depth - 1} positive "
                f"ints. Received: decoder_filters={decoder_filters!r}"
            )

        # The arguments both networks take, recorded in the config as given.
        arch = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            norm=norm,
            dropout=dropout,
            num_dropout=num_dropout,
        )
        if pytorch_layout:
            _check_pytorch_layout(
                decoder_filters=decoder_filters != encoder_filters[-2::-1],
                normalize_innermost=bool(normalize_innermost),
                attention=attention,
                residual_blocks=bool(residual_blocks),
                latent_dim=bool(latent_dim),
            )
            inputs, outputs = _pytorch_unet(h, w, encoder_filters, **arch, name=name)
        else:
            inputs, outputs = self._build_network(
                h,
                w,
                encoder_filters,
                decoder_filters,
                **arch,
                normalize_innermost=normalize_innermost,
                attention=attention,
                residual_blocks=residual_blocks,
                latent_dim=latent_dim,
                latent_injection=latent_injection,
                name=name,
            )
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        _set_bn_momentum(self, bn_momentum)
        self._record_config(
            image_size=(h, w),
            depth=depth,
            filters=filters,
            max_filters=max_filters,
            decoder_filters=decoder_filters,
            **arch,
            bn_momentum=float(bn_momentum),
            normalize_innermost=bool(normalize_innermost),
            attention=attention,
            residual_blocks=residual_blocks,
            pytorch_layout=pytorch_layout,
        )
        self._init_latent(latent_dim, latent_injection, name)
        self.inference_dropout = inference_dropout
        self.inference_statistics = inference_statistics

    _config_keys = _constructor_args(__init__)

    def _build_network(
        self,
        h,
        w,
        encoder_filters,
        decoder_filters,
        *,
        in_channels,
        out_channels,
        norm,
        dropout,
        num_dropout,
        normalize_innermost,
        attention,
        residual_blocks,
        latent_dim,
        latent_injection,
        name,
    ):
        """The default network: `(inputs, outputs)` of the functional model."""
        depth = len(encoder_filters)
        x, latent, inputs = _generator_inputs(h, w, in_channels, latent_dim)
        skips = []
        for i, f in enumerate(encoder_filters):
            if latent_dim and (i == 0 or latent_injection == "all"):
                x = ConcatLatent(name=f"{name}_latent{i}")([x, latent])
            x = self.down_block(
                x,
                f,
                norm=norm,
                normalize=0 < i and (i < depth - 1 or normalize_innermost),
                name=f"{name}_down{i}",
            )
            if min(x.shape[1:3]) >= 2:
                x = _residual_stack(x, residual_blocks, norm, name=f"{name}_down{i}")
            skips.append(x)
        for i, (f, skip) in enumerate(zip(decoder_filters, skips[-2::-1])):
            x = self.up_block(
                x,
                f,
                norm=norm,
                dropout=dropout if i < num_dropout else 0.0,
                name=f"{name}_up{i}",
            )
            x = _residual_stack(x, residual_blocks, norm, name=f"{name}_up{i}")
            if attention:
                skip = apply_attention_gate(skip, x, name=f"{name}_att{i}")
            if skip.shape[-1] != x.shape[-1]:
                skip = layers.Conv2D(
                    x.shape[-1],
                    1,
                    kernel_initializer=conv_initializer(),
                    name=f"{name}_skip{i}_proj",
                )(skip)
            x = layers.Concatenate(name=f"{name}_skip{i}")([x, skip])
        return inputs, _unet_output(x, out_channels, name)

    def down_block(self, x, filters, *, norm, normalize, name):
        """One encoder block; override to change the encoder.

        Args:
            x: symbolic tensor.
            filters: int. Output channels.
            norm: str. Normalization name.
            normalize: bool. Whether this block is normalized.
            name: str. Layer name prefix (must be unique).

        Returns:
            Symbolic tensor at half the resolution.
        """
        return apply_downsample(x, filters, norm=norm, normalize=normalize, name=name)

    def up_block(self, x, filters, *, norm, dropout, name):
        """One decoder block; override to change the decoder.

        Args:
            x: symbolic tensor.
            filters: int. Output channels.
            norm: str. Normalization name.
            dropout: float. Dropout rate (`0` for none).
            name: str. Layer name prefix (must be unique).

        Returns:
            Symbolic tensor at twice the resolution.
        """
        return apply_upsample(x, filters, norm=norm, dropout=dropout, name=name)

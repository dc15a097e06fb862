"""GAN, reconstruction and perceptual losses of pix2pix.

All GAN loss functions take raw discriminator outputs (logits for
`"vanilla"`) and return scalar float32 tensors; the discriminator losses are
halved, as in the paper, so D learns at half the rate of G. The
reconstruction losses (`l1_loss`, `l2_loss`) and `VGGPerceptualLoss` take
`(target, generated)` images in [-1, 1] and return scalar float32 tensors.
`feature_matching_loss` (pix2pixHD) compares discriminator activations on
real and generated pairs; `kl_divergence` is BicycleGAN's KL term on the
encoder's latent Gaussian.
"""

import os

import keras
import tensorflow as tf
from keras import ops

__all__ = [
    "DISTANCES",
    "GAN_LOSSES",
    "PIX2PIXHD_LAYERS",
    "RECONSTRUCTION_LOSSES",
    "VGG19_LAYERS",
    "VGGPerceptualLoss",
    "discriminator_output",
    "feature_matching_loss",
    "get_gan_loss",
    "get_reconstruction_loss",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "kl_divergence",
    "l1_loss",
    "l2_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "vanilla_discriminator_loss",
    "vanilla_generator_loss",
]

GAN_LOSSES = ("lsgan", "vanilla", "hinge")
RECONSTRUCTION_LOSSES = ("l1", "l2")


def _f32(x):
    return ops.cast(x, "float32")


def lsgan_generator_loss(d_fake):
    """Least-squares GAN loss of the generator: `mean((D(x, G(x)) - 1)²)`.

    Mao et al. 2017, https://arxiv.org/abs/1611.04076.

    Args:
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(lsgan_generator_loss(ops.zeros((1, 30, 30, 1))))
    1.0
    """
    return ops.mean(ops.square(_f32(d_fake) - 1.0))


def lsgan_discriminator_loss(d_real, d_fake):
    """Least-squares GAN loss of D: `½[mean((D(x,y) − 1)²) + mean(D(x,G(x))²)]`.

    Args:
        d_real: tensor. Discriminator output on real pairs.
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(lsgan_discriminator_loss(ops.ones((1, 4)), ops.zeros((1, 4))))
    0.0
    """
    real = ops.mean(ops.square(_f32(d_real) - 1.0))
    fake = ops.mean(ops.square(_f32(d_fake)))
    return 0.5 * (real + fake)


def _bce_with_logits(labels_value, logits):
    # log(1 + exp(-|z|)) + max(z, 0) - z * label: stable for any logit.
    z = _f32(logits)
    return ops.mean(ops.relu(z) - z * labels_value + ops.log1p(ops.exp(-ops.abs(z))))


def vanilla_generator_loss(d_fake):
    """Binary cross-entropy GAN loss of G (non-saturating), on logits.

    `mean(-log σ(D(x, G(x))))`, as in the paper.

    Args:
        d_fake: tensor. Discriminator logits on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> round(float(vanilla_generator_loss(ops.zeros((1, 4)))), 6)
    0.693147
    """
    return _bce_with_logits(1.0, d_fake)


def vanilla_discriminator_loss(d_real, d_fake):
    """Binary cross-entropy loss of D on logits, halved.

    `½[mean(-log σ(D(x, y))) + mean(-log(1 − σ(D(x, G(x)))))]`.

    Args:
        d_real: tensor. Discriminator logits on real pairs.
        d_fake: tensor. Discriminator logits on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> z = ops.zeros((1, 4))
    >>> round(float(vanilla_discriminator_loss(z, z)), 6)
    0.693147
    """
    return 0.5 * (_bce_with_logits(1.0, d_real) + _bce_with_logits(0.0, d_fake))


def hinge_generator_loss(d_fake):
    """Hinge GAN loss of the generator: `-mean(D(x, G(x)))`.

    Lim & Ye 2017 (https://arxiv.org/abs/1705.02894), as in SAGAN/BigGAN.

    Args:
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(hinge_generator_loss(ops.ones((1, 4))))
    -1.0
    """
    return -ops.mean(_f32(d_fake))


def hinge_discriminator_loss(d_real, d_fake):
    """Hinge loss of D, halved: `½[mean(relu(1 − D(x,y))) + mean(relu(1 + D(x,G(x))))]`.

    Args:
        d_real: tensor. Discriminator output on real pairs.
        d_fake: tensor. Discriminator output on generated pairs.

    Returns:
        Scalar tensor.

    Example:
    >>> float(hinge_discriminator_loss(ops.zeros((1, 4)), ops.zeros((1, 4))))
    1.0
    """
    real = ops.mean(ops.relu(1.0 - _f32(d_real)))
    fake = ops.mean(ops.relu(1.0 + _f32(d_fake)))
    return 0.5 * (real + fake)


def l1_loss(target, generated):
    """Mean absolute error `mean|y − G(x)|` (the pix2pix reconstruction term).

    Args:
        target: tensor. Real target images.
        generated: tensor. Generated images, same shape.

    Returns:
        Scalar tensor.

    Example:
    >>> float(l1_loss(ops.zeros((1, 2, 2, 1)), ops.ones((1, 2, 2, 1))))
    1.0
    """
    return ops.mean(ops.abs(_f32(target) - _f32(generated)))


def l2_loss(target, generated):
    """Mean squared error `mean((y − G(x))²)`, the L2 reconstruction term.

    The alternative to `l1_loss`: it penalises large errors more
    and small ones less, which trades sharpness for smoothness.

    Args:
        target: tensor. Real target images.
        generated: tensor. Generated images, same shape.

    Returns:
        Scalar tensor.

    Example:
    >>> float(l2_loss(ops.zeros((1, 2, 2, 1)), ops.full((1, 2, 2, 1), 2.0)))
    4.0
    """
    return ops.mean(ops.square(_f32(target) - _f32(generated)))


def get_reconstruction_loss(name):
    """Returns the reconstruction loss `f(target, generated)` for a name.

    Args:
        name: str. `"l1"` (`l1_loss`, the paper's) or `"l2"` (`l2_loss`).

    Returns:
        Callable `f(target, generated)` returning a scalar tensor.

    Raises:
        ValueError: for an unknown name.

    Example:
    >>> get_reconstruction_loss("l2") is l2_loss
    True
    """
    if name == "l1":
        return l1_loss
    if name == "l2":
        return l2_loss
    raise ValueError(
        f"`reconstruction` must be one of {RECONSTRUCTION_LOSSES}. "
        f"Received: reconstruction={name!r}"
    )


def get_gan_loss(name):
    """Returns `(generator_loss, discriminator_loss)` for a GAN loss name.

    Args:
        name: str. `"lsgan"`, `"vanilla"` or `"hinge"`.

    Returns:
        Tuple of two callables: `g(d_fake)` and `d(d_real, d_fake)`.

    Raises:
        ValueError: for an unknown name.
    """
    if name == "lsgan":
        return lsgan_generator_loss, lsgan_discriminator_loss
    if name == "vanilla":
        return vanilla_generator_loss, vanilla_discriminator_loss
    if name == "hinge":
        return hinge_generator_loss, hinge_discriminator_loss
    raise ValueError(
        f"`gan_loss` must be one of {GAN_LOSSES}. Received: gan_loss={name!r}"
    )


def discriminator_output(name, logits):
    """Mean discriminator output as reported in `d_real` / `d_fake`.

    For `"lsgan"` the raw output (the target is 1 for real, 0 for fake);
    for `"vanilla"` the probability σ(logit); for `"hinge"` the raw output
    (the margins are +1 for real, −1 for fake). Higher means "real".
    """
    get_gan_loss(name)
    logits = _f32(logits)
    if name == "vanilla":
        logits = ops.sigmoid(logits)
    return ops.mean(logits)


# ---------------------------------------------------------------------------
# Discriminator-feature and latent losses


def feature_matching_loss(real_features, fake_features):
    """pix2pixHD's feature-matching loss between real and generated pairs.

    The mean over scales of the mean over intermediate layers (the logits,
    last in each list, are left out) of the mean absolute difference
    between the discriminator's activations on the real pair and on the
    generated pair. The real activations are constants (`stop_gradient`),
    so the loss trains the generator only. Wang et al. 2018,
    https://arxiv.org/abs/1711.11585, eq. 4: pix2pixHD adds
    `lambda_feat * 4 * loss` (`lambda_feat=10`) to the generator loss.

    Args:
        real_features: list over scales of lists of tensors, as returned
            by `discriminator.features([source, target])`.
        fake_features: the same structure for `[source, generated]`.

    Returns:
        Float32 scalar tensor.

    Raises:
        ValueError: if the two structures differ, or a scale has no
            intermediate layer.

    Example:
    >>> real = [[keras.ops.zeros((1, 2, 2, 4)), keras.ops.zeros((1, 1, 1, 1))]]
    >>> fake = [[keras.ops.ones((1, 2, 2, 4)), keras.ops.ones((1, 5, 5, 1))]]
    >>> float(feature_matching_loss(real, fake))
    1.0
    """
    for arg, value in (
        ("real_features", real_features),
        ("fake_features", fake_features),
    ):
        if (
            not isinstance(value, (list, tuple))
            or not value
            or not all(
                isinstance(scale, (list, tuple)) and len(scale) >= 2 for scale in value
            )
        ):
            raise ValueError(
                f"`{arg}` must be a non-empty list (one entry per scale) of "
                "lists of at least two tensors (activations, then logits), "
                "as returned by `discriminator.features()`. Received: "
                f"{arg} of type {type(value).__name__}"
                + (
                    f" with lengths {[len(s) for s in value]}"
                    if isinstance(value, (list, tuple))
                    and all(isinstance(s, (list, tuple)) for s in value)
                    else ""
                )
            )
    real_lengths = [len(scale) for scale in real_features]
    fake_lengths = [len(scale) for scale in fake_features]
    if real_lengths != fake_lengths:
        raise ValueError(
            "`real_features` and `fake_features` must have the same scales "
            f"and layers. Received layer counts {real_lengths} (real) and "
            f"{fake_lengths} (fake)."
        )
    per_scale = []
    for real_scale, fake_scale in zip(real_features, fake_features):
        per_layer = [
            ops.mean(
                ops.abs(
                    ops.cast(ops.stop_gradient(r), "float32") - ops.cast(f, "float32")
                )
            )
            for r, f in zip(real_scale[:-1], fake_scale[:-1])
        ]
        per_scale.append(ops.mean(ops.stack(per_layer)))
    return ops.mean(ops.stack(per_scale))


def kl_divergence(mu, log_var):
    """KL divergence of N(μ, σ²) from N(0, I), per sample.

    `-½ Σ_d (1 + log σ²_d − μ_d² − σ²_d)`, summed over the latent
    dimensions as in the reference (`loss_kl`), which sums over its
    one-image half batch; `BicycleGAN` averages this over the batch.

    Args:
        mu: float tensor `(batch, latent_dim)`.
        log_var: float tensor `(batch, latent_dim)`, `log σ²`.

    Returns:
        Float32 tensor of shape `(batch,)`, >= 0.

    Example:
    >>> mu = ops.convert_to_tensor([[1.0, 0.0]])
    >>> log_var = ops.convert_to_tensor([[0.0, 0.0]])
    >>> float(kl_divergence(mu, log_var)[0])
    0.5
    """
    mu = ops.cast(mu, "float32")
    log_var = ops.cast(log_var, "float32")
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mu) - ops.exp(log_var), axis=-1)


# ---------------------------------------------------------------------------
# VGG19 perceptual loss

_VGG19_NOTOP = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
_VGG19_CONVS = (2, 2, 4, 4, 4)  # conv layers per block
VGG19_LAYERS = tuple(
    name
    for block, convs in enumerate(_VGG19_CONVS, start=1)
    for name in [f"block{block}_conv{i}" for i in range(1, convs + 1)]
    + [f"block{block}_pool"]
)
"""Names of the VGG19 layers (without top) a perceptual loss can compare."""

PIX2PIXHD_LAYERS = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
"""The layers pix2pixHD's `VGGLoss` compares: relu1_1 … relu5_1."""

DISTANCES = ("l1", "l2")


def _pools_before_output(layer):
    # Number of 2x2 max-poolings between the input and the layer's output.
    block = int(layer[len("block")])
    return block if layer.endswith("_pool") else block - 1


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class VGGPerceptualLoss:
    """VGG19 perceptual loss: weighted distance between VGG19 feature maps.

    The perceptual ("VGG") loss of pix2pixHD (Wang et al. 2018,
    https://arxiv.org/abs/1711.11585), as `VGGLoss` in its PyTorch code:
    `Σ_i w_i · mean|φ_i(y) − φ_i(G(x))|` over the feature maps `φ_i` of an
    ImageNet VGG19 (Simonyan & Zisserman 2014) at the layers `layers`, with
    the pix2pixHD layers (`PIX2PIXHD_LAYERS`: relu1_1 … relu5_1, the first
    conv of each block) and weights 1/32, 1/16, 1/8, 1/4, 1 by default. The
    default costs 1.7 s per 256×256 forward + backward on this project's
    2-core CPU (the last conv of each block: 2.8 s). The target's features
    are constants (no gradient flows to `target`), gradients flow to
    `generated`, and the VGG19 weights are frozen.

    Images in [-1, 1] (the package's contract) are mapped to what VGG19 was
    trained on: `(x + 1) · 127.5` to [0, 255], then
    `keras.applications.vgg19.preprocess_input` ("caffe": RGB → BGR and
    the ImageNet mean pixel subtracted). One-channel images are repeated to
    three.

    This is a plain serializable object, not a `keras.Layer` or
    `keras.losses.Loss`: a `keras.Model` that stores it as an attribute does
    not track its VGG19 (not in the model's weights, not in its `.keras`
    file). Rebuild it from `get_config()` instead; the VGG19 is built on
    the first call (or by `build()`), outside any `tf.function` being traced.
    With `weights=None` a rebuilt loss has new random weights; pass a weights
    file path to reproduce a loss exactly.

    Args:
        layers: sequence of str. VGG19 layer names whose outputs are compared
            (see `VGG19_LAYERS`); the network is truncated after the deepest.
            Defaults to `PIX2PIXHD_LAYERS` (`"block1_conv1"` …
            `"block5_conv1"`). Keras VGG19 conv layers include their relu.
        layer_weights: sequence of floats >= 0, one per layer. Defaults to
            `(1/32, 1/16, 1/8, 1/4, 1.0)`.
        weights: `"imagenet"`, `None` (random initialization, for tests) or
            the path of a VGG19-without-top weights file
            (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, or a
            `.weights.h5` saved from `keras.applications.VGG19(
            include_top=False)`). `"imagenet"` downloads the file into
            `~/.keras/models/` once; without internet, copy it there or pass
            its path. Defaults to `"imagenet"`.
        distance: str. `"l1"` (mean absolute difference, pix2pixHD) or
            `"l2"` (mean squared difference). Defaults to `"l1"`.
        resize: `None` or `(height, width)`. Resize the images (bilinear)
            before VGG19, e.g. to `(224, 224)`. Defaults to `None`.

    Raises:
        ValueError: unknown layer names, `layer_weights` of another length
            or negative, an unknown `distance`, a bad `resize`, or a
            `weights` value that is neither `"imagenet"`, `None` nor an
            `.h5` path.
        FileNotFoundError: `weights` is a path that does not exist.

    Example:

    ```python
    vgg = VGGPerceptualLoss(weights="/data/vgg19_notop.h5")
    with tf.GradientTape() as tape:
        fake = generator(source, training=True)
        g_vgg = vgg(target, fake)  # pix2pixHD weighs it 10
        g_loss = g_gan + 100.0 * l1_loss(target, fake) + 10.0 * g_vgg
    ```
    """

    def __init__(
        self,
        layers=PIX2PIXHD_LAYERS,
        layer_weights=(1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0),
        weights="imagenet",
        distance="l1",
        resize=None,
    ):
        if isinstance(layers, str):
            layers = (layers,)
        layers = tuple(layers)
        unknown = [n for n in layers if n not in VGG19_LAYERS]
        if not layers or unknown:
            raise ValueError(
                "`layers` must be a non-empty sequence of VGG19 layer names "
                f"from {VGG19_LAYERS}. Received: layers={layers!r}"
            )
        received = layer_weights
        try:
            layer_weights = tuple(float(w) for w in layer_weights)
        except (TypeError, ValueError):
            layer_weights = (float("nan"),)
        if len(layer_weights) != len(layers) or any(
            not 0 <= w < float("inf") for w in layer_weights
        ):
            raise ValueError(
                "`layer_weights` must hold one finite float >= 0 per layer "
                f"({len(layers)} for layers={layers!r}). "
                f"Received: layer_weights={received!r}"
            )
        if distance not in DISTANCES:
            raise ValueError(
                f"`distance` must be one of {DISTANCES}. "
                f"Received: distance={distance!r}"
            )
        if resize is not None:
            if (
                isinstance(resize, (str, bytes))
                or not hasattr(resize, "__len__")
                or len(resize) != 2
            ):
                raise ValueError(
                    "`resize` must be None or (height, width). "
                    f"Received: resize={resize!r}"
                )
            resize = tuple(resize)
            if any(isinstance(v, bool) or not isinstance(v, int) for v in resize):
                raise ValueError(
                    "`resize` must be None or two ints (height, width). "
                    f"Received: resize={resize!r}"
                )
            self._check_size(resize, layers, "resize")
        self.layers = layers
        self.layer_weights = layer_weights
        self.weights = self._check_weights(weights)
        self.distance = distance
        self.resize = resize
        self._feature_model = None

    @staticmethod
    def _check_weights(weights):
        if weights is None or weights == "imagenet":
            return weights
        if isinstance(weights, os.PathLike):
            weights = os.fspath(weights)
        if not isinstance(weights, str) or not weights.endswith(".h5"):
            raise ValueError(
                '`weights` must be "imagenet", None or the path of a VGG19 '
                "`.weights.h5` / `.h5` weights file. "
                f"Received: weights={weights!r}"
            )
        if not os.path.isfile(weights):
            raise FileNotFoundError(
                f"VGG19 `weights` file not found: weights={weights!r}"
            )
        return weights

    @staticmethod
    def _check_size(size, layers, name):
        # Each 2x2 pooling halves (floors) the size; a layer after k
        # poolings needs >= 2**k pixels or its feature map is empty.
        need = 2 ** max(_pools_before_output(n) for n in layers)
        if any(s is not None and s < need for s in size):
            raise ValueError(
                f"`{name}` must be at least {need}×{need} pixels for the "
                f"deepest layer of {layers!r}. Received: {name}={size!r}"
            )

    def build(self):
        """Builds (once) and returns the frozen, truncated VGG19.

        Returns:
            A `keras.Model` mapping VGG19 inputs `(b, h, w, 3)` (already
            preprocessed) to the list of feature maps of `layers`.

        Raises:
            FileNotFoundError: the weights file has gone.
            RuntimeError: the ImageNet weights could not be downloaded.
        """
        if self._feature_model is None:
            # init_scope: when the first call happens while a tf.function is
            # traced (a train step), the variables must still be created and
            # the weights loaded eagerly, not as ops of that graph.
            with tf.init_scope():
                self._feature_model = self._make_feature_model()
        return self._feature_model

    @property
    def feature_model(self):
        """The truncated VGG19 (`build()`), built on first access."""
        return self.build()

    def _make_feature_model(self):
        weights = self._check_weights(self.weights)
        kwargs = dict(include_top=False, weights=weights, input_shape=(None, None, 3))
        if weights == "imagenet":
            try:
                vgg = keras.applications.VGG19(**kwargs)
            except Exception as e:
                raise RuntimeError(
                    "Could not get the VGG19 ImageNet weights (no internet?). "
                    f"Put {_VGG19_NOTOP} into ~/.keras/models/, or pass its "
                    "path as `weights`, or pass `weights=None` for a randomly "
                    f"initialised network. Cause: {e}"
                ) from e
        else:
            vgg = keras.applications.VGG19(**kwargs)
        outputs = [vgg.get_layer(n).output for n in self.layers]
        model = keras.Model(vgg.input, outputs, name="vgg19_features")
        model.trainable = False
        return model

    def preprocess(self, images):
        """Maps images in [-1, 1] to VGG19's input ("caffe" BGR, mean-free).

        Casts to float32, repeats one channel to three, resizes to `resize`
        if set, then applies `(x + 1) · 127.5` and
        `keras.applications.vgg19.preprocess_input`.

        Args:
            images: tensor `(b, h, w, 1 or 3)` in [-1, 1], RGB.

        Returns:
            Float32 tensor `(b, h', w', 3)`, BGR minus the ImageNet mean.

        Raises:
            ValueError: not 4-D, or not 1 or 3 channels.
        """
        x = _f32(images)
        shape = tuple(x.shape)
        if len(shape) != 4 or shape[-1] not in (1, 3):
            raise ValueError(
                "VGGPerceptualLoss expects images (batch, h, w, 1 or 3). "
                f"Received shape {shape}"
            )
        if shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)
        if self.resize is not None:
            x = ops.image.resize(
                x,
                self.resize,
                interpolation="bilinear",
                data_format="channels_last",
            )
        return keras.applications.vgg19.preprocess_input(
            (x + 1.0) * 127.5, data_format="channels_last"
        )

    def features(self, images):
        """VGG19 feature maps of images in [-1, 1], one per layer, float32.

        Args:
            images: tensor `(b, h, w, 1 or 3)` in [-1, 1].

        Returns:
            List of float32 tensors, in the order of `layers`.

        Raises:
            ValueError: not 1 or 3 channels, or (without `resize`) smaller
                than the deepest layer needs (16×16 for block5).
        """
        x = self.preprocess(images)
        if self.resize is None:
            self._check_size(tuple(x.shape)[1:3], self.layers, "images")
        out = self.feature_model(x, training=False)
        if not isinstance(out, (list, tuple)):
            out = [out]
        return [_f32(f) for f in out]

    def __call__(self, target, generated):
        """Perceptual distance between target and generated images.

        Args:
            target: tensor `(b, h, w, c)` in [-1, 1], c = 1 or 3. No
                gradient flows to it.
            generated: tensor, same shape.

        Returns:
            Scalar float32 tensor `Σ_i w_i · mean d(φ_i(target),
            φ_i(generated))`, d = |·| or (·)².

        Raises:
            ValueError: the shapes differ or are not images.
        """
        t_shape, g_shape = tuple(target.shape), tuple(generated.shape)
        if len(t_shape) != len(g_shape) or any(
            a is not None and b is not None and a != b for a, b in zip(t_shape, g_shape)
        ):
            raise ValueError(
                "`target` and `generated` must have the same shape. "
                f"Received: {t_shape} and {g_shape}"
            )
        # The real features are constants, as pix2pixHD detaches them. The
        # VGG19 variables are trainable tf.Variables underneath (only the
        # Keras model is frozen), so without this an eager tape would also
        # backpropagate through the target's pass.
        real = [ops.stop_gradient(f) for f in self.features(target)]
        fake = self.features(generated)
        diff = ops.abs if self.distance == "l1" else ops.square
        total = ops.zeros((), "float32")
        for w, r, f in zip(self.layer_weights, real, fake):
            total = total + w * ops.mean(diff(r - f))
        return total

    def get_config(self):
        """Constructor arguments (JSON-compatible); see `from_config`."""
        return {
            "layers": list(self.layers),
            "layer_weights": list(self.layer_weights),
            "weights": self.weights,
            "distance": self.distance,
            "resize": None if self.resize is None else list(self.resize),
        }

    @classmethod
    def from_config(cls, config):
        """A new, unbuilt loss from `get_config()` output."""
        return cls(**config)

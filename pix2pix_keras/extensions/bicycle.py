"""BicycleGAN: multimodal image-to-image translation (Zhu et al. 2017).

A `Pix2Pix` whose generator also takes a latent code `z`, trained on two
paths at once (https://arxiv.org/abs/1711.11586, junyanz/BicycleGAN
`models/bicycle_gan_model.py`):

- cVAE-GAN: the encoder E maps the target `y` to `μ, log σ²`; G
  reconstructs `y` from `(x, z ~ N(μ, σ²))` (L1 and GAN losses) and a KL
  term pulls E's posterior towards N(0, I);
- cLR-GAN: G translates `x` with a random `z ~ N(0, I)`; a second
  discriminator judges the result and E must recover `z` from it (latent
  regression, an L1 loss that trains G only).

At inference `z ~ N(0, I)` picks one of many plausible outputs.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from keras import ops

from pix2pix_keras.extensions.encoder import LatentEncoder
from pix2pix_keras.extensions.encoder import apply_encoder_block  # noqa: F401
from pix2pix_keras.extensions.encoder import default_encoder_blocks  # noqa: F401
from pix2pix_keras.losses import kl_divergence
from pix2pix_keras.models.discriminator import MultiScaleDiscriminator
from pix2pix_keras.models.generator import UNetGenerator
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.models.pix2pix import Pix2Pix
from pix2pix_keras.models.pix2pix import _check_configs
from pix2pix_keras.models.pix2pix import _check_weight
from pix2pix_keras.models.pix2pix import _ensure_built
from pix2pix_keras.models.pix2pix import _write_directory
from pix2pix_keras.models.training import loss_scaled
from pix2pix_keras.models.training import scaled_loss
from pix2pix_keras.utils import check_int

__all__ = ["BicycleGAN"]

# Pix2Pix.compile() options that the BicycleGAN step does not implement.
_PIX2PIX_ONLY = (
    "d_every",
    "reconstruction",
    "perceptual_weight",
    "perceptual_loss",
    "feature_matching_weight",
)


def _default_generator(image_size, in_channels, out_channels, latent_dim):
    """The reference's G: `unet_256` with z added to every down block
    (`--where_add all`), instance norm, no dropout."""
    return UNetGenerator(
        image_size=image_size,
        in_channels=in_channels,
        out_channels=out_channels,
        latent_dim=latent_dim,
        latent_injection="all",
        norm="instance",
        dropout=0.0,
    )


def _default_discriminator(image_size, in_channels, out_channels):
    """The reference's D (`basic_256_multi`: two scales, instance norm),
    conditional here."""
    return MultiScaleDiscriminator(
        image_size=image_size,
        in_channels=in_channels,
        out_channels=out_channels,
        num_scales=2,
        norm="instance",
    )


def _check_latent_generator(generator, latent_dim):
    inputs = getattr(generator, "inputs", None)
    if not inputs:
        return  # a subclassed model: its call signature is its own
    if len(inputs) != 2 or tuple(inputs[1].shape) != (None, latent_dim):
        raise ValueError(
            "The BicycleGAN generator must be called as generator([image, "
            f"z]) with z of shape (batch, latent_dim={latent_dim}). Received "
            f"a generator {generator.name!r} with inputs "
            f"{[tuple(t.shape) for t in inputs]} (a UNetGenerator needs "
            "`latent_dim`)."
        )


def _check_encoder(encoder, latent_dim, channels):
    outputs = getattr(encoder, "outputs", None)
    if not outputs:
        return
    shapes = [tuple(t.shape) for t in outputs]
    if len(outputs) != 2 or any(s[-1] != latent_dim for s in shapes):
        raise ValueError(
            "The encoder must return [mu, log_var], each of shape (batch, "
            f"latent_dim={latent_dim}). Received outputs {shapes}."
        )
    got = encoder.inputs[0].shape[-1]
    if None not in (got, channels) and got != channels:
        raise ValueError(
            f"The encoder reads target images with {channels} channel(s) "
            f"(the generator's output); received an encoder for {got}."
        )


def _twin(discriminator, name):
    """A fresh discriminator of the same architecture (D2 of the cLR path)."""
    try:
        config = discriminator.get_config()
        twin = type(discriminator).from_config({**config, "name": name})
    except (NotImplementedError, TypeError, ValueError, KeyError) as e:
        raise ValueError(
            "Could not build `discriminator2` as a copy of the "
            f"{type(discriminator).__name__} {discriminator.name!r} ({e}). "
            "Pass `discriminator2` explicitly, or shared_discriminator=True."
        ) from None
    return twin


class _LatentSampler(layers.Layer):
    """Holds the seed-generator state of an export's random `z`."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed, name="z_seed")
        self.built = True


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class BicycleGAN(Pix2Pix):
    """BicycleGAN: diverse translations from a latent code (Zhu et al. 2017).

    A `Pix2Pix` with a latent-conditioned generator `G([x, z])`, an encoder
    `E(y) -> (μ, log σ²)` and a second discriminator `D2`. Each training
    step runs both paths of the paper (https://arxiv.org/abs/1711.11586,
    junyanz/BicycleGAN):

    - cVAE-GAN: `z = μ + σ·ε` from `E(y)`; G minimises `g_gan_vae` (D on
      `(x, G(x, z))`), `lambda_l1 · g_l1` (`|y − G(x, z)|`) and E also
      `lambda_kl · kl`;
    - cLR-GAN: `z ~ N(0, I)`; G minimises `g_gan_lr` (D2 on the result) and
      `lambda_z · z_l1`, where `z_l1 = |E(G(x, z)).μ − z|`. As in the
      reference's `backward_G_alone`, this latent regression term trains G
      only: E gets no gradient from it.

    By default the batch is split in two as in the reference: the first
    half is encoded and, with random codes, also translated for the cLR
    path, whose real pairs for D2 come from the second half (for an odd
    batch the halves share the middle pair; a batch of one uses that pair
    for both). `compile(split_batch=False)` uses the whole batch for both
    paths.

    `D` and `D2` are two networks of the same architecture, updated by
    `d_optimizer` and `d2_optimizer` (the reference default: each judges
    one kind of fake, from encoded or from random codes).
    `shared_discriminator=True` trains one D on both paths (reference
    `--use_same_D`). The discriminators are conditional, `D([x, image])`,
    like Pix2Pix's (reference `--conditional_D`).

    Logged: `g_loss` (what G minimises), `g_gan_vae`, `g_gan_lr`, `g_l1`,
    `kl`, `z_l1`, `d_loss` (D on the cVAE pairs) and `d2_loss` (D2, or the
    shared D, on the cLR pairs); `evaluate()` adds `psnr` and `ssim` of
    `G(x, μ(y))` against `y`.

    Inference draws `z ~ N(0, I)`: `predict(x)` and `model(x)` give a new
    sample per call, `sample(x, n)` gives `n` per input (reproducible with
    `seed` or explicit `z`), `encode(y)` returns `μ, log σ²`. `export()`
    writes a SavedModel whose `serve` endpoint samples `z` and whose
    `serve_latent` takes it. `save()` stores all networks and the four
    optimizers.

    Args:
        generator: `keras.Model` or `None`. Called as
            `generator([image, z])`, `z` of shape `(batch, latent_dim)`;
            returns images in [-1, 1]. `None` builds the reference's: a
            `UNetGenerator(latent_dim=latent_dim, latent_injection="all",
            norm="instance", dropout=0.0)` (`z` added to every down block,
            `--where_add all`). Defaults to `None`.
        discriminator: `keras.Model` or `None`. `D([source, image])` ->
            logits (or a list of logits). `None` builds the reference's
            two-scale PatchGAN (`basic_256_multi`):
            `MultiScaleDiscriminator(num_scales=2, norm="instance")`.
            Defaults to `None`.
        encoder: `keras.Model` or `None`. `E(image) -> [mu, log_var]`.
            `None` builds a `LatentEncoder`. Defaults to `None`.
        discriminator2: `keras.Model` or `None`. D2 of the cLR path; `None`
            builds a fresh copy of `discriminator`'s architecture. Must be
            `None` with `shared_discriminator=True`. Defaults to `None`.
        latent_dim: int. Size of `z` (reference `nz`). Defaults to `8`.
        shared_discriminator: bool. One D for both paths. Defaults to
            `False`.
        image_size: int or `(height, width)`. Size of the default
            networks. Defaults to `(256, 256)`.
        in_channels: int. Source channels of the default networks.
            Defaults to `3`.
        out_channels: int. Target channels of the default networks.
            Defaults to `3`.
        seed: int or `None`. Seeds the random codes of training and of
            inference (`predict`, `model(x)`). Defaults to `None`.
        name: str. Defaults to `"bicycle_gan"`.

    Example:

    ```python
    model = BicycleGAN(image_size=256)
    model.compile()  # Adam(2e-4, 0.5) x 4, lambda_l1=10, kl 0.01, z 0.5
    model.fit(train_ds, epochs=...)  # batches of 2, as the reference
    samples = model.sample(x, n=5)  # (batch, 5, 256, 256, 3)
    ```
    """

    def __init__(
        self,
        generator=None,
        discriminator=None,
        encoder=None,
        discriminator2=None,
        latent_dim=8,
        shared_discriminator=False,
        image_size=(256, 256),
        in_channels=3,
        out_channels=3,
        seed=None,
        name="bicycle_gan",
        **kwargs,
    ):
        check_int(latent_dim=latent_dim)
        if not isinstance(shared_discriminator, bool):
            raise ValueError(
                "`shared_discriminator` must be True or False. Received: "
                f"shared_discriminator={shared_discriminator!r}"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        h, w = _image_size(image_size)
        if generator is None:
            generator = _default_generator(
                (h, w), in_channels, out_channels, latent_dim
            )
        if discriminator is None:
            discriminator = _default_discriminator((h, w), in_channels, out_channels)
        for arg, value in (
            ("generator", generator),
            ("encoder", encoder),
            ("discriminator2", discriminator2),
        ):
            if value is not None and not isinstance(value, keras.Model):
                raise ValueError(
                    f"`{arg}` must be a keras.Model. Received: {arg}={value!r}"
                )
        _ensure_built(
            generator,
            [(None, h, w, in_channels), (None, latent_dim)],
            "generator",
        )
        _check_latent_generator(generator, latent_dim)
        super().__init__(
            generator=generator,
            discriminator=discriminator,
            image_size=(h, w),
            in_channels=in_channels,
            out_channels=out_channels,
            name=name,
            **kwargs,
        )
        outputs = self.generator.outputs
        target_channels = outputs[0].shape[-1] if outputs else out_channels
        if encoder is None:
            encoder = LatentEncoder(
                image_size=(h, w),
                in_channels=target_channels,
                latent_dim=latent_dim,
            )
        _ensure_built(encoder, (None, h, w, target_channels), "encoder")
        _check_encoder(encoder, latent_dim, target_channels)
        if shared_discriminator:
            if discriminator2 is not None:
                raise ValueError(
                    "`discriminator2` must be None with "
                    "shared_discriminator=True (D judges both paths)."
                )
        else:
            if discriminator2 is None:
                discriminator2 = _twin(self.discriminator, "discriminator2")
            if discriminator2 is self.discriminator:
                raise ValueError(
                    "`discriminator2` is `discriminator`: pass "
                    "shared_discriminator=True to share one D."
                )
            _ensure_built(
                discriminator2,
                [(None, h, w, in_channels), (None, h, w, target_channels)],
                "discriminator2",
            )
        self.encoder = encoder
        self.discriminator2 = discriminator2
        self.latent_dim = latent_dim
        self.shared_discriminator = shared_discriminator
        self.seed = seed
        # Two streams, so that sampling at inference (a SampleGrid callback,
        # predict between epochs) does not change the training draws. Both
        # states are saved with the model (Pix2Pix.save_own_variables).
        self.seed_generator = keras.random.SeedGenerator(seed, name="train_z_seed")
        self.inference_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 1, name="inference_z_seed"
        )
        self.trackers = {
            key: keras.metrics.Mean(name=key)
            for key in (
                "g_loss",
                "g_gan_vae",
                "g_gan_lr",
                "g_l1",
                "kl",
                "z_l1",
                "d_loss",
                "d2_loss",
            )
        }
        self.e_optimizer = None
        self.d2_optimizer = None
        self.lambda_l1 = 10.0
        self.l1_weight.assign(self.lambda_l1)
        self.lambda_kl = 0.01
        self.lambda_z = 0.5
        self.split_batch = True

    # ------------------------------------------------------------------
    # compile

    def compile(
        self,
        g_optimizer=None,
        d_optimizer=None,
        e_optimizer=None,
        d2_optimizer=None,
        gan_loss="lsgan",
        lambda_l1=10.0,
        lambda_kl=0.01,
        lambda_z=0.5,
        split_batch=True,
        jit_optimizer="auto",
        on_nonfinite="stop",
        check_inputs=True,
        **kwargs,
    ):
        """Configures the four optimizers and the loss weights.

        G minimises `g_gan_vae + g_gan_lr + λ_l1·g_l1 + lambda_kl·kl +
        lambda_z·z_l1`; E the same sum without the `z_l1` term; D
        `d_loss` and D2 `d2_loss` (a shared D: their sum). The defaults
        are the reference's (`--lambda_L1 10 --lambda_kl 0.01 --lambda_z
        0.5`, `lsgan`, Adam(2e-4, β1 = 0.5) for every network).

        Args:
            g_optimizer: optimizer, name or `None` (Adam(2e-4, 0.5)).
                Updates G.
            d_optimizer: optimizer, name or `None`. Updates D.
            e_optimizer: optimizer, name or `None`. Updates E (the
                reference has its own `optimizer_E`; as Adam's moments are
                per weight, this equals one Adam over G and E with the
                same settings).
            d2_optimizer: optimizer, name or `None`. Updates D2; must be
                `None` with `shared_discriminator=True`.
            gan_loss: str. `"lsgan"`, `"vanilla"` or `"hinge"`. Defaults to
                `"lsgan"`.
            lambda_l1: float >= 0. Weight of the cVAE reconstruction L1
                (start value of a `LambdaSchedule`). Defaults to `10.0`.
            lambda_kl: float >= 0. Weight of the KL term. Defaults to
                `0.01`.
            lambda_z: float >= 0. Weight of the latent regression L1.
                Defaults to `0.5`.
            split_batch: bool. Split each batch between the two paths as
                the reference (see the class doc); `False` runs both paths
                on the whole batch. Defaults to `True`.
            jit_optimizer: bool or `"auto"`. As `Pix2Pix.compile`.
            on_nonfinite: `"stop"`, `"skip"` or `None`. As
                `Pix2Pix.compile`; the G flags cover G and E, the D flags
                D and D2.
            check_inputs: bool. As `Pix2Pix.compile`. Defaults to `True`.
            **kwargs: passed to `keras.Model.compile` (`jit_compile`,
                `steps_per_execution`, `run_eagerly`).

        Raises:
            ValueError: a negative weight, the same optimizer twice, a
                `d2_optimizer` with a shared D, or a Pix2Pix option this
                model does not implement (`d_every`, `reconstruction`,
                `perceptual_weight`, `perceptual_loss`,
                `feature_matching_weight`).
        """
        unsupported = sorted(k for k in kwargs if k in _PIX2PIX_ONLY)
        if unsupported:
            raise ValueError(
                f"BicycleGAN.compile() does not support {unsupported} (Pix2Pix "
                "options its training step does not implement)."
            )
        _check_weight(lambda_kl=lambda_kl)
        _check_weight(lambda_z=lambda_z)
        if not isinstance(split_batch, bool):
            raise ValueError(
                "`split_batch` must be True or False. Received: "
                f"split_batch={split_batch!r}"
            )
        if self.discriminator2 is None and d2_optimizer is not None:
            raise ValueError(
                "`d2_optimizer` must be None with a shared "
                "discriminator (shared_discriminator=True)."
            )
        names = ["g_optimizer", "d_optimizer", "e_optimizer", "d2_optimizer"]
        given = [g_optimizer, d_optimizer, e_optimizer, d2_optimizer]
        if self.discriminator2 is None:
            names, given = names[:3], given[:3]
        optimizers = dict(zip(names, self._check_optimizers(**dict(zip(names, given)))))
        super().compile(
            g_optimizer=optimizers["g_optimizer"],
            d_optimizer=optimizers["d_optimizer"],
            gan_loss=gan_loss,
            lambda_l1=lambda_l1,
            jit_optimizer=jit_optimizer,
            on_nonfinite=on_nonfinite,
            check_inputs=check_inputs,
            **kwargs,
        )
        self.e_optimizer = loss_scaled(optimizers["e_optimizer"], self.encoder)
        self.d2_optimizer = optimizers.get("d2_optimizer")
        if self.d2_optimizer is not None:
            self.d2_optimizer = loss_scaled(self.d2_optimizer, self.discriminator2)
        self.lambda_kl = float(lambda_kl)
        self.lambda_z = float(lambda_z)
        self.split_batch = split_batch
        # Built now, as Pix2Pix builds G's and D's, so that load_model and
        # BackupAndRestore restore their moments.
        extra = {"e": (self.e_optimizer, self.encoder)}
        if self.d2_optimizer is not None:
            extra["d2"] = (self.d2_optimizer, self.discriminator2)
        self._build_optimizers(extra)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is None:
            return None
        for key in _PIX2PIX_ONLY:
            config.pop(key, None)
        config.update(
            e_optimizer=keras.saving.serialize_keras_object(self.e_optimizer),
            d2_optimizer=(
                None
                if self.d2_optimizer is None
                else keras.saving.serialize_keras_object(self.d2_optimizer)
            ),
            lambda_kl=self.lambda_kl,
            lambda_z=self.lambda_z,
            split_batch=self.split_batch,
        )
        return config

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("e_optimizer", "d2_optimizer"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        super().compile_from_config(config)

    # ------------------------------------------------------------------
    # inference

    def call(self, inputs, training=False):
        self._check_source_spec(inputs, "The source batch")
        z = keras.random.normal(
            (ops.shape(inputs)[0], self.latent_dim),
            seed=self.inference_seed_generator,
        )
        return self.generator([inputs, z], training=training)

    def sample(self, x, n=1, z=None, seed=None, batch_size=None):
        """`n` translations of each source image, one per latent code.

        Args:
            x: float array `(batch, h, w, in_channels)` in [-1, 1].
            n: int. Samples per image (ignored when `z` is given).
                Defaults to `1`.
            z: array or `None`. `(n, latent_dim)` codes shared by every
                image, or `(batch, n, latent_dim)`; `None` draws each from
                N(0, I). Defaults to `None`.
            seed: int or `None`. Seed of the drawn codes (same seed, same
                samples); `None` draws fresh ones. Defaults to `None`.
            batch_size: int or `None`. Batch size of the generator calls.
                Defaults to `None` (32).

        Returns:
            float32 numpy array `(batch, n, h, w, out_channels)`.
        """
        self._check_predict_input(x)
        x = np.asarray(x, dtype="float32")
        b = x.shape[0]
        if z is None:
            check_int(n=n)
            z = (
                np.random.default_rng(seed)
                .standard_normal((b, n, self.latent_dim))
                .astype("float32")
            )
        else:
            z = np.asarray(z, dtype="float32")
            if z.ndim == 2:
                z = np.broadcast_to(z[None], (b,) + z.shape)
            if z.ndim != 3 or z.shape[0] != b or z.shape[2] != self.latent_dim:
                raise ValueError(
                    f"`z` must have shape (n, {self.latent_dim}) or ({b}, n, "
                    f"{self.latent_dim}). Received shape {z.shape}."
                )
        outputs = [
            self.generator.predict(
                [x, np.ascontiguousarray(z[:, j])],
                batch_size=batch_size,
                verbose=0,
            )
            for j in range(z.shape[1])
        ]
        return np.stack(outputs, axis=1)

    def encode(self, y, batch_size=None):
        """`μ` and `log σ²` of E's posterior for target images `y`.

        Args:
            y: float array `(batch, h, w, out_channels)` in [-1, 1].
            batch_size: int or `None`. Defaults to `None` (32).

        Returns:
            Tuple of two float32 numpy arrays `(batch, latent_dim)`.
        """
        mu, log_var = self.encoder.predict(y, batch_size=batch_size, verbose=0)
        return mu, log_var

    def export(self, filepath, format="tf_saved_model", verbose=False, seed=None):
        """Exports G and E as a TensorFlow SavedModel for serving.

        Endpoints (shape-free batch, height and width):

        - `serve(image)` (also `serving_default`): draws `z ~ N(0, I)` per
          image on every call, so two calls give different translations;
        - `serve_latent(image, latent)`: `generator([image, latent])` with
          the given codes, `(batch, latent_dim)` (the name `UNetGenerator`'s
          own export uses);
        - `encode(image)`: `{"mu", "log_var"}` of a target image.

        Args:
            filepath: str or path. Target directory (written beside it and
                renamed into place).
            format: str. Only `"tf_saved_model"`. Defaults to it. (For
                ONNX or LiteRT, `export_generator(model.generator, ...)`
                writes the generator with inputs `image` and `latent`.)
            verbose: bool. Print the endpoint summary. Defaults to `False`.
            seed: int or `None`. Seed of `serve`'s codes: the same seed gives
                the same sequence of draws after each load. Defaults to
                `None`.

        Returns:
            str. The export directory.
        """
        if format != "tf_saved_model":
            raise ValueError(
                "BicycleGAN.export() writes format='tf_saved_model' only "
                "(its endpoints draw random codes, which ONNX and LiteRT "
                "files cannot hold). For ONNX or LiteRT, export the "
                "generator alone, with inputs `image` and `latent`: "
                "pix2pix_keras.export_generator(model.generator, path, "
                f"format=...). Received: format={format!r}"
            )
        path = os.path.abspath(os.fspath(filepath))
        generator, encoder = self.generator, self.encoder
        latent_dim = self.latent_dim
        in_c = generator.inputs[0].shape[-1]
        out_c = encoder.inputs[0].shape[-1]
        image = tf.TensorSpec((None, None, None, in_c), tf.float32, "image")
        target = tf.TensorSpec((None, None, None, out_c), tf.float32, "image")
        z_spec = tf.TensorSpec((None, latent_dim), tf.float32, "latent")
        sampler = _LatentSampler(seed, name="z_sampler")

        def serve(image):
            z = keras.random.normal(
                (ops.shape(image)[0], latent_dim), seed=sampler.seed_generator
            )
            return generator([image, z], training=False)

        def serve_latent(image, latent):
            return generator([image, latent], training=False)

        def encode(image):
            mu, log_var = encoder(image, training=False)
            return {"mu": mu, "log_var": log_var}

        def write(directory):
            archive = keras.export.ExportArchive()
            for resource in (generator, encoder, sampler):
                archive.track(resource)
            # The first endpoint is also `serving_default`.
            archive.add_endpoint("serve", serve, input_signature=[image])
            archive.add_endpoint(
                "serve_latent", serve_latent, input_signature=[image, z_spec]
            )
            archive.add_endpoint("encode", encode, input_signature=[target])
            archive.write_out(directory, verbose=verbose)

        _write_directory(path, write)
        return path

    # ------------------------------------------------------------------
    # steps

    def _split(self, source, target, training):
        """Pairs of the cVAE path and real pairs of the cLR path's D2."""
        if not (training and self.split_batch):
            return (source, target), (source, target)
        n = source.shape[0]
        if n is None:
            n = ops.shape(source)[0]
        m = n - n // 2  # ceil(n / 2): equal halves, overlapping if n is odd
        first = (source[:m], target[:m])
        second = (source[n - m :], target[n - m :])
        return first, second

    def _logits(self, net, source, image, training):
        logits = net([source, image], training=training)
        if not isinstance(logits, (list, tuple)):
            logits = [logits]
        return list(logits)

    def _gan_terms(self, net, source, real, fake, real_source, training):
        """G's and D's GAN losses for one discriminator (scales averaged)."""
        real_logits = self._logits(net, real_source, real, training)
        fake_logits = self._logits(net, source, fake, training)
        n = len(fake_logits)
        g_gan = sum(self._g_gan_loss(t) for t in fake_logits) / n
        d_loss = (
            sum(self._d_gan_loss(r, f) for r, f in zip(real_logits, fake_logits)) / n
        )
        return g_gan, d_loss

    def _bicycle_forward(self, source, target, training):
        """Both paths; returns `(G(x, z_encoded), target, values)`."""
        (x, y), (x2, y2) = self._split(source, target, training)
        mu, log_var = self.encoder(y, training=training)
        if training:
            eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator)
            z_encoded = mu + ops.exp(0.5 * log_var) * eps
        else:
            z_encoded = mu  # the reference's test(encode=True)
        z_random = keras.random.normal(ops.shape(mu), seed=self.seed_generator)
        fake_encoded = self.generator([x, z_encoded], training=training)
        fake_random = self.generator([x, z_random], training=training)
        mu2, _ = self.encoder(fake_random, training=training)

        d2 = self.discriminator2 or self.discriminator
        g_gan_vae, d_loss = self._gan_terms(
            self.discriminator, x, y, fake_encoded, x, training
        )
        g_gan_lr, d2_loss = self._gan_terms(d2, x, y2, fake_random, x2, training)
        g_l1 = ops.mean(ops.abs(ops.cast(y, "float32") - fake_encoded))
        kl = ops.mean(kl_divergence(mu, log_var))
        z_l1 = ops.mean(ops.abs(mu2 - z_random))
        l1_weight = ops.cast(self.l1_weight, "float32")
        ge_loss = g_gan_vae + g_gan_lr + l1_weight * g_l1 + self.lambda_kl * kl
        values = dict(
            g_loss=ge_loss + self.lambda_z * z_l1,
            g_gan_vae=g_gan_vae,
            g_gan_lr=g_gan_lr,
            g_l1=g_l1,
            kl=kl,
            z_l1=z_l1,
            d_loss=d_loss,
            d2_loss=d2_loss,
            _ge_loss=ge_loss,
        )
        return fake_encoded, y, values

    def networks(self):
        nets = [self.generator, self.discriminator, self.encoder]
        if self.discriminator2 is not None:
            nets.append(self.discriminator2)
        return nets

    def train_step(self, data):
        source, target = self._unpack(data)
        checks = self._check_batch(source, target)  # step guard, or None
        d_nets = [self.discriminator, self.discriminator2]
        d_opts = [self.d_optimizer, self.d2_optimizer]
        if self.discriminator2 is None:  # shared: one D for both paths
            d_nets, d_opts = d_nets[:1], d_opts[:1]
        # Three tapes: G's loss has the z_l1 term, E's has not (the
        # reference's backward_G_alone), and D's and D2's losses share no
        # variables, so their sum gives each its own gradient.
        with (
            tf.GradientTape() as g_tape,
            tf.GradientTape() as e_tape,
            tf.GradientTape() as d_tape,
        ):
            _, _, values = self._bicycle_forward(source, target, True)
            g_loss = scaled_loss(values["g_loss"], self.g_optimizer)
            e_loss = scaled_loss(values["_ge_loss"], self.e_optimizer)
            if d_opts[-1] is d_opts[0]:
                d_loss = scaled_loss(values["d_loss"] + values["d2_loss"], d_opts[0])
            else:  # D and D2 share no variables: each its own loss scale
                d_loss = scaled_loss(values["d_loss"], d_opts[0]) + scaled_loss(
                    values["d2_loss"], d_opts[-1]
                )
        g_vars = self.generator.trainable_variables
        e_vars = self.encoder.trainable_variables
        d_vars = [n.trainable_variables for n in d_nets]
        d_grads = d_tape.gradient(d_loss, [v for vs in d_vars for v in vs])
        d_updates = []
        for opt, variables in zip(d_opts, d_vars):
            d_updates.append((opt, d_grads[: len(variables)], variables))
            d_grads = d_grads[len(variables) :]
        updates = {
            "g": [
                (self.g_optimizer, g_tape.gradient(g_loss, g_vars), g_vars),
                (self.e_optimizer, e_tape.gradient(e_loss, e_vars), e_vars),
            ],
            "d": d_updates,
        }
        self.apply_updates(updates, values, checks)
        self._end_step(values, checks)
        return self._track(values)

    def test_step(self, data):
        # The whole batch, z = μ(y) for the cVAE path (deterministic
        # reconstruction: psnr / ssim measure G(x, E(y)) against y).
        source, target = self._unpack(data)
        fake, target, values = self._bicycle_forward(source, target, False)
        return self._test_logs(target, fake, values)

    # ------------------------------------------------------------------
    # serialization

    def get_config(self):
        config = super().get_config()
        config.update(
            encoder=keras.saving.serialize_keras_object(self.encoder),
            discriminator2=(
                None
                if self.discriminator2 is None
                else keras.saving.serialize_keras_object(self.discriminator2)
            ),
            latent_dim=self.latent_dim,
            shared_discriminator=self.shared_discriminator,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        _check_configs(cls, config, custom_objects)
        for key in ("generator", "discriminator", "encoder", "discriminator2"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(
                    config[key], custom_objects=custom_objects
                )
        return cls(**config)

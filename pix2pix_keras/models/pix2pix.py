"""The Pix2Pix model: a generator, a conditional discriminator, two optimizers."""

import inspect
import json
import os
import shutil
import tempfile
import zipfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pix2pix_keras import _compat
from pix2pix_keras._compat import flatten_layers
from pix2pix_keras import losses as losses_lib
from pix2pix_keras import metrics as metrics_lib
from pix2pix_keras.models.discriminator import PatchDiscriminator
from pix2pix_keras.models.discriminator import feature_matching_loss
from pix2pix_keras.models.generator import UNetGenerator
from pix2pix_keras.models.blocks import NoiseDropout
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.models.generator import set_inference_dropout
from pix2pix_keras.models.blocks import set_inference_statistics
from pix2pix_keras.models.resnet import ResnetGenerator
from pix2pix_keras.models.training import INPUT_RANGE_TOLERANCE
from pix2pix_keras.models.training import ON_NONFINITE
from pix2pix_keras.models.training import NonFiniteError
from pix2pix_keras.models.training import StepGuardMixin
from pix2pix_keras.models.training import current_learning_rate
from pix2pix_keras.models.training import replica_scaled
from pix2pix_keras.utils import atomic_path
from pix2pix_keras.utils import check_config_keys
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_keras_file
from pix2pix_keras.utils import check_number
from pix2pix_keras.utils import config_differences

# Architecture-only presets (new, untrained networks). Their former names
# "unet_256" / "unet_128" read like weights (and are the reference's
# `--netG` names); they still work, with a DeprecationWarning.
PRESETS = {
    "untrained_unet_256": dict(image_size=(256, 256)),
    "untrained_unet_128": dict(image_size=(128, 128)),
}
_DEPRECATED_PRESETS = {
    "unet_256": "untrained_unet_256",
    "unet_128": "untrained_unet_128",
}

_RNG_PREFIX = "rng_"


def default_optimizer():
    """Adam(2e-4, beta_1=0.5, beta_2=0.999), the paper's optimizer."""
    return keras.optimizers.Adam(
        learning_rate=2e-4, beta_1=0.5, beta_2=0.999
    )


def _ensure_built(model, shape, arg_name):
    if model.built:
        return
    if shape is None:
        raise ValueError(
            f"`{arg_name}` is not built and its input shape is unknown: "
            f"call `{arg_name}.build(...)` first."
        )
    model.build(shape)


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class Pix2Pix(StepGuardMixin, _compat.SkipSymbolicBuild, keras.Model):
    """Pix2Pix: paired image-to-image translation with a conditional GAN.

    Owns a `generator` G (default `UNetGenerator`) and a conditional
    `discriminator` D (default 70×70 `PatchDiscriminator`). `fit()` on a
    dataset of `(source, target)` batches in [-1, 1] trains both with
    their own optimizers: G minimises the GAN loss plus `lambda_l1` times
    the L1 distance to the target, D the (halved) GAN loss on real and
    generated pairs. `predict(source)` translates. Isola et al. 2017,
    https://arxiv.org/abs/1611.07004.

    Each step reports `g_loss`, `g_gan`, `g_l1`, `d_loss` and `d_real` /
    `d_fake`, the mean D output on real and generated pairs (1 = "real"),
    plus `g_l2`, `g_vgg` and `g_fm` when `compile()` turns on the L2,
    perceptual or feature-matching loss. Any generator works (`UNetGenerator`,
    `ResnetGenerator`, a subclass, a custom model) and any discriminator
    called as `D([source, image])` that returns logits or a list of logits
    (`PatchDiscriminator`, `PixelDiscriminator`, `MultiScaleDiscriminator`;
    the GAN loss is averaged over the scales).

    Inference (`predict()`, `model(x)`, `evaluate()`, the export) is
    deterministic by default; `inference_dropout = True` turns the
    generator's dropout into the paper's test-time noise. The generator's
    batch norm normalizes each image by its own statistics at inference
    (`inference_statistics`), which is what it saw in training at batch
    size 1.

    `save("x.keras")` stores both networks, both optimizers, the compile
    settings and the dropout RNG states, so training resumes exactly after
    `keras.saving.load_model`. `export(dir)` writes the generator as a
    TensorFlow SavedModel for serving.

    Args:
        generator: `keras.Model` or `None`. Maps `(b, h, w, in_channels)`
            to `(b, h, w, out_channels)` in [-1, 1]. `None` builds the
            classic `UNetGenerator`. Defaults to `None`.
        discriminator: `keras.Model` or `None`. Called as
            `discriminator([source, image])`, returns logits. `None` builds
            the 70×70 `PatchDiscriminator`. Defaults to `None`.
        image_size: int or `(height, width)`. Size for default networks
            (and for building an unbuilt custom one). Defaults to
            `(256, 256)`.
        in_channels: int. Source channels for default networks. Defaults
            to `3`.
        out_channels: int. Target channels for default networks. Defaults
            to `3`.
        name: str. Defaults to `"pix2pix"`.

    Example:
    >>> model = Pix2Pix(image_size=32,
    ...     generator=UNetGenerator(image_size=32, filters=8),
    ...     discriminator=PatchDiscriminator(image_size=32, filters=8))
    >>> model.compile()
    >>> x = np.zeros((2, 32, 32, 3), "float32")
    >>> history = model.fit(x=x, y=x, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['d_fake', 'd_loss', 'd_real', 'g_gan', 'g_l1', 'g_loss']
    """

    def __init__(
        self,
        generator=None,
        discriminator=None,
        image_size=(256, 256),
        in_channels=3,
        out_channels=3,
        name="pix2pix",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        h, w = _image_size(image_size)
        if generator is None:
            generator = UNetGenerator(
                image_size=(h, w),
                in_channels=in_channels,
                out_channels=out_channels,
            )
        if discriminator is None:
            discriminator = PatchDiscriminator(
                image_size=(h, w),
                in_channels=in_channels,
                out_channels=out_channels,
            )
        for arg, value in (
            ("generator", generator),
            ("discriminator", discriminator),
        ):
            if not isinstance(value, keras.Model):
                raise ValueError(
                    f"`{arg}` must be a keras.Model. Received: {arg}={value!r}"
                )
        _ensure_built(generator, (None, h, w, in_channels), "generator")
        _ensure_built(
            discriminator,
            [(None, h, w, in_channels), (None, h, w, out_channels)],
            "discriminator",
        )
        self.generator = generator
        self.discriminator = discriminator
        self._check_networks()

        # Counts train steps; decides the D updates of `d_every` and is
        # saved with the weights, so the phase survives a resume.
        self.step_counter = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            name="step_counter",
        )
        # The L1 weight the step uses: a variable, so a schedule (see
        # LambdaSchedule) can change it without retracing, and it is saved.
        self.l1_weight = self.add_weight(
            shape=(),
            dtype="float32",
            initializer=keras.initializers.Constant(100.0),
            trainable=False,
            name="lambda_l1",
        )
        self.trackers = {
            key: keras.metrics.Mean(name=key)
            for key in ("g_loss", "g_gan", "g_l1", "d_loss", "d_real", "d_fake")
        }
        # Image quality of G(x) against y, reported by evaluate() and as
        # val_psnr / val_ssim during fit(validation_data=...).
        self.quality_metrics = {
            "psnr": metrics_lib.PSNR(name="psnr"),
            "ssim": metrics_lib.SSIM(name="ssim"),
        }
        self.g_optimizer = None
        self.d_optimizer = None
        self.gan_loss = "lsgan"
        self.lambda_l1 = 100.0
        self.d_every = 1
        self.reconstruction = "l1"
        self.perceptual_weight = 0.0
        self.feature_matching_weight = 0.0
        self.jit_optimizer = "auto"
        _compat.set_untracked(self, "perceptual_loss", None)
        self.base_learning_rates = {}
        # Both networks are built; the wrapper has no weights of its own to
        # create, and unbuilt models skip optimizer state on load.
        self.built = True

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """A pretrained model, or a new model of a named configuration.

        Pretrained (`pix2pix_keras.pretrained.list_pretrained()`): the
        PyTorch reference's published generators `"facades_label2photo"`,
        `"sat2map"`, `"map2sat"`, `"edges2shoes"` and `"day2night"`,
        downloaded, converted and cached on first use
        (`pix2pix_keras.load_pretrained`), with a new discriminator.

        Untrained: `"untrained_unet_256"` (the paper's 256×256 network) and
        `"untrained_unet_128"`; their former names `"unet_256"` and
        `"unet_128"` still work but are deprecated.

        Args:
            preset: str. A pretrained or an untrained preset name.
            **kwargs: For a pretrained preset, `load_pretrained` arguments
                (`inference_statistics`, `inference_dropout`,
                `directory`, `origin`, `file_hash`); for an untrained one,
                overrides of its `Pix2Pix` arguments.

        Returns:
            A `Pix2Pix` instance (not compiled).

        Raises:
            ValueError: unknown `preset` (the message lists the names).

        Example:

        ```python
        model = Pix2Pix.from_preset("facades_label2photo")
        photos = model.predict(labels)  # (n, 256, 256, 3) in [-1, 1]
        ```
        """
        from pix2pix_keras import pretrained

        if preset in pretrained.PRETRAINED:
            return pretrained.load_pretrained(preset, **kwargs)
        if preset in _DEPRECATED_PRESETS:
            import warnings

            new = _DEPRECATED_PRESETS[preset]
            warnings.warn(
                f"Pix2Pix.from_preset({preset!r}) is deprecated: it builds "
                f"an untrained network; use {new!r} (or a pretrained name: "
                f"{', '.join(pretrained.PRETRAINED)}).",
                DeprecationWarning, stacklevel=2,
            )
            preset = new
        if preset not in PRESETS:
            raise ValueError(
                f"Unknown `preset`: {preset!r}. Pretrained: "
                f"{', '.join(pretrained.PRETRAINED)}; untrained: "
                f"{', '.join(PRESETS)}."
            )
        return cls(**{**PRESETS[preset], **kwargs})

    def _check_networks(self):
        g_in = self.generator.inputs[0].shape if self.generator.inputs else None
        g_out = self.generator.outputs[0].shape if self.generator.outputs else None
        d_in = self.discriminator.inputs
        if g_in is None or g_out is None or not d_in or len(d_in) != 2:
            return
        if d_in[0].shape[-1] != g_in[-1] or d_in[1].shape[-1] != g_out[-1]:
            raise ValueError(
                "The discriminator's inputs must be [source, image] with "
                f"{g_in[-1]} and {g_out[-1]} channels to match the generator "
                f"{tuple(g_in)} -> {tuple(g_out)}. Received discriminator "
                f"inputs {[tuple(t.shape) for t in d_in]}."
            )

    # ------------------------------------------------------------------
    # compile

    def compile(
        self,
        g_optimizer=None,
        d_optimizer=None,
        gan_loss="lsgan",
        lambda_l1=100.0,
        d_every=1,
        reconstruction="l1",
        perceptual_weight=0.0,
        perceptual_loss=None,
        feature_matching_weight=0.0,
        jit_optimizer="auto",
        on_nonfinite="stop",
        check_inputs=True,
        **kwargs,
    ):
        """Configures both optimizers and the losses.

        The generator minimises `g_gan + λ·reconstruction +
        perceptual_weight·g_vgg + feature_matching_weight·g_fm`, where λ is
        `lambda_l1` (or the current value of a `LambdaSchedule`). Every
        part is logged as its own metric: `g_gan`, `g_l1` (always, the L1
        distance), `g_l2` (with `reconstruction="l2"`), `g_vgg` and `g_fm`
        (when their weight is > 0).

        Args:
            g_optimizer: optimizer, its name, or `None` for
                `Adam(2e-4, beta_1=0.5)`. Updates the generator.
            d_optimizer: optimizer, its name, or `None` for
                `Adam(2e-4, beta_1=0.5)`. Updates the discriminator. Must
                be a different instance from `g_optimizer`.
            gan_loss: str. `"lsgan"` (least squares), `"vanilla"` (binary
                cross-entropy on logits) or `"hinge"`. Defaults to `"lsgan"`.
            lambda_l1: float >= 0. Weight of the L1 term (the start value
                of a `LambdaSchedule`; the weight in use is `l1_weight`,
                saved with the model). Defaults to
                `100.0`.
            d_every: int >= 1. Update D on every `d_every`-th step only
                (`2` = a 2:1 G:D ratio). Defaults to `1`.
            reconstruction: str. `"l1"` (paper) or `"l2"` (mean squared
                error: smoother, less sharp), weighted by λ. Defaults to
                `"l1"`.
            perceptual_weight: float >= 0. Weight of the VGG19 perceptual
                loss (pix2pixHD; helps on small data). Defaults to `0.0`.
            perceptual_loss: `VGGPerceptualLoss` or `None`. The perceptual
                loss to use; `None` with `perceptual_weight > 0` builds
                `VGGPerceptualLoss()` (ImageNet weights, downloaded once).
                It is saved by its config, not its weights. Defaults to
                `None`.
            feature_matching_weight: float >= 0. Weight of the pix2pixHD
                feature-matching loss: L1 between D's intermediate
                features of real and generated pairs. Needs a
                discriminator with a `features()` method (all of this
                package's). Defaults to `0.0`.
            jit_optimizer: bool or `"auto"`. Compile the two optimizer
                updates (not the convolutions) with XLA. On a CPU the Adam
                update of the 57 M parameters is memory-bound and XLA fuses
                it into one pass: 0.1 s less per step at 256×256 (see
                `docs/performance.md`), while XLA's own convolutions are
                slower than oneDNN's, so `jit_compile=True` for the whole
                step is not faster. `"auto"` turns it on when the step is
                not already compiled with XLA, not eager, and runs on one
                replica. Defaults to `"auto"`.
            on_nonfinite: `"stop"`, `"skip"` or `None`. What a training
                step does when g_loss, d_loss, the norm of either gradient
                or the source / target batch is NaN or Inf. `"stop"`: the
                step's updates are not applied and `fit()` raises
                `NonFiniteError` (a `FloatingPointError`) naming the step
                (`model.step_counter`) and what was non-finite; the weights,
                both optimizers and any checkpoint stay as after the last
                good step. `"skip"`: the step is not applied (the
                optimizers' iterations and moments and `step_counter` do
                not move) and training goes on; the skipped steps of each
                epoch are logged as `skipped_steps`. `None`: no check, every
                step is applied (a NaN reaches the weights). Defaults to
                `"stop"`.
            check_inputs: bool. Stop training (`ValueError`, the step not
                applied) when a source or target batch has finite values
                outside [-1, 1] (beyond `INPUT_RANGE_TOLERANCE`), e.g. 8-bit
                images not scaled, and make `predict()` reject such arrays.
                Defaults to `True`.
            **kwargs: passed to `keras.Model.compile`, e.g.
                `jit_compile=True`, `steps_per_execution`, `run_eagerly`.

        Raises:
            ValueError: for an unknown `gan_loss`, negative `lambda_l1`,
                `d_every < 1`, the same optimizer twice, a `loss` /
                `metrics` / `optimizer` argument (Pix2Pix has its own), an
                unknown `on_nonfinite` or an argument `keras.Model.compile`
                does not take.
        """
        perceptual_loss = self._check_losses(
            gan_loss, lambda_l1, reconstruction, perceptual_weight,
            perceptual_loss, feature_matching_weight,
        )
        self._check_keras_args(kwargs)
        g_optimizer, d_optimizer = self._check_optimizers(
            g_optimizer=g_optimizer, d_optimizer=d_optimizer
        )
        self._check_step_options(d_every, jit_optimizer, on_nonfinite,
                                 check_inputs)
        kwargs["optimizer"] = None  # no stray default RMSprop
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.gan_loss = gan_loss
        self.lambda_l1 = float(lambda_l1)
        self.l1_weight.assign(self.lambda_l1)
        self.d_every = d_every
        self.reconstruction = reconstruction
        self.perceptual_weight = float(perceptual_weight)
        self.feature_matching_weight = float(feature_matching_weight)
        # Kept out of Keras tracking: the VGG weights are not the model's
        # and are not saved with it (the compile config rebuilds the loss).
        _compat.set_untracked(self, "perceptual_loss", perceptual_loss)
        self._g_gan_loss, self._d_gan_loss = losses_lib.get_gan_loss(gan_loss)
        self.jit_optimizer = jit_optimizer
        self.on_nonfinite = on_nonfinite
        self.check_inputs = check_inputs
        self._setup_guard(self._use_xla_updates(jit_optimizer))
        self._set_trackers()
        self.base_learning_rates = {}
        self._build_optimizers({
            "g": (g_optimizer, self.generator),
            "d": (d_optimizer, self.discriminator),
        })

    def _check_losses(self, gan_loss, lambda_l1, reconstruction,
                      perceptual_weight, perceptual_loss,
                      feature_matching_weight):
        """Validates the loss settings; returns the perceptual loss to use
        (a new `VGGPerceptualLoss` for a weight > 0 without one)."""
        losses_lib.get_gan_loss(gan_loss)
        _check_weight(lambda_l1=lambda_l1)
        _check_weight(perceptual_weight=perceptual_weight)
        _check_weight(feature_matching_weight=feature_matching_weight)
        losses_lib.get_reconstruction_loss(reconstruction)
        if perceptual_loss is not None and not callable(perceptual_loss):
            raise ValueError(
                "`perceptual_loss` must be a callable (target, generated) -> "
                f"scalar such as VGGPerceptualLoss. Received: {perceptual_loss!r}"
            )
        if perceptual_loss is not None and perceptual_weight == 0:
            raise ValueError(
                "`perceptual_loss` is given but `perceptual_weight` is 0: set "
                "a weight > 0 to use it."
            )
        if feature_matching_weight > 0 and not callable(
            getattr(self.discriminator, "features", None)
        ):
            raise ValueError(
                "`feature_matching_weight` > 0 needs a discriminator with a "
                "`features([source, image], training)` method (as "
                "PatchDiscriminator, PixelDiscriminator and "
                "MultiScaleDiscriminator have). Received discriminator "
                f"{type(self.discriminator).__name__} {self.discriminator.name!r}."
            )
        if perceptual_weight > 0 and perceptual_loss is None:
            perceptual_loss = losses_lib.VGGPerceptualLoss()
        return perceptual_loss

    @staticmethod
    def _check_keras_args(kwargs):
        """Rejects Keras compile arguments Pix2Pix sets itself or does not
        know."""
        for arg in ("loss", "metrics", "loss_weights", "weighted_metrics"):
            if kwargs.get(arg) is not None:
                raise ValueError(
                    f"Pix2Pix.compile() does not take `{arg}`: the losses are "
                    "set by `gan_loss` and `lambda_l1`, and the metrics are "
                    f"built in. Received: {arg}={kwargs[arg]!r}"
                )
        if kwargs.get("optimizer") is not None:
            raise ValueError(
                "Pix2Pix.compile() takes `g_optimizer` and `d_optimizer`, not "
                f"`optimizer`. Received: optimizer={kwargs['optimizer']!r}"
            )
        keras_args = set(inspect.signature(keras.Model.compile).parameters)
        unknown = sorted(set(kwargs) - keras_args)
        if unknown:
            own = list(inspect.signature(Pix2Pix.compile).parameters)[1:-1]
            passed = sorted(keras_args - {
                "self", "optimizer", "loss", "metrics", "loss_weights",
                "weighted_metrics"})
            raise ValueError(
                f"Pix2Pix.compile() got unknown argument(s) {unknown}. It "
                f"takes {own} and the arguments of keras.Model.compile: "
                f"{passed}."
            )

    def _check_optimizers(self, **optimizers):
        """The optimizers (`None`: the default Adam), each a different
        instance; returned in the order given."""
        resolved = {
            name: self._get_optimizer(opt, name)
            for name, opt in optimizers.items()
        }
        names = list(resolved)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if resolved[a] is resolved[b]:
                    raise ValueError(
                        f"`{a}` and `{b}` must be two different optimizer "
                        "instances (each keeps its own moments and is built "
                        "for its own network's variables). Received the same "
                        f"{type(resolved[a]).__name__} {resolved[a].name!r} "
                        "for both."
                    )
        return list(resolved.values())

    def _check_step_options(self, d_every, jit_optimizer, on_nonfinite,
                            check_inputs):
        check_int(d_every=d_every)
        # The model's own strategy (set when it was built in a scope), so
        # compiling outside the scope is caught too.
        strategy = self.distribute_strategy
        if d_every > 1 and strategy.num_replicas_in_sync > 1:
            raise ValueError(
                f"`d_every`={d_every} is not supported under a multi-replica "
                f"strategy ({type(strategy).__name__}); use d_every=1."
            )
        if not (
            isinstance(jit_optimizer, bool)
            or (isinstance(jit_optimizer, str) and jit_optimizer == "auto")
        ):
            raise ValueError(
                "`jit_optimizer` must be True, False or 'auto'. Received: "
                f"jit_optimizer={jit_optimizer!r}"
            )
        if on_nonfinite not in ON_NONFINITE:
            raise ValueError(
                "`on_nonfinite` must be 'stop', 'skip' or None. Received: "
                f"on_nonfinite={on_nonfinite!r}"
            )
        if not isinstance(check_inputs, bool):
            raise ValueError(
                "`check_inputs` must be a bool. Received: "
                f"check_inputs={check_inputs!r}"
            )

    def _use_xla_updates(self, jit_optimizer):
        """Whether the optimizer updates run through XLA."""
        if jit_optimizer != "auto":
            return jit_optimizer
        return (
            not self.jit_compile
            and not self.run_eagerly
            and self.distribute_strategy.num_replicas_in_sync == 1
            # Not under any strategy: its gradient all-reduce cannot run
            # inside the XLA function.
            and not tf.distribute.has_strategy()
            and _compat.scope_strategy(self) is None
        )

    def _set_trackers(self):
        """The loss trackers of the optional loss parts in use."""
        for key in ("g_l2", "g_vgg", "g_fm", "skipped_steps"):
            self.trackers.pop(key, None)
        if self.reconstruction == "l2":
            self.trackers["g_l2"] = keras.metrics.Mean(name="g_l2")
        if self.perceptual_weight > 0:
            self.trackers["g_vgg"] = keras.metrics.Mean(name="g_vgg")
        if self.feature_matching_weight > 0:
            self.trackers["g_fm"] = keras.metrics.Mean(name="g_fm")
        if self.on_nonfinite == "skip":
            self.trackers["skipped_steps"] = keras.metrics.Sum(
                name="skipped_steps"
            )

    def _build_optimizers(self, optimizers):
        """Builds `{key: (optimizer, network)}` for the network's variables
        and records their learning rates in `base_learning_rates`.

        Built now, so that load_model and BackupAndRestore find the slots
        to restore the moments into (unbuilt optimizers skip them).
        """
        for key, (optimizer, network) in optimizers.items():
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
            self.base_learning_rates[key] = current_learning_rate(optimizer)

    @staticmethod
    def _get_optimizer(optimizer, arg_name):
        if optimizer is None:
            return default_optimizer()
        try:
            optimizer = keras.optimizers.get(optimizer)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"`{arg_name}` must be a keras optimizer or its name. "
                f"Received: {arg_name}={optimizer!r} ({e})"
            ) from None
        return optimizer

    def get_compile_config(self):
        if self.g_optimizer is None:
            return None
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "gan_loss": self.gan_loss,
            "lambda_l1": self.lambda_l1,
            "d_every": self.d_every,
            "reconstruction": self.reconstruction,
            "perceptual_weight": self.perceptual_weight,
            "perceptual_loss": (
                None
                if self.perceptual_loss is None
                else keras.saving.serialize_keras_object(self.perceptual_loss)
            ),
            "feature_matching_weight": self.feature_matching_weight,
            "jit_optimizer": self.jit_optimizer,
            "on_nonfinite": self.on_nonfinite,
            "check_inputs": self.check_inputs,
            "jit_compile": self.jit_compile,
            "steps_per_execution": self.steps_per_execution,
            "base_learning_rates": dict(self.base_learning_rates),
        }

    def compile_from_config(self, config):
        config = dict(config)
        base_lrs = config.pop("base_learning_rates", None)
        g_opt = keras.saving.deserialize_keras_object(config.pop("g_optimizer"))
        d_opt = keras.saving.deserialize_keras_object(config.pop("d_optimizer"))
        if config.get("perceptual_loss") is not None:
            config["perceptual_loss"] = keras.saving.deserialize_keras_object(
                config["perceptual_loss"]
            )
        self.compile(g_optimizer=g_opt, d_optimizer=d_opt, **config)
        if base_lrs:
            self.base_learning_rates = dict(base_lrs)

    # ------------------------------------------------------------------
    # steps

    @property
    def metrics(self):
        return list(self.trackers.values()) + list(self.quality_metrics.values())

    def call(self, inputs, training=False):
        # Static checks (shape and dtype are known when the step is traced).
        self._check_source_spec(inputs, "The source batch")
        return self.generator(inputs, training=training)

    def _size_factor(self):
        """What height and width must be divisible by, or None if unknown."""
        if isinstance(self.generator, UNetGenerator):
            return 2 ** self.generator.depth
        if isinstance(self.generator, ResnetGenerator):
            return 2 ** self.generator.n_downsampling
        return None

    def _check_source_spec(self, x, what, channels=None):
        """Raises a clear error for a source batch of the wrong rank,
        channel count, dtype or size (statically known properties only)."""
        if isinstance(x, dict) and len(x) == 1:
            (x,) = x.values()  # {"image": x}, the generator's input name
        if isinstance(x, (list, tuple, dict)):
            raise ValueError(
                f"{what} must be one (batch, height, width, channels) "
                f"tensor. Received a {type(x).__name__} of {len(x)} "
                "element(s)."
            )
        if channels is None and self.generator.inputs:
            channels = self.generator.inputs[0].shape[-1]
        shape = tuple(x.shape)
        if len(shape) != 4:
            hint = (
                " For one image, add a batch axis (x[None])."
                if len(shape) == 3 else ""
            )
            raise ValueError(
                f"{what} must be 4-D (batch, height, width, {channels}) "
                f"with values in [-1, 1]. Received shape {shape}.{hint}"
            )
        if None not in (channels, shape[-1]) and shape[-1] != channels:
            raise ValueError(
                f"{what} must have {channels} channel(s) (the generator's "
                f"input). Received shape {shape}."
            )
        dtype = keras.backend.standardize_dtype(x.dtype)
        if not dtype.startswith(("float", "bfloat")):
            raise TypeError(
                f"{what} has dtype {dtype}; Pix2Pix takes float images in "
                "[-1, 1]. Convert 8-bit images with x.astype('float32') / "
                "127.5 - 1 (pk.load_paired_dataset does this)."
            )
        factor = self._size_factor()
        if factor and any(s is not None and s % factor for s in shape[1:3]):
            raise ValueError(
                f"{what} has height and width {shape[1:3]}, but this "
                f"{type(self.generator).__name__} needs multiples of "
                f"{factor}. Received shape {shape}."
            )

    @property
    def inference_dropout(self):
        """bool: whether the generator's dropout stays on at inference.

        `False` (default): `predict()`, `model(x)`, `evaluate()` and the
        export are deterministic. `True`: the generator's `NoiseDropout`
        layers keep dropping at inference, the paper's noise, so repeated
        calls give different translations. The setting lives in the
        generator's config, so `save()` / `load_model` and `export()` keep
        it.
        """
        return any(
            layer.at_inference
            for layer in flatten_layers(self.generator, include_self=True)
            if isinstance(layer, NoiseDropout)
        )

    @inference_dropout.setter
    def inference_dropout(self, value):
        if value is True and not any(
            isinstance(layer, NoiseDropout)
            for layer in flatten_layers(self.generator, include_self=True)
        ):
            raise ValueError(
                "`inference_dropout=True` needs dropout in the generator, but "
                f"{self.generator.name!r} has no NoiseDropout layer "
                "(pix2pix_keras.models.blocks.NoiseDropout)."
            )
        if hasattr(type(self.generator), "inference_dropout"):
            self.generator.inference_dropout = value
        else:
            set_inference_dropout(self.generator, value)
        # Cached step functions were traced with the old setting.
        self.predict_function = None
        self.test_function = None

    @property
    def inference_statistics(self):
        """str: what the generator's batch norm normalizes with at
        inference.

        `"image"` (the package's generators' default): each image's own
        mean and variance, which is what training at batch size 1 used, so
        `predict()`, `evaluate()` and the export compute the trained
        function and an image's output does not depend on its batch.
        `"moving"`: the moving averages (Keras' default; often better for
        models trained with larger batches). Saved with the generator's
        config. See `docs/inference.md`.
        """
        return getattr(self.generator, "inference_statistics", "moving")

    @inference_statistics.setter
    def inference_statistics(self, value):
        if hasattr(type(self.generator), "inference_statistics"):
            self.generator.inference_statistics = value
        else:
            set_inference_statistics(self.generator, value)
        self.predict_function = None
        self.test_function = None

    def _unpack(self, data):
        if isinstance(data, (tuple, list)) and len(data) == 3 and data[2] is None:
            data = data[:2]  # train_on_batch / test_on_batch pass (x, y, None)
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            n = len(data) if isinstance(data, (tuple, list)) else 1
            raise ValueError(
                "Pix2Pix expects batches of (source, target) pairs; received "
                f"a structure of {n} element(s)"
                + (" (sample weights are not supported)." if n == 3 else ".")
            )
        source, target = data
        s, t = tuple(source.shape), tuple(target.shape)
        if len(s) != 4 or len(t) != 4:
            raise ValueError(
                "Pix2Pix expects 4-D (batch, height, width, channels) source "
                f"and target batches. Received shapes {s} and {t}."
            )
        if s[1:3] != t[1:3] or (None not in (s[0], t[0]) and s[0] != t[0]):
            raise ValueError(
                "Source and target batches must have the same batch size, "
                f"height and width. Received source {s} and target {t}."
            )
        want_in = self.generator.inputs[0].shape[-1] if self.generator.inputs else None
        want_out = (
            self.generator.outputs[0].shape[-1] if self.generator.outputs else None
        )
        if (None not in (want_in, s[-1]) and s[-1] != want_in) or (
            None not in (want_out, t[-1]) and t[-1] != want_out
        ):
            raise ValueError(
                f"The generator maps {want_in} to {want_out} channels, but "
                f"the batches have source {s} and target {t}."
            )
        self._check_source_spec(source, "The source batch", want_in)
        self._check_source_spec(target, "The target batch", want_out)
        if None in (s[0], t[0]) and not self.jit_compile:
            # Known only when the step runs (XLA drops this assert; the
            # discriminator's concatenation fails instead).
            # Under control dependencies, so the assert runs before any op
            # that uses the batches (else the concatenation may fail first).
            check = tf.debugging.assert_equal(
                tf.shape(source)[0],
                tf.shape(target)[0],
                message="Source and target batches must have the same "
                "batch size (source, target)",
            )
            with tf.control_dependencies([check]):
                source = tf.identity(source)
                target = tf.identity(target)
        return ops.cast(source, "float32"), ops.cast(target, "float32")

    def networks(self):
        """The networks a training step runs: `[generator, discriminator]`."""
        return [self.generator, self.discriminator]

    def train_step(self, data):
        """One training step: unpack, forward, losses, gradients, updates.

        The generator G minimises `generator_loss()`, the discriminator D
        `discriminator_loss()`; `generator_updates()` and
        `discriminator_updates()` turn them into `(optimizer, gradients,
        variables)` updates. Override one of these four methods to change
        a part of the step (see `docs/subclassing.md`).
        """
        source, target = self._unpack(data)
        checks = self._check_batch(source, target)  # step guard, or None
        values = self._on_d_steps(
            lambda update_d: self.gan_step(source, target, update_d, checks)
        )
        self._end_step(values, checks)
        return self._track(values)

    def gan_step(self, source, target, update_d=True, checks=None):
        """Forward, losses, gradients and updates; returns the step's values.

        With `update_d=False` (a step that `d_every` skips) D judges the
        generated pair for G's loss, but neither its loss on real pairs nor
        its update is computed.
        """
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(source, training=True)
            real_view = (
                self._discriminate(source, target, True) if update_d else None
            )
            fake_view = self._discriminate(source, fake, True)
            values = self.generator_loss(
                source, target, fake, fake_view, real_view
            )
            if update_d:
                values.update(self.discriminator_loss(real_view, fake_view))
            g_loss = replica_scaled(values["g_loss"])
            d_loss = replica_scaled(values["d_loss"]) if update_d else None
        updates = {"g": self.generator_updates(g_tape, g_loss)}
        if update_d:
            updates["d"] = self.discriminator_updates(d_tape, d_loss)
        self.apply_updates(updates, values, checks)
        if update_d:
            values["d_updated"] = tf.constant(1.0)
        else:
            # Shaped as a full step's values; `d_updated = 0` keeps them
            # out of the D trackers.
            zero = ops.zeros((), "float32")
            values.update(d_loss=zero, d_real=zero, d_updated=zero)
        return values

    def generator_loss(self, source, target, fake, fake_view, real_view=None):
        """G's loss and its parts, from D's view of the generated pair.

        Args:
            source, target: the batch.
            fake: `G(source)`.
            fake_view: `(logits, features)` of D on `[source, fake]`:
                a list of logits (one per scale) and D's features, or
                `None` without feature matching.
            real_view: the same on `[source, target]`, or `None` on a step
                that does not update D.

        Returns:
            dict with `g_loss` (what G minimises), `g_gan`, `g_l1`,
            `d_fake` and the optional parts (`g_l2`, `g_vgg`, `g_fm`).
            Every key that has a tracker in `self.trackers` is logged.
        """
        fake_logits, fake_features = fake_view
        g_gan = sum(self._g_gan_loss(t) for t in fake_logits) / len(fake_logits)
        g_l1 = losses_lib.l1_loss(target, fake)
        values = dict(g_gan=g_gan, g_l1=g_l1)
        if self.reconstruction == "l2":
            values["g_l2"] = losses_lib.l2_loss(target, fake)
        rec = values["g_l2"] if self.reconstruction == "l2" else g_l1
        g_loss = g_gan + ops.cast(self.l1_weight, rec.dtype) * rec
        if self.perceptual_weight > 0:
            values["g_vgg"] = ops.cast(self.perceptual_loss(target, fake),
                                       "float32")
            g_loss = g_loss + self.perceptual_weight * values["g_vgg"]
        if self.feature_matching_weight > 0:
            if real_view is None:  # a G-only step: D sees y just now
                real_view = self._discriminate(source, target, True)
            values["g_fm"] = feature_matching_loss(real_view[1],
                                                   fake_features)
            g_loss = g_loss + self.feature_matching_weight * values["g_fm"]
        values["g_loss"] = g_loss
        values["d_fake"] = self._d_output(fake_logits)
        return values

    def discriminator_loss(self, real_view, fake_view):
        """D's loss (`d_loss`) and its mean output on real pairs
        (`d_real`), from its `(logits, features)` views of both pairs."""
        real_logits, fake_logits = real_view[0], fake_view[0]
        d_loss = sum(
            self._d_gan_loss(r, f) for r, f in zip(real_logits, fake_logits)
        ) / len(real_logits)
        return dict(d_loss=d_loss, d_real=self._d_output(real_logits))

    def generator_updates(self, tape, g_loss):
        """G's updates: a list of `(optimizer, gradients, variables)`."""
        variables = self.generator.trainable_variables
        return [(self.g_optimizer, tape.gradient(g_loss, variables), variables)]

    def discriminator_updates(self, tape, d_loss):
        """D's updates: a list of `(optimizer, gradients, variables)`."""
        variables = self.discriminator.trainable_variables
        return [(self.d_optimizer, tape.gradient(d_loss, variables), variables)]

    def _on_d_steps(self, step):
        """`step(update_d)`, with `update_d=True` on every `d_every`-th step.

        No AutoGraph in Keras train steps: a Python `if` on a tensor fails,
        so with `d_every > 1` the choice is an explicit `tf.cond`, and each
        branch runs only its own compute.
        """
        if self.d_every == 1:
            return step(True)
        return tf.cond(
            tf.equal(self.step_counter % self.d_every, 0),
            lambda: step(True),
            lambda: step(False),
        )

    def _discriminate(self, source, image, training):
        """D's view of a pair: its logits as a list (one per scale), and
        its features (or None without feature matching)."""
        if self.feature_matching_weight > 0:
            features = self.discriminator.features(
                [source, image], training=training
            )
            return [f[-1] for f in features], features
        logits = self.discriminator([source, image], training=training)
        if not isinstance(logits, (list, tuple)):
            logits = [logits]
        return list(logits), None

    def _d_output(self, logits):
        return sum(
            losses_lib.discriminator_output(self.gan_loss, t) for t in logits
        ) / len(logits)

    def _forward(self, source, target, training):
        """Runs G and D; returns `(fake, values)` with every loss part."""
        fake = self.generator(source, training=training)
        real_view = self._discriminate(source, target, training)
        fake_view = self._discriminate(source, fake, training)
        values = self.generator_loss(source, target, fake, fake_view,
                                     real_view)
        values.update(self.discriminator_loss(real_view, fake_view))
        return fake, values

    def _track(self, values):
        # After a G-only step (d_every > 1) D's loss and its output on real
        # pairs were not computed: weight 0 leaves their means unchanged.
        d_weight = values.get("d_updated", 1.0)
        # With the step guard on, 0 for a step that was not applied: its
        # (possibly NaN) values stay out of the means.
        applied = values.get("_applied")
        for key, tracker in self.trackers.items():
            if key == "skipped_steps":
                if "_skipped" in values:
                    tracker.update_state(values["_skipped"])
                continue
            weight = d_weight if key in ("d_loss", "d_real") else None
            if applied is None:
                tracker.update_state(values[key], sample_weight=weight)
                continue
            value = ops.where(
                applied > 0, values[key], ops.zeros_like(values[key])
            )
            weight = applied if weight is None else weight * applied
            tracker.update_state(value, sample_weight=weight)
        logs = {
            key: tracker.result() for key, tracker in self.trackers.items()
            if key != "skipped_steps" or "_skipped" in values
        }
        return _compat.reducible_logs(logs)

    def test_step(self, data):
        source, target = self._unpack(data)
        fake, values = self._forward(source, target, training=False)
        return self._test_logs(target, fake, values)

    def _test_logs(self, target, fake, values):
        """Tracks `values` and the quality metrics of `fake`; the step logs."""
        logs = self._track(values)
        for key, metric in self.quality_metrics.items():
            metric.update_state(target, fake)
            # Shaped like the tracker logs (a batch axis under multi-worker).
            logs[key] = ops.reshape(metric.result(), ops.shape(logs["g_loss"]))
        return logs

    # ------------------------------------------------------------------
    # serialization

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(
                self.discriminator
            ),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        _check_configs(cls, config, custom_objects)
        generator = keras.saving.deserialize_keras_object(
            config.pop("generator"), custom_objects=custom_objects
        )
        discriminator = keras.saving.deserialize_keras_object(
            config.pop("discriminator"), custom_objects=custom_objects
        )
        return cls(generator=generator, discriminator=discriminator, **config)

    def _rng_states(self):
        """Seed-generator states (dropout masks), not part of `weights`."""
        weight_ids = {id(w) for w in self.weights}
        return [v for v in self.variables if id(v) not in weight_ids]

    def save_own_variables(self, store):
        # The RNG states are saved too, so a resumed run draws the same
        # dropout masks as an uninterrupted one.
        super().save_own_variables(store)
        for i, v in enumerate(self._rng_states()):
            store[f"{_RNG_PREFIX}{i}"] = v

    def load_own_variables(self, store):
        keys = list(store.keys())
        rng_keys = [k for k in keys if k.startswith(_RNG_PREFIX)]
        super().load_own_variables(
            {k: store[k] for k in keys if not k.startswith(_RNG_PREFIX)}
        )
        states = self._rng_states()
        if rng_keys and len(rng_keys) != len(states):
            raise ValueError(
                f"The saved model has {len(rng_keys)} random-generator states "
                f"but this model has {len(states)}: the file comes from a "
                "different architecture."
            )
        for i, v in enumerate(states if rng_keys else []):
            v.assign(store[f"{_RNG_PREFIX}{i}"])

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the model atomically (temporary file, fsync, rename).

        Same arguments as `keras.Model.save`; an interrupted save never
        leaves a partial file under `filepath`.
        """
        path = os.fspath(filepath)
        if not path.endswith(".keras"):
            return super().save(filepath, overwrite=overwrite, **kwargs)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists and overwrite=False.")
        with atomic_path(path, suffix=".keras") as tmp:
            super().save(tmp, overwrite=True, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Saves the weights atomically (temporary file, fsync, rename).

        Same arguments as `keras.Model.save_weights`. A single
        `.weights.h5` file is never left half-written, also when Keras's
        `ModelCheckpoint(save_weights_only=True)` or `BackupAndRestore`
        writes it; sharded weights (`max_shard_size`) are several files and
        are written as Keras does.
        """
        path = os.fspath(filepath)
        if (
            max_shard_size is not None
            or not path.endswith(".weights.h5")
            or "://" in path
        ):
            return super().save_weights(
                filepath, overwrite=overwrite, max_shard_size=max_shard_size
            )
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists and overwrite=False.")
        with atomic_path(path, suffix=".weights.h5") as tmp:
            super().save_weights(tmp, overwrite=True)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights (and optimizer states) saved by `save_weights` or
        `save`, with clear errors.

        Same arguments as `keras.Model.load_weights`. A `.keras` file is
        checked first (`pix2pix_keras.utils.check_keras_file`); weights that
        do not fit this model raise a `ValueError` naming the file and,
        for a `.keras` file, the configuration entries that differ. As in
        Keras, the weights that did fit may have been loaded by then.

        Raises:
            FileNotFoundError: no file at `filepath`.
            ValueError: a truncated or damaged `.keras` file, or weights of
                another architecture.
        """
        path = os.fspath(filepath)
        if path.endswith(".keras"):
            check_keras_file(path)
        elif not os.path.exists(path) and "://" not in path:
            raise FileNotFoundError(f"No weights file at {path}.")
        try:
            return super().load_weights(
                filepath, skip_mismatch=skip_mismatch, **kwargs
            )
        except ValueError as e:
            raise ValueError(self._mismatch_message(path, e)) from e

    def _mismatch_message(self, path, error):
        # Keras's first line and its example error, without the list of
        # objects or variable values that can run to pages.
        text = str(error).split("List of objects that could not be loaded")[0]
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        first = " ".join(line[:300] for line in lines[:3])
        found = ""
        if path.endswith(".keras"):
            try:
                with zipfile.ZipFile(path) as archive:
                    saved = json.loads(archive.read("config.json"))
            except (OSError, KeyError, ValueError, zipfile.BadZipFile):
                saved = None
            if isinstance(saved, dict):
                if saved.get("class_name") != type(self).__name__:
                    found = (
                        f" The file holds a {saved.get('class_name')}, not a "
                        f"{type(self).__name__}."
                    )
                else:
                    own = json.loads(json.dumps(self.get_config(),
                                                default=str))
                    diffs = config_differences(saved.get("config", {}), own)
                    if diffs:
                        shown = "; ".join(
                            f"{key}: {a!r} in the file, {b!r} here"
                            for key, a, b in diffs[:6]
                        )
                        more = (
                            f" (and {len(diffs) - 6} more)"
                            if len(diffs) > 6 else ""
                        )
                        found = (
                            " It was saved from another architecture: "
                            f"{shown}{more}."
                        )
        return (
            f"The weights in {path} do not fit this {type(self).__name__}."
            f"{found} Build the model with the saved configuration, or "
            "load the whole model with Pix2Pix.load(path). Keras: "
            f"{first}"
        )

    @classmethod
    def load(cls, filepath, custom_objects=None, compile=True, safe_mode=True):
        """Loads a model saved with `save()`, checking the file first.

        `keras.saving.load_model` with clear errors that name the file: a
        missing, truncated or damaged file (Keras reports a truncated one
        as "File not found" and a damaged one as `zipfile.BadZipFile`), a
        SavedModel export, or a file holding another kind of model.

        Args:
            filepath: str or path. A `.keras` file.
            custom_objects: dict or `None`. As for `load_model`.
            compile: bool. Restore the optimizers and compile settings.
                Defaults to `True`.
            safe_mode: bool. Refuse Python lambdas in the file (as
                `load_model`). Defaults to `True`.

        Returns:
            The `Pix2Pix` (or subclass) instance.

        Raises:
            FileNotFoundError: no file at `filepath`.
            ValueError: a damaged or truncated file, a SavedModel, or a
                lambda layer with `safe_mode=True`.
            TypeError: the file holds another kind of model.
        """
        path = os.fspath(filepath)
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(
                f"{path} is a SavedModel export (the generator, for "
                "serving), not a .keras file: load it with "
                "tf.saved_model.load(path) or keras.layers.TFSMLayer(path, "
                "call_endpoint='serve')."
            )
        check_keras_file(path)
        model = keras.saving.load_model(
            path,
            custom_objects=custom_objects,
            compile=compile,
            safe_mode=safe_mode,
        )
        if not isinstance(model, cls):
            raise TypeError(
                f"{path} holds a {type(model).__name__}, not a {cls.__name__}."
            )
        return model

    def predict(self, x, batch_size=None, verbose="auto", steps=None,
                callbacks=None):
        """Translates source images (`keras.Model.predict` plus input checks).

        Arrays and tensors must be float `(batch, height, width,
        in_channels)` batches in [-1, 1] (with `check_inputs`, the default,
        their values are checked too: NaN / Inf or values outside [-1, 1]
        raise a `ValueError`); datasets are checked by their element spec.

        Raises:
            ValueError: wrong rank, channel count or size; values outside
                [-1, 1] or non-finite.
            TypeError: an integer or boolean dtype.
        """
        self._check_predict_input(x)
        return super().predict(
            x, batch_size=batch_size, verbose=verbose, steps=steps,
            callbacks=callbacks,
        )

    def _check_predict_input(self, x):
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if isinstance(spec, (tuple, list)) and spec:
                spec = spec[0]
            if isinstance(spec, tf.TensorSpec):
                self._check_source_spec(
                    spec, "predict(x): the dataset's source batch"
                )
            return
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            return  # generators, PyDataset, ...: checked by call()
        self._check_source_spec(x, "predict(x)")
        if not getattr(self, "check_inputs", True):
            return
        array = np.asarray(x)
        low, high = np.min(array), np.max(array)
        if not (np.isfinite(low) and np.isfinite(high)):
            bad = ~np.isfinite(array).reshape(len(array), -1).all(axis=1)
            images = np.flatnonzero(bad)
            raise ValueError(
                f"predict(x): {len(images)} image(s) contain NaN or Inf "
                f"(indices {images[:10].tolist()}"
                f"{'...' if len(images) > 10 else ''})."
            )
        if max(-low, high) > 1.0 + INPUT_RANGE_TOLERANCE:
            raise ValueError(
                f"predict(x) has values in [{low:.4g}, {high:.4g}]; Pix2Pix "
                "expects float images in [-1, 1] (8-bit images: x / 127.5 - "
                "1). compile(check_inputs=False) turns this check off."
            )

    def export(
        self, filepath, format="tf_saved_model", verbose=False, **kwargs
    ):
        """Exports the generator for serving (see `export_generator`)."""
        return export_generator(
            self.generator, filepath, format=format, verbose=verbose, **kwargs
        )


def _check_configs(cls, config, custom_objects=None):
    """Unknown keys in a Pix2Pix config or its networks' configs.

    Keras functional models silently drop unknown keyword arguments, so a
    misspelt or foreign key in a saved network config would be lost
    without a word. Only this package's classes are checked (a user's
    subclass may take `**kwargs` of its own).
    """
    if cls.__module__.startswith("pix2pix_keras."):
        check_config_keys(cls, config)
    for key in ("generator", "discriminator"):
        sub = config.get(key)
        if not isinstance(sub, dict) or not isinstance(sub.get("config"), dict):
            continue
        name = sub.get("registered_name") or sub.get("class_name")
        try:
            klass = keras.saving.get_registered_object(
                name, custom_objects=custom_objects
            )
        except (TypeError, ValueError):
            klass = None
        if isinstance(klass, type) and klass.__module__.startswith(
            "pix2pix_keras."
        ):
            check_config_keys(
                klass, sub["config"], what=f"{key} ({klass.__name__})"
            )


def _check_weight(**kwargs):
    ((name, value),) = kwargs.items()
    check_number(name, value, low=0)


# Old private name of `training.current_learning_rate`.
_current_lr = current_learning_rate


def export_generator(
    generator, filepath, format="tf_saved_model", verbose=False,
    input_signature=None, **kwargs
):
    """Exports a generator as a TensorFlow SavedModel with a serving signature.

    The signature takes a float32 `(batch, height, width, channels)` tensor
    named `image` in [-1, 1] with free batch, height and width (each must
    still be divisible by `2**depth` for a U-Net); the endpoints are `serve`
    and `serving_default`. The directory is written beside `filepath` and
    renamed into place, so an interrupted export leaves no partial model.

    Args:
        generator: `keras.Model`. The generator to export.
        filepath: str or path. Target directory.
        format: str. Keras export format. Defaults to `"tf_saved_model"`.
        verbose: bool. Print the endpoint summary. Defaults to `False`.
        input_signature: list of one `tf.TensorSpec`, or `None` for the
            shape-free signature above. Defaults to `None`.
        **kwargs: passed to `keras.Model.export`.

    Returns:
        str. The export directory.

    Example:

    ```python
    export_generator(model.generator, "exported")
    served = tf.saved_model.load("exported")
    y = served.serve(x)  # == model.predict(x)
    ```
    """
    path = os.path.abspath(os.fspath(filepath))
    if input_signature is None:
        channels = generator.inputs[0].shape[-1]
        input_signature = [
            tf.TensorSpec((None, None, None, channels), tf.float32, name="image")
        ]
    _write_directory(
        path,
        lambda tmp: generator.export(
            tmp,
            format=format,
            verbose=verbose,
            input_signature=input_signature,
            **kwargs,
        ),
    )
    return path


def _write_directory(path, write):
    """Calls `write(tmp)` for a directory beside `path`, then renames it
    into place: an interrupted export leaves no partial directory."""
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.tmp-", dir=parent)
    try:
        shutil.rmtree(tmp)
        write(tmp)
        old = None
        if os.path.exists(path):
            old = tmp + ".old"
            os.replace(path, old)
        os.replace(tmp, path)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

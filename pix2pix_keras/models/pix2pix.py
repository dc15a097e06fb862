"""The Pix2Pix model: a generator, a conditional discriminator, two optimizers."""

import keras
import tensorflow as tf
from keras import ops

from pix2pix_keras import _compat
from pix2pix_keras import losses as losses_lib
from pix2pix_keras import metrics as metrics_lib
from pix2pix_keras.losses import feature_matching_loss
from pix2pix_keras.models.checks import ChecksMixin
from pix2pix_keras.models.checks import _check_weight  # noqa: F401
from pix2pix_keras.models.checks import default_optimizer  # noqa: F401
from pix2pix_keras.models.discriminator import PatchDiscriminator
from pix2pix_keras.models.generator import UNetGenerator
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.models.inference import InferenceOptionsMixin
from pix2pix_keras.models.saving import PRESETS  # noqa: F401
from pix2pix_keras.models.saving import SavingMixin
from pix2pix_keras.models.saving import _check_configs
from pix2pix_keras.models.saving import _write_directory  # noqa: F401
from pix2pix_keras.models.saving import export_generator  # noqa: F401
from pix2pix_keras.models.training import INPUT_RANGE_TOLERANCE  # noqa: F401
from pix2pix_keras.models.training import ON_NONFINITE  # noqa: F401
from pix2pix_keras.models.training import NonFiniteError  # noqa: F401
from pix2pix_keras.models.training import StepGuardMixin
from pix2pix_keras.models.training import current_learning_rate
from pix2pix_keras.models.training import loss_scaled
from pix2pix_keras.models.training import scaled_loss

__all__ = ["Pix2Pix"]


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
class Pix2Pix(
    StepGuardMixin,
    ChecksMixin,
    SavingMixin,
    InferenceOptionsMixin,
    _compat.SkipSymbolicBuild,
    keras.Model,
):
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
                An optimizer whose network computes in float16 (built
                under the `mixed_float16` dtype policy) is wrapped in a
                `keras.optimizers.LossScaleOptimizer`, as
                `keras.Model.compile` does; the step scales each loss
                with its optimizer's `scale_loss()`.
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
            gan_loss,
            lambda_l1,
            reconstruction,
            perceptual_weight,
            perceptual_loss,
            feature_matching_weight,
        )
        self._check_keras_args(kwargs)
        g_optimizer, d_optimizer = self._check_optimizers(
            g_optimizer=g_optimizer, d_optimizer=d_optimizer
        )
        g_optimizer = loss_scaled(g_optimizer, self.generator)
        d_optimizer = loss_scaled(d_optimizer, self.discriminator)
        self._check_step_options(d_every, jit_optimizer, on_nonfinite, check_inputs)
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
        self._build_optimizers(
            {
                "g": (g_optimizer, self.generator),
                "d": (d_optimizer, self.discriminator),
            }
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
            self.trackers["skipped_steps"] = keras.metrics.Sum(name="skipped_steps")

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
            real_view = self._discriminate(source, target, True) if update_d else None
            fake_view = self._discriminate(source, fake, True)
            values = self.generator_loss(source, target, fake, fake_view, real_view)
            if update_d:
                values.update(self.discriminator_loss(real_view, fake_view))
            g_loss = scaled_loss(values["g_loss"], self.g_optimizer)
            d_loss = (
                scaled_loss(values["d_loss"], self.d_optimizer) if update_d else None
            )
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
            source: the source batch.
            target: the target batch.
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
            values["g_vgg"] = ops.cast(self.perceptual_loss(target, fake), "float32")
            g_loss = g_loss + self.perceptual_weight * values["g_vgg"]
        if self.feature_matching_weight > 0:
            if real_view is None:  # a G-only step: D sees y just now
                real_view = self._discriminate(source, target, True)
            values["g_fm"] = feature_matching_loss(real_view[1], fake_features)
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
            features = self.discriminator.features([source, image], training=training)
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
        values = self.generator_loss(source, target, fake, fake_view, real_view)
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
            value = ops.where(applied > 0, values[key], ops.zeros_like(values[key]))
            weight = applied if weight is None else weight * applied
            tracker.update_state(value, sample_weight=weight)
        logs = {
            key: tracker.result()
            for key, tracker in self.trackers.items()
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
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
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


# Old private name of `training.current_learning_rate`.
_current_lr = current_learning_rate

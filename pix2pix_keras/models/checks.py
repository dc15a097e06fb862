"""Checks of the arguments and batches a Pix2Pix model gets.

`ChecksMixin` validates `compile()` arguments stage by stage (losses,
Keras arguments, optimizers, step options) and checks the networks,
training batches and `predict()` inputs, with errors that say what to do.
"""

import inspect

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pix2pix_keras import losses as losses_lib
from pix2pix_keras.models.generator import UNetGenerator
from pix2pix_keras.models.resnet import ResnetGenerator
from pix2pix_keras.models.training import INPUT_RANGE_TOLERANCE
from pix2pix_keras.models.training import ON_NONFINITE
from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import check_number

__all__ = ["ChecksMixin", "default_optimizer"]


def default_optimizer():
    """Adam(2e-4, beta_1=0.5, beta_2=0.999), the paper's optimizer."""
    return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999)


def _check_weight(**kwargs):
    ((name, value),) = kwargs.items()
    check_number(name, value, low=0)


class ChecksMixin:
    """Argument and input checks of a Pix2Pix-style model."""

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

    def _check_losses(
        self,
        gan_loss,
        lambda_l1,
        reconstruction,
        perceptual_weight,
        perceptual_loss,
        feature_matching_weight,
    ):
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
            from pix2pix_keras.models.pix2pix import Pix2Pix

            own = list(inspect.signature(Pix2Pix.compile).parameters)[1:-1]
            passed = sorted(
                keras_args
                - {
                    "self",
                    "optimizer",
                    "loss",
                    "metrics",
                    "loss_weights",
                    "weighted_metrics",
                }
            )
            raise ValueError(
                f"Pix2Pix.compile() got unknown argument(s) {unknown}. It "
                f"takes {own} and the arguments of keras.Model.compile: "
                f"{passed}."
            )

    def _check_optimizers(self, **optimizers):
        """The optimizers (`None`: the default Adam), each a different
        instance; returned in the order given."""
        resolved = {
            name: self._get_optimizer(opt, name) for name, opt in optimizers.items()
        }
        names = list(resolved)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if resolved[a] is resolved[b]:
                    raise ValueError(
                        f"`{a}` and `{b}` must be two different optimizer "
                        "instances (each keeps its own moments and is built "
                        "for its own network's variables). Received the same "
                        f"{type(resolved[a]).__name__} {resolved[a].name!r} "
                        "for both."
                    )
        return list(resolved.values())

    def _check_step_options(self, d_every, jit_optimizer, on_nonfinite, check_inputs):
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

    def _size_factor(self):
        """What height and width must be divisible by, or None if unknown."""
        if isinstance(self.generator, UNetGenerator):
            return 2**self.generator.depth
        if isinstance(self.generator, ResnetGenerator):
            return 2**self.generator.n_downsampling
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
                " For one image, add a batch axis (x[None])." if len(shape) == 3 else ""
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

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
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
            x,
            batch_size=batch_size,
            verbose=verbose,
            steps=steps,
            callbacks=callbacks,
        )

    def _check_predict_input(self, x):
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if isinstance(spec, (tuple, list)) and spec:
                spec = spec[0]
            if isinstance(spec, tf.TensorSpec):
                self._check_source_spec(spec, "predict(x): the dataset's source batch")
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

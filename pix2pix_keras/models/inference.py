"""The inference switches of the generators and of Pix2Pix.

`inference_dropout` (the generator's `NoiseDropout` layers keep dropping at
inference) and `inference_statistics` (what batch norm normalizes with at
inference) are properties of the package's generators, saved in their
config; `Pix2Pix` has the same two properties, which set the generator's.
`set_inference_dropout` and `set_inference_statistics` do the same on the
layers of any model. `generator_of` finds the generator that translates
for a model.
"""

import keras

from pix2pix_keras._compat import flatten_layers
from pix2pix_keras.models.blocks import NoiseDropout
from pix2pix_keras.models.blocks import set_inference_statistics
from pix2pix_keras.models.blocks import set_layer_option

__all__ = [
    "InferenceDropoutMixin",
    "InferenceOptionsMixin",
    "InferenceStatisticsMixin",
    "generator_of",
    "set_inference_dropout",
]


def generator_of(model, keras_model=False):
    """The generator of a Pix2Pix-style model, or `model` itself.

    Args:
        model: a model with a `generator` attribute (`Pix2Pix`,
            `BicycleGAN`) or a generator.
        keras_model: bool. Whether the generator must be a `keras.Model`
            (else any callable will do). Defaults to `False`.

    Returns:
        The generator.

    Raises:
        ValueError: if there is no such generator.
    """
    generator = getattr(model, "generator", model)
    if keras_model:
        if not isinstance(generator, keras.Model):
            raise ValueError(
                "`model` must be a Pix2Pix or a generator (keras.Model). "
                f"Received: {type(model).__name__}"
            )
    elif not callable(generator):
        raise ValueError(
            f"`model` must be a Pix2Pix model or a generator. Received: {model!r}"
        )
    return generator


def set_inference_dropout(model, enabled):
    """Turns inference-time dropout on or off in every `NoiseDropout` layer.

    Args:
        model: `keras.Model` or layer. Its `NoiseDropout` layers, nested
            ones included, are switched.
        enabled: bool. Drop units also when `training=False`.

    Returns:
        bool. `enabled`.

    Raises:
        ValueError: if `enabled` is not a bool.
    """
    if not isinstance(enabled, bool):
        raise ValueError(
            "`inference_dropout` must be True or False. Received: "
            f"inference_dropout={enabled!r}"
        )
    return set_layer_option(model, NoiseDropout, "at_inference", enabled)


class InferenceDropoutMixin:
    """The `inference_dropout` property of the package's generators."""

    @property
    def inference_dropout(self):
        """bool: whether dropout stays on at inference (see the class doc).

        Setting it updates every `NoiseDropout` layer of the model (also
        inside nested layers) and drops the cached `predict()` function.
        """
        return self._inference_dropout

    @inference_dropout.setter
    def inference_dropout(self, value):
        self._inference_dropout = set_inference_dropout(self, value)


class InferenceStatisticsMixin:
    """The `inference_statistics` property of the package's generators."""

    @property
    def inference_statistics(self):
        """str: what batch norm normalizes with at inference.

        `"image"`: each image's own mean and variance (what training at
        batch size 1 saw, so `predict()` computes the trained function);
        `"moving"`: the moving averages (Keras' default). Setting it
        updates every `pix2pix_keras.BatchNormalization` layer and drops
        the cached `predict()` function. See `docs/inference.md`.
        """
        return self._inference_statistics

    @inference_statistics.setter
    def inference_statistics(self, value):
        self._inference_statistics = set_inference_statistics(self, value)

    @classmethod
    def from_config(cls, config):
        # Models saved before the option existed normalized with the moving
        # statistics at inference; they keep doing so.
        if isinstance(config, dict) and "inference_statistics" not in config:
            config = {**config, "inference_statistics": "moving"}
        return super().from_config(config)


class InferenceOptionsMixin:
    """`inference_dropout` and `inference_statistics` of a model that owns
    a `generator` (Pix2Pix): the generator's own switches, set through its
    property where it has one (which keeps them in its config)."""

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
        self._set_generator_option("inference_dropout", value, set_inference_dropout)

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
        self._set_generator_option(
            "inference_statistics", value, set_inference_statistics
        )

    def _set_generator_option(self, name, value, set_on_layers):
        """Sets an inference option through the generator's own property
        (which keeps it in the generator's config), or on its layers."""
        if hasattr(type(self.generator), name):
            setattr(self.generator, name, value)
        else:
            set_on_layers(self.generator, value)
        # Cached step functions were traced with the old setting.
        self.predict_function = None
        self.test_function = None

"""Presets, saving, loading and exporting a Pix2Pix model.

`SavingMixin` gives `Pix2Pix` `from_preset()`, atomic `save()` / `save_weights()`, checked
`load()` / `load_weights()` with clear errors, the dropout RNG states in
the saved file, and `export()`; `export_generator()` writes a generator
for serving as a SavedModel, an ONNX file or a LiteRT file.
"""

import importlib.util
import json
import os
import shutil
import tempfile
import warnings
import zipfile

import keras
import tensorflow as tf

from pix2pix_keras._compat import flatten_layers
from pix2pix_keras.models.blocks import NoiseDropout
from pix2pix_keras.utils import atomic_path
from pix2pix_keras.utils import check_config_keys
from pix2pix_keras.utils import check_keras_file
from pix2pix_keras.utils import config_differences

__all__ = ["PRESETS", "SavingMixin", "export_generator"]

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


class SavingMixin:
    """`from_preset`, `save`, `load` and `export` of a Pix2Pix-style
    model."""

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
                DeprecationWarning,
                stacklevel=2,
            )
            preset = new
        if preset not in PRESETS:
            raise ValueError(
                f"Unknown `preset`: {preset!r}. Pretrained: "
                f"{', '.join(pretrained.PRETRAINED)}; untrained: "
                f"{', '.join(PRESETS)}."
            )
        return cls(**{**PRESETS[preset], **kwargs})

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
            return super().load_weights(filepath, skip_mismatch=skip_mismatch, **kwargs)
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
                    own = json.loads(json.dumps(self.get_config(), default=str))
                    diffs = config_differences(saved.get("config", {}), own)
                    if diffs:
                        shown = "; ".join(
                            f"{key}: {a!r} in the file, {b!r} here"
                            for key, a, b in diffs[:6]
                        )
                        more = f" (and {len(diffs) - 6} more)" if len(diffs) > 6 else ""
                        found = (
                            f" It was saved from another architecture: {shown}{more}."
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

    def export(self, filepath, format="tf_saved_model", verbose=False, **kwargs):
        """Exports the generator for serving.

        See `export_generator`: `format="tf_saved_model"` (default) writes
        a SavedModel directory, `"onnx"` an ONNX file and `"litert"` a
        `.tflite` file; all compute what `predict()` computes.

        Args:
            filepath: str or path. Target directory or file.
            format: str. `"tf_saved_model"`, `"onnx"` or `"litert"`.
                Defaults to `"tf_saved_model"`.
            verbose: bool. Print Keras's export summary. Defaults to
                `False`.
            **kwargs: passed to `export_generator`.

        Returns:
            str. The export directory or file.

        Example:

        ```python
        model.export("generator.tflite", format="litert")
        ```
        """
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
        if isinstance(klass, type) and klass.__module__.startswith("pix2pix_keras."):
            check_config_keys(klass, sub["config"], what=f"{key} ({klass.__name__})")


# The formats of `export()`: Keras's names, and what each needs beyond
# TensorFlow (the extra of this package that installs it).
EXPORT_FORMATS = ("tf_saved_model", "onnx", "litert")
_FORMAT_MODULES = {
    # tf2onnx converts the traced function and writes it with onnx.
    "onnx": (("tf2onnx", "tf2onnx"), ("onnx", "onnx")),
    # TensorFlow's own converter (tf.lite.TFLiteConverter) writes it.
    "litert": (),
}
_FILE_SUFFIXES = {"onnx": ".onnx", "litert": ".tflite"}


def check_export_format(format):
    """Raises a clear error for a format `export()` cannot write here.

    Args:
        format: str. `"tf_saved_model"`, `"onnx"` or `"litert"`.

    Raises:
        ValueError: an unknown format (the message lists the formats).
        ImportError: an optional package the format needs is missing (the
            message names the extra that installs it).
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(
            "`format` must be one of "
            f"{', '.join(repr(f) for f in EXPORT_FORMATS)}. Received: "
            f"format={format!r}"
        )
    for module, package in _FORMAT_MODULES.get(format, ()):
        if importlib.util.find_spec(module) is None:
            raise ImportError(
                f"format={format!r} needs the package {package!r}, which is "
                "not installed: pip install "
                f'"pix2pix-keras[{format}]"'
            )


def export_generator(
    generator,
    filepath,
    format="tf_saved_model",
    verbose=False,
    input_signature=None,
    **kwargs,
):
    """Exports a generator for serving: a SavedModel, ONNX or LiteRT file.

    `format="tf_saved_model"` (default) writes a TensorFlow SavedModel
    directory. Its signature takes a float32 `(batch, height, width,
    channels)` tensor named `image` in [-1, 1] with free batch, height and
    width (each must still be divisible by `2**depth` for a U-Net); the
    endpoints are `serve` and `serving_default`.

    `format="onnx"` writes an ONNX file (needs the `onnx` extra: `pip
    install "pix2pix-keras[onnx]"`; run it with onnxruntime) and
    `format="litert"` a LiteRT (TensorFlow Lite) flatbuffer, whose path
    must end in `.tflite` (run it with the `litert` extra's
    `ai_edge_litert.interpreter.Interpreter`). Both take the same free-shape
    `image` input and compute what `predict()` computes: inference mode,
    with the generator's `inference_statistics` (per-image batch norm by
    default). A generator with a noise input (`latent_dim > 0`, or
    BicycleGAN's `[image, z]` generator) takes a second input `latent`,
    `(batch, latent_dim)`: these formats hold no random-number state. For
    the same reason a generator with `inference_dropout=True` can only be
    exported as a SavedModel.

    The output is written beside `filepath` and renamed into place, so an
    interrupted export leaves no partial model.

    Args:
        generator: `keras.Model`. The generator to export.
        filepath: str or path. Target directory (SavedModel) or file (ONNX,
            LiteRT).
        format: str. `"tf_saved_model"`, `"onnx"` or `"litert"`. Defaults
            to `"tf_saved_model"`.
        verbose: bool. Print Keras's export summary. Defaults to `False`.
        input_signature: list of `tf.TensorSpec` (for ONNX and LiteRT with
            two inputs: a list holding the list of both), or `None` for
            the shape-free signature above. Defaults to `None`.
        **kwargs: passed to `keras.Model.export` (e.g. `opset_version` for
            ONNX, converter settings such as `optimizations` for LiteRT).

    Returns:
        str. The export directory or file.

    Raises:
        ValueError: an unknown `format`, a LiteRT path without `.tflite`,
            or `inference_dropout=True` with ONNX or LiteRT.
        ImportError: the optional packages of `format` are missing.

    Example:

    ```python
    export_generator(model.generator, "exported")
    served = tf.saved_model.load("exported")
    y = served.serve(x)  # == model.predict(x)

    export_generator(model.generator, "generator.onnx", format="onnx")
    session = onnxruntime.InferenceSession("generator.onnx")
    y = session.run(None, {"image": x})[0]  # == model.predict(x)
    ```
    """
    check_export_format(format)
    path = os.path.abspath(os.fspath(filepath))
    if format != "tf_saved_model":
        return _export_file(generator, path, format, verbose, input_signature, **kwargs)
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


def _file_signature(generator):
    """The free-shape inputs of an ONNX / LiteRT export: `image`, and
    `latent` for a generator with a noise input."""
    inputs = list(generator.inputs)
    image = tf.TensorSpec(
        (None, None, None, inputs[0].shape[-1]), tf.float32, name="image"
    )
    if len(inputs) == 1:
        return [image]
    if len(inputs) == 2 and len(inputs[1].shape) == 2:
        latent = tf.TensorSpec((None, inputs[1].shape[-1]), tf.float32, name="latent")
        return [[image, latent]]
    raise ValueError(
        f"The generator {generator.name!r} has inputs "
        f"{[tuple(i.shape) for i in inputs]}: pass `input_signature` to "
        "export it."
    )


def _export_file(generator, path, format, verbose, input_signature, **kwargs):
    """ONNX or LiteRT: one file, written beside `path` and renamed."""
    suffix = _FILE_SUFFIXES[format]
    if format == "litert" and not path.endswith(suffix):
        raise ValueError(
            f"A LiteRT export is a {suffix} file: `filepath` must end in "
            f"{suffix!r}. Received: filepath={path!r}"
        )
    if any(
        isinstance(layer, NoiseDropout) and layer.at_inference
        for layer in flatten_layers(generator, include_self=True)
    ):
        raise ValueError(
            f"format={format!r} exports a deterministic function, but the "
            "generator has inference_dropout=True (random dropout at "
            "inference). Set `inference_dropout = False`, or export with "
            "format='tf_saved_model', which keeps the random dropout."
        )
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory; a {format} export is a single file.")
    if input_signature is None:
        input_signature = _file_signature(generator)

    with atomic_path(path, suffix=suffix) as tmp:
        with warnings.catch_warnings():
            # Keras's tf2onnx patch checks `hasattr(np, "object")`, which
            # NumPy 2 answers with a FutureWarning.
            warnings.filterwarnings(
                "ignore", message=".*np.object.*", category=FutureWarning
            )
            generator.export(
                tmp,
                format=format,
                verbose=verbose,
                input_signature=input_signature,
                **kwargs,
            )
        if format == "onnx":
            _name_onnx_output(tmp)
    return path


def _name_onnx_output(filepath):
    """Renames the ONNX graph's output to `output_0`, the name of the
    SavedModel and LiteRT outputs (tf2onnx names it after a TensorFlow
    tensor, such as `Identity:0`)."""
    import onnx

    model = onnx.load(filepath)
    graph = model.graph
    if len(graph.output) != 1 or graph.output[0].name == "output_0":
        return
    old = graph.output[0].name
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = "output_0"
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = "output_0"
    graph.output[0].name = "output_0"
    onnx.save(model, filepath)


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

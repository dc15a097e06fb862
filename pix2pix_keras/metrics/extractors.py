"""Feature extractors of FID and KID and the batched feature extraction
shared by `FrechetInceptionDistance` and `KernelInceptionDistance`."""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pix2pix_keras import fid_inception as _fid_inception
from pix2pix_keras.metrics._checks import _shape
from pix2pix_keras.metrics._checks import check_image_range
from pix2pix_keras.utils import check_int

__all__ = [
    "FID_INCEPTION",
    "KERAS_INCEPTION",
    "RANDOM_INCEPTION",
    "inception_extractor",
    "random_inception_extractor",
]

_INCEPTION_NOTOP = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"

#: Feature extractor of published FID numbers: the 2015 Inception graph of
#: the original FID code (`pix2pix_keras.fid_inception`). The default.
FID_INCEPTION = "fid_inception_2015"
#: Keras's `InceptionV3(include_top=False, pooling="avg")`, the extractor
#: of earlier releases (its FIDs are not comparable with published ones).
KERAS_INCEPTION = "keras_inception_v3"
#: `KERAS_INCEPTION` with fixed random weights (`random_inception_extractor`):
#: needs no download; its distances compare checkpoints of one run only.
RANDOM_INCEPTION = "random_inception_v3"


def inception_extractor(weights="imagenet", input_size=299):
    """InceptionV3 pool features: `include_top=False, pooling="avg"`, 2048-d.

    The network expects Inception's own input scale, [-1, 1]
    (`keras.applications.inception_v3.preprocess_input` maps [0, 255] there
    with `x / 127.5 - 1`), which is already the package's image scale, so
    images go in unchanged.

    Args:
        weights: `"imagenet"`, `None` (random, for tests) or the path of a
            weights file of InceptionV3 without its top
            (`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, or
            a `.weights.h5` saved from this model). `"imagenet"` downloads
            the file into `~/.keras/models/` once; without internet, copy it
            there or pass its path. Defaults to `"imagenet"`.
        input_size: int >= 75. Square input size. Defaults to `299`.

    Returns:
        A `keras.Model` mapping `(b, input_size, input_size, 3)` to
        `(b, 2048)`.

    Raises:
        ValueError: `input_size` below 75 or a missing weights file.
        RuntimeError: the ImageNet weights could not be downloaded.

    Example:

    ```python
    extractor = inception_extractor(weights="inception_v3_notop.h5")
    fid = FrechetInceptionDistance(extractor=extractor)
    kid = KernelInceptionDistance(extractor=extractor)  # the same model
    ```
    """
    check_int(minimum=75, input_size=input_size)
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if isinstance(weights, str) and weights != "imagenet":
        if not os.path.isfile(weights):
            raise ValueError(f"InceptionV3 weights file not found: {weights!r}")
    kwargs = dict(
        include_top=False,
        pooling="avg",
        input_shape=(input_size, input_size, 3),
        weights=weights,
    )
    if weights != "imagenet":
        return keras.applications.InceptionV3(**kwargs)
    try:
        return keras.applications.InceptionV3(**kwargs)
    except Exception as e:
        raise RuntimeError(
            "Could not get the InceptionV3 ImageNet weights (no internet?). "
            f"Put {_INCEPTION_NOTOP} into ~/.keras/models/, or pass its path "
            "as `weights` (or as `extractor`), or pass `weights=None` for a "
            f"randomly initialised network. Cause: {e}"
        ) from e


def random_inception_extractor(seed=0, input_size=299):
    """InceptionV3 pool features with fixed random weights: an FID proxy.

    The architecture of `inception_extractor`, every convolution kernel
    drawn from a He normal distribution by NumPy's generator with `seed`
    (the batch normalizations keep their initial, identity statistics), so
    the same `seed` gives the same network on every machine, whatever the
    global random state. Nothing is downloaded.

    A Fréchet distance in these features falls as generated images get
    closer to the real ones in colour, texture and layout, which makes it
    useful to follow one run or compare runs with each other on the same
    images. It is not the FID of published papers: those use the trained
    Inception network (`"fid_inception_2015"`).

    Args:
        seed: int >= 0. Seed of the weights. Defaults to `0`.
        input_size: int >= 75. Square input size. Defaults to `299`.

    Returns:
        A `keras.Model` mapping `(b, input_size, input_size, 3)` images in
        [-1, 1] to `(b, 2048)` features.

    Example:

    ```python
    fid = FrechetInceptionDistance(extractor="random_inception_v3")
    ```
    """
    check_int(minimum=0, seed=seed)
    model = inception_extractor(weights=None, input_size=input_size)
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        if len(variable.shape) == 4:  # convolution kernels (h, w, in, out)
            fan_in = int(np.prod(variable.shape[:3]))
            variable.assign(
                rng.normal(0.0, np.sqrt(2.0 / fan_in), variable.shape).astype("float32")
            )
    return model


def _is_keras_inception(extractor):
    if extractor is None or extractor in (KERAS_INCEPTION, RANDOM_INCEPTION):
        return True
    if isinstance(extractor, (str, os.PathLike)):
        return os.fspath(extractor).endswith(".h5")
    return False


def _is_fid_inception(extractor):
    if isinstance(extractor, _fid_inception.FIDInception):
        return True
    if extractor == FID_INCEPTION:
        return True
    if isinstance(extractor, (str, os.PathLike)):
        return os.fspath(extractor).endswith((".tgz", ".pb"))
    return False


def _build_extractor(extractor, weights, input_size):
    if isinstance(extractor, _fid_inception.FIDInception):
        return extractor
    if extractor == FID_INCEPTION:
        if weights is None:
            raise ValueError(
                "The FID Inception graph has fixed weights; `weights=None` "
                f"(random weights) needs extractor={KERAS_INCEPTION!r}."
            )
        if weights == "imagenet":
            return _fid_inception.fid_inception_extractor()
        if isinstance(weights, (str, os.PathLike)):
            path = os.fspath(weights)
            if path.endswith(".h5"):
                raise ValueError(
                    f"{path!r} is a Keras InceptionV3 weights file: pass "
                    f"extractor={KERAS_INCEPTION!r} with it, or the FID "
                    f"Inception archive ({_fid_inception.FID_INCEPTION_ARCHIVE}"
                    ") or graph as `weights`."
                )
            return _fid_inception.fid_inception_extractor(path)
        raise ValueError(
            "`weights` must be 'imagenet' or a file path. "
            f"Received: weights={weights!r}"
        )
    if extractor == RANDOM_INCEPTION:
        return random_inception_extractor(input_size=input_size or 299)
    if extractor is None or extractor == KERAS_INCEPTION:
        return inception_extractor(weights=weights, input_size=input_size or 299)
    if isinstance(extractor, (str, os.PathLike)):
        path = os.fspath(extractor)
        if not os.path.isfile(path):
            raise ValueError(
                f"Feature extractor file not found: {path!r} (the named "
                f"extractors are {FID_INCEPTION!r} and {KERAS_INCEPTION!r})"
            )
        if path.endswith(".keras"):
            return keras.saving.load_model(path)
        if path.endswith(".h5"):
            return inception_extractor(weights=path, input_size=input_size or 299)
        if path.endswith((".tgz", ".pb")):
            return _fid_inception.fid_inception_extractor(path)
        raise ValueError(
            "A feature extractor path must be a `.keras` model, a "
            "`.weights.h5` / `.h5` InceptionV3 weights file, or the FID "
            f"Inception archive (.tgz) or graph (.pb). Received: {path!r}"
        )
    if not callable(extractor):
        raise ValueError(
            f"`extractor` must be {FID_INCEPTION!r}, {KERAS_INCEPTION!r} "
            "(or None), a Keras model / callable mapping images to (batch, "
            f"features), or a file path. Received: {extractor!r}"
        )
    return extractor


class _FeatureMetric:
    """Shared feature extraction of `FrechetInceptionDistance` and KID."""

    def __init__(self, extractor, weights, input_size, batch_size):
        check_int(batch_size=batch_size)
        if _is_fid_inception(extractor):
            if input_size not in (None, 299):
                raise ValueError(
                    "The FID Inception graph resizes the images to 299×299 "
                    "itself, as the original FID code: `input_size` must be "
                    f"299 or None. Received: input_size={input_size!r}"
                )
            input_size = None  # fed at their own size
        elif input_size is not None:
            check_int(input_size=input_size)
        elif _is_keras_inception(extractor):
            raise ValueError(
                "InceptionV3 needs an `input_size` (299 by default); "
                "`input_size=None` is for extractors of any input size."
            )
        self.extractor = _build_extractor(extractor, weights, input_size)
        self.input_size = input_size
        self.batch_size = batch_size
        self.feature_dim = None
        self._extract = self._make_extract_fn()

    def _make_extract_fn(self):
        model, size = self.extractor, self.input_size
        if isinstance(model, _fid_inception.FIDInception):
            self._wants_rgb = False  # it repeats grayscale itself
            return model  # a session of its own, fed eagerly, no resize
        is_layer = isinstance(model, keras.Layer)
        inputs = getattr(model, "inputs", None) if is_layer else None
        self._wants_rgb = bool(inputs) and _shape(inputs[0])[-1] == 3

        def extract(images):
            if size is not None and _shape(images)[1:3] != (size, size):
                images = ops.image.resize(
                    images,
                    (size, size),
                    interpolation="bilinear",
                    antialias=True,
                    data_format="channels_last",
                )
            return model(images, training=False) if is_layer else model(images)

        return tf.function(extract, reduce_retracing=True)

    def update_state(self, real=None, fake=None):
        """Adds a batch of real and / or generated images in [-1, 1]."""
        if real is not None:
            self.update_real(real)
        if fake is not None:
            self.update_fake(fake)

    def features(self, images, name="images"):
        """Features of a batch of images, extracted `batch_size` at a time.

        Args:
            images: array or tensor `(n, h, w, c)` in [-1, 1]; resized to
                `input_size` (bilinear, antialiased) unless it is `None`
                (always `None` for the FID Inception graph, which resizes
                them itself).
            name: str. Used in error messages. Defaults to `"images"`.

        Returns:
            NumPy array `(n, d)`, the extractor's dtype (float32).

        Raises:
            ValueError: not a batch of images, values outside [-1, 1], or
                features that are not `(n, d)`, change size or are NaN.
        """
        if isinstance(images, tf.data.Dataset):
            raise ValueError(
                f"`{name}` must be an array or tensor, not a dataset: loop "
                "over it and update with each batch."
            )
        if not hasattr(images, "shape"):
            images = np.asarray(images, dtype="float32")
        shape = _shape(images)
        if len(shape) != 4:
            raise ValueError(
                f"`{name}` must be a batch of images (n, h, w, c). "
                f"Received shape {shape}"
            )
        out = []
        for start in range(0, shape[0], self.batch_size):
            chunk = ops.cast(images[start : start + self.batch_size], "float32")
            check_image_range(chunk, name)
            if self._wants_rgb and shape[-1] == 1:
                chunk = ops.repeat(chunk, 3, axis=-1)
            f = ops.convert_to_numpy(self._extract(chunk))
            if f.ndim != 2:
                raise ValueError(
                    "The feature extractor must return (batch, features). "
                    f"Received shape {f.shape} (a convolutional backbone "
                    "needs global pooling, e.g. pooling='avg')."
                )
            bad = ~np.all(np.isfinite(f), axis=1)
            if bad.any():
                raise ValueError(
                    f"The feature extractor returned NaN or infinite features "
                    f"for {int(bad.sum())} of {len(f)} {name} (images "
                    f"{(start + np.flatnonzero(bad)).tolist()[:10]} of this "
                    "update)."
                )
            if self.feature_dim is None:
                self.feature_dim = f.shape[1]
            elif f.shape[1] != self.feature_dim:
                raise ValueError(
                    f"Feature size changed from {self.feature_dim} to {f.shape[1]}."
                )
            out.append(f)
        if not out:
            return np.zeros((0, self.feature_dim or 0), "float32")
        return np.concatenate(out)

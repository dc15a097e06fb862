"""Input checks shared by the metrics: the [-1, 1] image contract."""

import numpy as np
import tensorflow as tf
from keras import ops

RANGE_TOLERANCE = 1e-3
"""How far images may stray outside [-1, 1] before the checks reject them."""


def _shape(x):
    return tuple(x.shape)


def check_image_range(images, name="images", tolerance=RANGE_TOLERANCE):
    """Raises a `ValueError` unless `images` are finite and in [-1, 1].

    Runs only eagerly: inside a `tf.function` it returns without checking.

    Args:
        images: array or tensor.
        name: str. The argument name used in the message. Defaults to
            `"images"`.
        tolerance: float. Allowed excess beyond -1 and 1. Defaults to
            `RANGE_TOLERANCE` (1e-3).

    Raises:
        ValueError: NaN or infinite values, or values outside the range.

    Example:
    >>> check_image_range(np.zeros((1, 4, 4, 3)))
    >>> check_image_range(np.full((1, 4, 4, 3), 255.0), name="y_pred")
    Traceback (most recent call last):
    ...
    ValueError: `y_pred` must be in [-1, 1] (images scaled as x / 127.5 - 1).
    Received values in [255, 255].
    """
    if not tf.executing_eagerly():
        return
    x = ops.cast(images, "float32")
    if int(np.prod(_shape(x))) == 0:
        return
    if not bool(ops.all(ops.isfinite(x))):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    lo, hi = float(ops.min(x)), float(ops.max(x))
    if lo < -1.0 - tolerance or hi > 1.0 + tolerance:
        raise ValueError(
            f"`{name}` must be in [-1, 1] (images scaled as x / 127.5 - 1). "
            f"Received values in [{lo:.4g}, {hi:.4g}]."
        )


def _image_pair(y_true, y_pred):
    """Float32 tensors of one shape `(batch, h, w, c)`, range-checked."""
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    a, b = _shape(y_true), _shape(y_pred)
    if len(a) != 4 or len(b) != 4:
        raise ValueError(
            "Expected image batches of shape (batch, h, w, c). "
            f"Received: y_true.shape={a}, y_pred.shape={b}"
        )
    if any(i is not None and j is not None and i != j for i, j in zip(a, b)):
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. "
            f"Received: y_true.shape={a}, y_pred.shape={b}"
        )
    check_image_range(y_true, "y_true")
    check_image_range(y_pred, "y_pred")
    return y_true, y_pred


def _check_positive(**values):
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"`{name}` must be a number. Received: {name}={value!r}")
        if not value > 0:
            raise ValueError(f"`{name}` must be > 0. Received: {name}={value!r}")

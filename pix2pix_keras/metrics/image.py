"""Per-image metrics (`psnr`, `ssim`, `l1`) and their streaming Keras
metrics (`PSNR`, `SSIM`, `L1`).

The functions return per-image values `(batch,)` and are pure Keras ops
(they trace into `tf.function` and compile with XLA); the classes are the
means over images, for `Pix2Pix.test_step` and `compile(metrics=...)`.
"""

import keras
import numpy as np
from keras import ops

from pix2pix_keras.metrics._checks import _check_positive
from pix2pix_keras.metrics._checks import _image_pair
from pix2pix_keras.metrics._checks import _shape
from pix2pix_keras.utils import check_int

__all__ = ["L1", "PSNR", "SSIM", "l1", "psnr", "ssim"]


@keras.saving.register_keras_serializable(package="pix2pix_keras")
def psnr(y_true, y_pred, max_val=2.0):
    """Peak signal-to-noise ratio per image.

    `10·log10(max_val² / MSE)` with the MSE over all pixels and channels of
    each image, as `skimage.metrics.peak_signal_noise_ratio(data_range=2)`.
    Identical images give `+inf`; the streaming `PSNR` metric clips them.

    Args:
        y_true: float tensor `(batch, h, w, c)` in [-1, 1].
        y_pred: float tensor, same shape and range.
        max_val: float. Pixel dynamic range. Defaults to `2.0`.

    Returns:
        Float tensor of shape `(batch,)`, in dB.

    Raises:
        ValueError: different shapes, or (eagerly) values outside [-1, 1].

    Example:
    >>> x = ops.zeros((1, 8, 8, 3))
    >>> round(float(psnr(x, x + 0.1)[0]), 2)
    26.02
    >>> float(psnr(x, x)[0])
    inf
    """
    _check_positive(max_val=max_val)
    y_true, y_pred = _image_pair(y_true, y_pred)
    mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
    # mse == 0 gives max_val**2 / 0 = inf and log10(inf) = inf, no NaN.
    return 10.0 * ops.log10(float(max_val) ** 2 / mse)


def _clipped_psnr(y_true, y_pred, max_val=2.0, max_db=100.0):
    return ops.minimum(psnr(y_true, y_pred, max_val=max_val), float(max_db))


def _gaussian_window(size, sigma):
    x = np.arange(size, dtype="float64") - (size - 1) / 2.0
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def _in_xla_context():
    """Whether ops are being traced for XLA (`jit_compile=True`)."""
    try:  # TensorFlow internals; without them, assume no XLA.
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover
        return False
    return bool(
        control_flow_util.GraphOrParentsInXlaContext(tf_ops.get_default_graph())
    )


def _blur(images, window, shifted_sums=None):
    """Separable "valid" blur of `(b, h, w, c)` by the 1-D `window`.

    Two implementations, equal to float32 rounding: depthwise convolutions
    (oneDNN: ~750 images/s for SSIM's 15 channels at 256×256 on 2 cores) and
    a weighted sum of shifted slices, which XLA fuses into one loop (~400
    images/s) while its CPU depthwise convolution manages ~14 images/s. The
    slices are used when tracing for XLA (`shifted_sums=None`: detected).
    """
    if shifted_sums is None:
        shifted_sums = _in_xla_context()
    size = len(window)
    if shifted_sums:
        h, w = ops.shape(images)[1], ops.shape(images)[2]
        images = sum(
            float(window[k]) * images[:, k : h - size + 1 + k] for k in range(size)
        )
        return sum(
            float(window[k]) * images[:, :, k : w - size + 1 + k] for k in range(size)
        )
    channels = _shape(images)[-1]
    kernel_h = np.tile(window.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    kernel_w = np.tile(window.reshape(1, size, 1, 1), (1, 1, channels, 1))
    images = ops.depthwise_conv(
        images, kernel_h, padding="valid", data_format="channels_last"
    )
    return ops.depthwise_conv(
        images, kernel_w, padding="valid", data_format="channels_last"
    )


@keras.saving.register_keras_serializable(package="pix2pix_keras")
def ssim(
    y_true,
    y_pred,
    max_val=2.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
):
    """Structural similarity per image (mean SSIM over pixels and channels).

    Wang et al. 2004, https://doi.org/10.1109/TIP.2003.819861. Local means,
    variances and the covariance come from a `filter_size` Gaussian window
    of standard deviation `filter_sigma`, population (not sample)
    statistics, evaluated where the window fits inside the image ("valid"),
    then averaged. This is `tf.image.ssim` and
    `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=2.0, channel_axis=-1)` (its
    window is 11 wide for sigma 1.5); the tests check agreement with
    skimage on real photos. `ssim(x, x)` is exactly 1.

    Args:
        y_true: float tensor `(batch, h, w, c)` in [-1, 1], with `h` and `w`
            at least `filter_size`.
        y_pred: float tensor, same shape and range.
        max_val: float. Pixel dynamic range. Defaults to `2.0`.
        filter_size: int. Gaussian window size. Defaults to `11`.
        filter_sigma: float. Gaussian standard deviation. Defaults to `1.5`.
        k1: float. Luminance constant, `c1 = (k1·max_val)²`. Defaults to
            `0.01`.
        k2: float. Contrast constant, `c2 = (k2·max_val)²`. Defaults to
            `0.03`.

    Returns:
        Float tensor of shape `(batch,)`, at most 1.

    Raises:
        ValueError: different shapes, images smaller than the window, an
            unknown channel count, or (eagerly) values outside [-1, 1].

    Example:
    >>> x = ops.linspace(-1.0, 1.0, 16 * 16 * 3)
    >>> x = ops.reshape(x, (1, 16, 16, 3))
    >>> float(ssim(x, x)[0])
    1.0
    >>> round(float(ssim(x, ops.zeros_like(x))[0]), 4)  # blank: no structure
    0.0037
    """
    check_int(filter_size=filter_size)
    _check_positive(max_val=max_val, filter_sigma=filter_sigma, k1=k1, k2=k2)
    y_true, y_pred = _image_pair(y_true, y_pred)
    _, h, w, c = _shape(y_true)
    if c is None:
        raise ValueError(
            "`ssim` needs a known channel count. Received: "
            f"y_true.shape={_shape(y_true)}"
        )
    if (h is not None and h < filter_size) or (w is not None and w < filter_size):
        raise ValueError(
            f"`ssim` needs images of at least filter_size={filter_size} "
            f"pixels per side. Received: y_true.shape={_shape(y_true)}"
        )
    # Variances and the covariance are shift-invariant: centring each image
    # channel on its mean first keeps E[x²] − μ² from cancelling in float32
    # (constant images then have exactly zero variance).
    shift_x = ops.mean(y_true, axis=(1, 2), keepdims=True)
    shift_y = ops.mean(y_pred, axis=(1, 2), keepdims=True)
    x, y = y_true - shift_x, y_pred - shift_y
    # One separable depthwise blur for all five moments at once.
    stacked = ops.concatenate([x, y, x * x, y * y, x * y], axis=-1)
    window = _gaussian_window(filter_size, filter_sigma).astype("float32")
    blurred = _blur(stacked, window)
    mu_x, mu_y, xx, yy, xy = ops.split(blurred, 5, axis=-1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    mu_x = mu_x + shift_x
    mu_y = mu_y + shift_y
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    numerator = (2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return ops.mean(numerator / denominator, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="pix2pix_keras")
def l1(y_true, y_pred):
    """Mean absolute error per image, on the [-1, 1] scale.

    The same quantity as the generator's `g_l1` loss term; it is twice the
    L1 distance of the images scaled to [0, 1].

    Args:
        y_true: float tensor `(batch, h, w, c)` in [-1, 1].
        y_pred: float tensor, same shape and range.

    Returns:
        Float tensor of shape `(batch,)`.

    Raises:
        ValueError: different shapes, or (eagerly) values outside [-1, 1].

    Example:
    >>> x = ops.zeros((2, 4, 4, 3))
    >>> [round(v, 6) for v in ops.convert_to_numpy(l1(x, x - 0.5)).tolist()]
    [0.5, 0.5]
    """
    y_true, y_pred = _image_pair(y_true, y_pred)
    return ops.mean(ops.abs(y_true - y_pred), axis=(1, 2, 3))


# ---------------------------------------------------------------------------
# Streaming Keras metrics


class _PerImageMean(keras.metrics.MeanMetricWrapper):
    """The mean over images of `fn(y_true, y_pred, **options)`; `direction`
    (`"up"` or `"down"`) is where the metric improves. The options are
    attributes and, with `name` and `dtype`, the config."""

    def __init__(self, fn, name, dtype, direction, **options):
        super().__init__(fn=fn, name=name, dtype=dtype, **options)
        self._option_names = tuple(options)
        for key, value in options.items():
            setattr(self, key, value)
        self._direction = direction

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            **{key: getattr(self, key) for key in self._option_names},
        }


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class PSNR(_PerImageMean):
    """Streaming PSNR: the mean over images of the per-image PSNR (dB).

    Identical images have an infinite PSNR; each image's value is clipped at
    `max_db` (default 100 dB, beyond any real reconstruction: an 8-bit image
    off by one level in a single pixel of a 256×256 image scores about
    96 dB) so that the running mean stays finite. `sample_weight` weights
    images.

    Args:
        name: str. Defaults to `"psnr"`.
        dtype: dtype of the result. Defaults to `None` (float32).
        max_val: float. Pixel dynamic range. Defaults to `2.0` ([-1, 1]).
        max_db: float. Upper clip per image. Defaults to `100.0`.

    Example:
    >>> m = PSNR()
    >>> x = ops.zeros((2, 8, 8, 3))
    >>> m.update_state(x, x + 0.1)
    >>> m.update_state(x, x)  # identical: 100 dB each
    >>> round(float(m.result()), 3)
    63.01
    """

    def __init__(self, name="psnr", dtype=None, max_val=2.0, max_db=100.0):
        _check_positive(max_val=max_val, max_db=max_db)
        super().__init__(
            _clipped_psnr, name, dtype, "up", max_val=max_val, max_db=max_db
        )


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class SSIM(_PerImageMean):
    """Streaming SSIM: the mean over images of the per-image `ssim`.

    Args:
        name: str. Defaults to `"ssim"`.
        dtype: dtype of the result. Defaults to `None` (float32).
        max_val: float. Pixel dynamic range. Defaults to `2.0` ([-1, 1]).
        filter_size: int. Gaussian window size. Defaults to `11`.
        filter_sigma: float. Gaussian standard deviation. Defaults to `1.5`.
        k1: float. Defaults to `0.01`.
        k2: float. Defaults to `0.03`.

    Example:
    >>> m = SSIM()
    >>> x = ops.reshape(ops.linspace(-1.0, 1.0, 2 * 16 * 16 * 3),
    ...                 (2, 16, 16, 3))
    >>> m.update_state(x, x)
    >>> float(m.result())
    1.0
    """

    def __init__(
        self,
        name="ssim",
        dtype=None,
        max_val=2.0,
        filter_size=11,
        filter_sigma=1.5,
        k1=0.01,
        k2=0.03,
    ):
        check_int(filter_size=filter_size)
        _check_positive(max_val=max_val, filter_sigma=filter_sigma, k1=k1, k2=k2)
        super().__init__(
            ssim,
            name,
            dtype,
            "up",
            max_val=max_val,
            filter_size=filter_size,
            filter_sigma=filter_sigma,
            k1=k1,
            k2=k2,
        )


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class L1(_PerImageMean):
    """Streaming L1: the mean over images of the per-image mean |y − ŷ|.

    Like `keras.metrics.MeanAbsoluteError`, but averaged per image over
    pixels and channels first, with the [-1, 1] range check of `l1`.

    Args:
        name: str. Defaults to `"l1"`.
        dtype: dtype of the result. Defaults to `None` (float32).

    Example:
    >>> m = L1()
    >>> m.update_state(ops.zeros((2, 4, 4, 3)), ops.full((2, 4, 4, 3), 0.25))
    >>> float(m.result())
    0.25
    """

    def __init__(self, name="l1", dtype=None):
        super().__init__(l1, name, dtype, "down")

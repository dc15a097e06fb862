"""Evaluation metrics: PSNR, SSIM, L1, FID, KID and segmentation scores.

Scale: every image metric here takes float images `(batch, h, w, c)`,
channels last, **in [-1, 1]** (the package's image contract, the range of
the generator's `tanh`). So `max_val` (the dynamic range) defaults to `2.0`
and `l1` is twice the L1 distance of the same images in [0, 1]. Values
outside [-1, 1] by more than `RANGE_TOLERANCE`, NaN and infinite values
raise a `ValueError` when the functions run eagerly; inside a `tf.function`
(a Keras train / test step) only shapes are checked, because a value check
would need an assertion op that XLA cannot compile.

- `psnr`, `ssim`, `l1`: per-image values `(batch,)`, pure Keras ops (they
  trace into `tf.function` and compile with XLA). `PSNR`, `SSIM` and `L1`
  are their streaming `keras.metrics.Metric` versions (mean over images),
  for `Pix2Pix.test_step` and `compile(metrics=...)`.
- `FrechetInceptionDistance` and `KernelInceptionDistance`: distribution
  distances between real and generated images in the feature space of
  the 2015 Inception graph of the original FID implementation (by default;
  see `pix2pix_keras.fid_inception`), Keras's InceptionV3, or any
  extractor; plain Python objects that accumulate in float64 NumPy. `frechet_distance` and `kid_from_features` are the pure
  functions behind them.
- `SegmentationScore` and `fcn_score`: the "FCN score" of the pix2pix paper
  (segment generated photos, compare with the label maps they were
  generated from): per-class IoU, mIoU, pixel and class accuracy.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from pix2pix_keras import fid_inception as _fid_inception
from pix2pix_keras.utils import check_int

RANGE_TOLERANCE = 1e-3
"""How far images may stray outside [-1, 1] before the checks reject them."""

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


# ---------------------------------------------------------------------------
# Input checks


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
            raise ValueError(
                f"`{name}` must be a number. Received: {name}={value!r}"
            )
        if not value > 0:
            raise ValueError(
                f"`{name}` must be > 0. Received: {name}={value!r}"
            )


# ---------------------------------------------------------------------------
# Per-image functions


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
            float(window[k]) * images[:, k : h - size + 1 + k]
            for k in range(size)
        )
        return sum(
            float(window[k]) * images[:, :, k : w - size + 1 + k]
            for k in range(size)
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
    if (h is not None and h < filter_size) or (
        w is not None and w < filter_size
    ):
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


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class PSNR(keras.metrics.MeanMetricWrapper):
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
            fn=_clipped_psnr,
            name=name,
            dtype=dtype,
            max_val=max_val,
            max_db=max_db,
        )
        self.max_val = max_val
        self.max_db = max_db
        self._direction = "up"

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "max_val": self.max_val,
            "max_db": self.max_db,
        }


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class SSIM(keras.metrics.MeanMetricWrapper):
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
        _check_positive(
            max_val=max_val, filter_sigma=filter_sigma, k1=k1, k2=k2
        )
        super().__init__(
            fn=ssim,
            name=name,
            dtype=dtype,
            max_val=max_val,
            filter_size=filter_size,
            filter_sigma=filter_sigma,
            k1=k1,
            k2=k2,
        )
        self.max_val = max_val
        self.filter_size = filter_size
        self.filter_sigma = filter_sigma
        self.k1 = k1
        self.k2 = k2
        self._direction = "up"

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "max_val": self.max_val,
            "filter_size": self.filter_size,
            "filter_sigma": self.filter_sigma,
            "k1": self.k1,
            "k2": self.k2,
        }


@keras.saving.register_keras_serializable(package="pix2pix_keras")
class L1(keras.metrics.MeanMetricWrapper):
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
        super().__init__(fn=l1, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


# ---------------------------------------------------------------------------
# Fréchet distance and KID on features


def _matrix(x, name, ndim):
    x = np.asarray(x, dtype="float64")
    if x.ndim != ndim:
        raise ValueError(
            f"`{name}` must have {ndim} dimension(s). Received: "
            f"{name}.shape={x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return x


def _psd_sqrt(matrix):
    """Square root of a symmetric PSD matrix by eigendecomposition."""
    w, v = np.linalg.eigh(matrix)
    # Eigenvalues below the rank tolerance (numpy.linalg.matrix_rank's) are
    # rounding noise of size ~eps·‖Σ‖; their square roots (~1e-8·‖Σ‖^½ each,
    # hundreds of them when n < d) would bias the trace. Zero them.
    tol = max(w.max(), 0.0) * len(w) * np.finfo("float64").eps
    w = np.where(w > tol, w, 0.0)
    return (v * np.sqrt(w)) @ v.T


def _trace_sqrt_product(sigma1, sigma2):
    """`Tr((Σ₁Σ₂)^½)` as `Σ √λ(Σ₁^½ Σ₂ Σ₁^½)`, all symmetric PSD."""
    root = _psd_sqrt(sigma1)
    m = root @ sigma2 @ root
    eig = np.linalg.eigvalsh(0.5 * (m + m.T))
    tol = max(eig.max(), 0.0) * len(eig) * np.finfo("float64").eps
    return float(np.sqrt(np.where(eig > tol, eig, 0.0)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between the Gaussians `N(μ₁, Σ₁)` and `N(μ₂, Σ₂)`.

    `‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)` (Heusel et al. 2017,
    https://arxiv.org/abs/1706.08500), in float64.

    The trace of the matrix square root uses that `Σ₁Σ₂` is similar to the
    symmetric PSD matrix `Σ₁^½ Σ₂ Σ₁^½`, so `Tr((Σ₁Σ₂)^½)` is the sum of the
    square roots of its eigenvalues: two symmetric eigendecompositions
    (`numpy.linalg.eigh`, backward stable, real results), eigenvalues below
    the rank tolerance set to zero. `scipy.linalg.sqrtm(Σ₁ @ Σ₂)` (the
    pytorch-fid recipe) takes the Schur form of a non-symmetric, often
    singular product (always singular with fewer images than feature
    dimensions): it can return complex values with spurious imaginary
    parts, needs an `eps·I` retry, and is several times slower at 2048-d.
    On a rank-deficient 2048-d covariance (500 samples) the FID of a set
    against itself comes out as -5e-13 here and -6e-5 with `sqrtm`.

    Args:
        mu1: array `(d,)`. Mean of the first set.
        sigma1: array `(d, d)`. Covariance of the first set (symmetric PSD).
        mu2: array `(d,)`. Mean of the second set.
        sigma2: array `(d, d)`. Covariance of the second set.

    Returns:
        Python float. It can be slightly negative (rounding, ~1e-12 of the
        trace) for identical statistics.

    Raises:
        ValueError: mismatched shapes, or NaN / infinite values.

    Example:
    >>> mu1, mu2 = np.zeros(2), np.array([3.0, 0.0])
    >>> round(frechet_distance(mu1, np.eye(2), mu2, 4 * np.eye(2)), 6)
    11.0
    """
    mu1 = _matrix(mu1, "mu1", 1)
    mu2 = _matrix(mu2, "mu2", 1)
    sigma1 = _matrix(sigma1, "sigma1", 2)
    sigma2 = _matrix(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            "Mismatched statistics: expected mu1, mu2 of shape (d,) and "
            f"sigma1, sigma2 of shape (d, d). Received: mu1 {mu1.shape}, "
            f"sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}"
        )
    sigma1 = 0.5 * (sigma1 + sigma1.T)
    sigma2 = 0.5 * (sigma2 + sigma2.T)
    diff = mu1 - mu2
    covmean_trace = _trace_sqrt_product(sigma1, sigma2)
    return float(
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * covmean_trace
    )


def kid_from_features(
    real_features,
    fake_features,
    subset_size=1000,
    num_subsets=100,
    seed=0,
    degree=3,
    gamma=None,
    coef0=1.0,
):
    """Kernel Inception Distance: unbiased MMD² averaged over subsets.

    Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401, with the
    polynomial kernel `k(x, y) = (γ·xᵀy + coef0)^degree`, `γ = 1/d`
    (defaults: `(xᵀy/d + 1)³`). With `m = min(subset_size, n_real,
    n_fake)`, each of the `num_subsets` subsets draws, from
    `numpy.random.default_rng(seed)` and in this order,
    `rng.choice(n_real, m, replace=False)` real and
    `rng.choice(n_fake, m, replace=False)` fake features and computes

        MMD²ᵤ = Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1))
                − 2 Σ_{i,j} k(xᵢ,yⱼ)/m²,

    as clean-fid's `kernel_distance` and the authors' code. The estimator is
    unbiased, so it can be negative for close distributions.

    Args:
        real_features: array `(n_real, d)`.
        fake_features: array `(n_fake, d)`.
        subset_size: int. Largest subset size. Defaults to `1000`.
        num_subsets: int. Number of subsets. Defaults to `100`.
        seed: int. Seed of the subset sampling. Defaults to `0`.
        degree: int. Kernel degree. Defaults to `3`.
        gamma: float or `None` (= `1/d`). Defaults to `None`.
        coef0: float. Defaults to `1.0`.

    Returns:
        `(mean, std)`: Python floats, the mean and the standard deviation
        (ddof 0) of the subset estimates.

    Raises:
        ValueError: fewer than two features in a set, mismatched feature
            sizes, or NaN / infinite features.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(200, 8))
    >>> fake = rng.normal(size=(200, 8)) + 0.5  # shifted: KID > 0
    >>> kid, std = kid_from_features(real, fake, subset_size=100,
    ...                              num_subsets=10)
    >>> round(kid, 3), round(std, 3)
    (0.875, 0.123)
    """
    x_all = _matrix(real_features, "real_features", 2)
    y_all = _matrix(fake_features, "fake_features", 2)
    check_int(subset_size=subset_size, num_subsets=num_subsets, degree=degree)
    n1, n2 = len(x_all), len(y_all)
    if min(n1, n2) < 2:
        raise ValueError(
            "KID needs at least 2 real and 2 fake images. Received: "
            f"{n1} real, {n2} fake"
        )
    if x_all.shape[1] != y_all.shape[1]:
        raise ValueError(
            "Real and fake features must have the same size. Received: "
            f"real {x_all.shape}, fake {y_all.shape}"
        )
    d = x_all.shape[1]
    gamma = 1.0 / d if gamma is None else float(gamma)
    m = min(subset_size, n1, n2)
    rng = np.random.default_rng(seed)

    def kernel(a, b):
        return (gamma * (a @ b.T) + coef0) ** degree

    estimates = np.empty(num_subsets)
    for s in range(num_subsets):
        x = x_all[rng.choice(n1, m, replace=False)]
        y = y_all[rng.choice(n2, m, replace=False)]
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (
            m * (m - 1)
        )
        estimates[s] = within - 2.0 * kxy.sum() / (m * m)
    return float(estimates.mean()), float(estimates.std())


# ---------------------------------------------------------------------------
# Feature extraction


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
    extractor = inception_extractor(weights="/data/inception_notop.h5")
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
            variable.assign(rng.normal(
                0.0, np.sqrt(2.0 / fan_in), variable.shape).astype("float32"))
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
        return inception_extractor(
            weights=weights, input_size=input_size or 299
        )
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
            return inception_extractor(
                weights=path, input_size=input_size or 299
            )
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
                    f"Feature size changed from {self.feature_dim} to "
                    f"{f.shape[1]}."
                )
            out.append(f)
        if not out:
            return np.zeros((0, self.feature_dim or 0), "float32")
        return np.concatenate(out)


class _Moments:
    """Count, mean and centred scatter `Σ(x − μ)(x − μ)ᵀ` in float64.

    Batches are merged with Chan et al.'s pairwise update, which needs the
    same memory as the raw sums `n, Σx, Σxxᵀ` but never subtracts two large
    sums (no cancellation when features have large means).
    """

    def __init__(self):
        self.n = 0
        self.mean = None
        self.scatter = None

    def update(self, features):
        f = np.asarray(features, dtype="float64")
        nb = len(f)
        if nb == 0:
            return
        mean_b = f.mean(axis=0)
        centred = f - mean_b
        scatter_b = centred.T @ centred
        if self.n == 0:
            self.n, self.mean, self.scatter = nb, mean_b, scatter_b
            return
        n = self.n + nb
        delta = mean_b - self.mean
        self.scatter += scatter_b + np.outer(delta, delta) * (self.n * nb / n)
        self.mean = self.mean + delta * (nb / n)
        self.n = n

    def covariance(self):
        return self.scatter / (self.n - 1)


class FrechetInceptionDistance(_FeatureMetric):
    """Streaming Fréchet Inception Distance (FID) between real and fake images.

    Heusel et al. 2017, https://arxiv.org/abs/1706.08500. Images in [-1, 1]
    of any size are mapped to features by the extractor, `batch_size` at a
    time. Per set only the count, mean and centred scatter matrix are kept
    (float64, `d + d²` numbers: 32 MB at d = 2048), never the images or
    features. The result is `frechet_distance` of the two Gaussian fits
    (sample covariance, `n − 1`).

    Default extractor, `"fid_inception_2015"`: the 2015 Inception graph of
    the original FID implementation (TTUR `fid.py`, whose weights
    pytorch-fid ports), downloaded once (89 MB, see
    `pix2pix_keras.fid_inception`). The images go in at their own size,
    as 8-bit values (`round((x + 1) * 127.5)`, as saved image files have),
    and the graph resizes them to 299×299 with TensorFlow's original
    bilinear resize and scales them by `(x - 128) / 128`, exactly as the
    original code does with image files. So the FID of the same two image
    sets (same images, same resolution, same number) is the one TTUR
    computes, and within pytorch-fid's small resize differences of
    pytorch-fid's.

    `"keras_inception_v3"` (or `None`): `keras.applications.InceptionV3(
    include_top=False, pooling="avg")` with `weights`, the default of
    earlier releases: images resized to `input_size` (bilinear,
    antialiased) and fed on Inception's [-1, 1] scale. Its numbers differ
    from published FIDs (other weights, other resizing); compare them only
    with each other. FID is biased upwards for small sets: compare only
    numbers on the same number of images, and prefer
    `KernelInceptionDistance` below a few thousand images.

    Args:
        extractor: `"fid_inception_2015"`, `"keras_inception_v3"` (or
            `None`), a `FIDInception` (from
            `pix2pix_keras.fid_inception.fid_inception_extractor`), a Keras
            model or callable mapping `(b, input_size, input_size, c)`
            images in [-1, 1] to `(b, d)` features (wrap it to change its
            input scale, e.g. `keras.Sequential([layers.Rescaling(127.5,
            offset=127.5), model])` for [0, 255]), or a path: a `.keras`
            model file, an InceptionV3-without-top weights file (`.h5` /
            `.weights.h5`), or the FID Inception archive (`.tgz`) or graph
            (`.pb`). Defaults to `"fid_inception_2015"`.
        weights: where the named extractor's weights come from.
            `"fid_inception_2015"`: `"imagenet"` (download) or the path of
            a local copy of `inception-2015-12-05.tgz` or its graph.
            `"keras_inception_v3"`: `"imagenet"`, `None` (random) or an
            `.h5` file. Defaults to `"imagenet"`.
        input_size: int or `None`. Square size images are resized to;
            `None` feeds them unchanged. The FID Inception graph takes only
            299 or `None` (it resizes itself). Defaults to `299`.
        batch_size: int. Images per extractor call. Defaults to `32`.

    Example:

    ```python
    fid = FrechetInceptionDistance()  # the FID Inception graph
    for source, target in val_ds:
        fid.update_state(real=target, fake=model.generator(source))
    print(fid.result())
    mu, sigma, n = fid.statistics("real")  # keep for later comparisons
    ```

    The test suite uses a tiny extractor instead:

    >>> extractor = keras.Sequential([keras.layers.Flatten()])
    >>> fid = FrechetInceptionDistance(extractor, input_size=2)
    >>> images = np.random.default_rng(0).uniform(-1, 1, (10, 2, 2, 3))
    >>> fid.update_state(real=images, fake=images)
    >>> abs(fid.result()) < 1e-9
    True
    """

    def __init__(
        self, extractor=FID_INCEPTION, weights="imagenet", input_size=299,
        batch_size=32,
    ):
        super().__init__(extractor, weights, input_size, batch_size)
        self.reset_state()

    def update_state(self, real=None, fake=None):
        """Adds a batch of real and / or generated images in [-1, 1]."""
        if real is not None:
            self.update_real(real)
        if fake is not None:
            self.update_fake(fake)

    def update_real(self, images):
        """Adds real images `(n, h, w, c)` in [-1, 1]."""
        self._real.update(self.features(images, "real images"))

    def update_fake(self, images):
        """Adds generated images `(n, h, w, c)` in [-1, 1]."""
        self._fake.update(self.features(images, "fake images"))

    def reset_state(self, keep_real=False):
        """Forgets the fake images, and the real ones unless `keep_real`."""
        if not keep_real:
            self._real = _Moments()
        self._fake = _Moments()

    @property
    def num_real(self):
        return self._real.n

    @property
    def num_fake(self):
        return self._fake.n

    def statistics(self, which="real"):
        """`(mean (d,), covariance (d, d), n)` of `"real"` or `"fake"`."""
        if which not in ("real", "fake"):
            raise ValueError(
                f"`which` must be 'real' or 'fake'. Received: {which!r}"
            )
        moments = self._real if which == "real" else self._fake
        if moments.n < 2:
            raise ValueError(
                f"FID needs at least 2 {which} images (for a covariance). "
                f"Received: {moments.n}"
            )
        return moments.mean.copy(), moments.covariance(), moments.n

    def result(self):
        """The FID as a Python float.

        Raises:
            ValueError: fewer than 2 real or 2 fake images so far.
        """
        mu1, sigma1, _ = self.statistics("real")
        mu2, sigma2, _ = self.statistics("fake")
        return frechet_distance(mu1, sigma1, mu2, sigma2)


class KernelInceptionDistance(_FeatureMetric):
    """Kernel Inception Distance (KID) between real and fake images.

    Bińkowski et al. 2018, https://arxiv.org/abs/1801.01401: the unbiased
    MMD² with the cubic polynomial kernel, averaged over random subsets (see
    `kid_from_features`). Unlike FID it is unbiased, so it is comparable
    across set sizes and usable on a few hundred images. Features are
    extracted as in `FrechetInceptionDistance` (same arguments) but have to
    be kept: float32, `4·d` bytes per image (8 KB at d = 2048, 80 MB per
    10 000 images). With `max_samples`, each set keeps at most that many
    features, a uniform random sample of everything seen (reservoir
    sampling, algorithm R, seeded by `seed`), so memory stays bounded on
    long streams.

    Args:
        extractor: as in `FrechetInceptionDistance`. Defaults to
            `"fid_inception_2015"`.
        weights: as in `FrechetInceptionDistance`. Defaults to `"imagenet"`.
        input_size: int or `None`. Defaults to `299`.
        batch_size: int. Defaults to `32`.
        subset_size: int. Largest subset size. Defaults to `1000`.
        num_subsets: int. Defaults to `100`.
        max_samples: int or `None`. Reservoir size per set; `None` keeps
            every feature. Defaults to `None`.
        seed: int. Seeds the subsets and the reservoirs. Defaults to `0`.

    Example:

    ```python
    kid = KernelInceptionDistance(extractor=fid.extractor)
    for source, target in val_ds:
        kid.update_state(real=target, fake=model.generator(source))
    mean, std = kid.result(return_std=True)
    ```
    """

    def __init__(
        self,
        extractor=FID_INCEPTION,
        weights="imagenet",
        input_size=299,
        batch_size=32,
        subset_size=1000,
        num_subsets=100,
        max_samples=None,
        seed=0,
    ):
        check_int(subset_size=subset_size, num_subsets=num_subsets)
        if subset_size < 2:
            raise ValueError(
                "`subset_size` must be >= 2. "
                f"Received: subset_size={subset_size}"
            )
        if max_samples is not None:
            check_int(minimum=2, max_samples=max_samples)
        super().__init__(extractor, weights, input_size, batch_size)
        self.subset_size = subset_size
        self.num_subsets = num_subsets
        self.max_samples = max_samples
        self.seed = seed
        self.reset_state()

    def reset_state(self, keep_real=False):
        """Forgets the fake features, and the real ones unless `keep_real`."""
        if not keep_real:
            self._sets_real = self._new_set(1)
        self._sets_fake = self._new_set(2)

    def _new_set(self, stream):
        return {
            "chunks": [],
            "seen": 0,
            "rng": np.random.default_rng([self.seed, stream]),
        }

    def _add(self, store, features):
        if self.max_samples is None:
            store["chunks"].append(features)
            store["seen"] += len(features)
            return
        if len(store["chunks"]) != 1:
            store["chunks"] = [np.zeros((0, features.shape[1]), "float32")]
        kept = store["chunks"][0]
        room = self.max_samples - len(kept)
        if room > 0:
            kept = np.concatenate([kept, features[:room]])
            store["seen"] += len(features[:room])
            features = features[room:]
        for row in features:
            store["seen"] += 1
            j = store["rng"].integers(store["seen"])
            if j < self.max_samples:
                kept[j] = row
        store["chunks"][0] = kept

    def update_state(self, real=None, fake=None):
        """Adds a batch of real and / or generated images in [-1, 1]."""
        if real is not None:
            self.update_real(real)
        if fake is not None:
            self.update_fake(fake)

    def update_real(self, images):
        """Adds real images `(n, h, w, c)` in [-1, 1]."""
        self._add(self._sets_real, self.features(images, "real images"))

    def update_fake(self, images):
        """Adds generated images `(n, h, w, c)` in [-1, 1]."""
        self._add(self._sets_fake, self.features(images, "fake images"))

    @property
    def num_real(self):
        """Real images seen (not only kept)."""
        return self._sets_real["seen"]

    @property
    def num_fake(self):
        """Generated images seen (not only kept)."""
        return self._sets_fake["seen"]

    def stored_features(self, which="real"):
        """The kept features `(n, d)` of `"real"` or `"fake"` images."""
        if which not in ("real", "fake"):
            raise ValueError(
                f"`which` must be 'real' or 'fake'. Received: {which!r}"
            )
        store = self._sets_real if which == "real" else self._sets_fake
        if not store["chunks"]:
            return np.zeros((0, self.feature_dim or 0), "float32")
        return np.concatenate(store["chunks"])

    def result(self, return_std=False):
        """The KID (mean over subsets), or `(mean, std)` with `return_std`.

        Raises:
            ValueError: fewer than 2 real or 2 fake images so far.
        """
        mean, std = kid_from_features(
            self.stored_features("real"),
            self.stored_features("fake"),
            subset_size=self.subset_size,
            num_subsets=self.num_subsets,
            seed=self.seed,
        )
        return (mean, std) if return_std else mean


# ---------------------------------------------------------------------------
# Segmentation scores


class SegmentationScore:
    """Streaming confusion matrix → per-class IoU, mIoU, pixel / class accuracy.

    The "FCN score" of the pix2pix paper (Isola et al. 2017,
    https://arxiv.org/abs/1611.07004, §4.2): segment generated photos with
    a segmentation network and score its output against the label maps the
    photos were generated from. Same formulas as the FCN `score.py` used by
    pix2pix's `scripts/eval_cityscapes`, from the confusion matrix `C` (rows
    true class, columns predicted class, counted in int64):

    - `per_class_iou[k] = C[k,k] / (Σⱼ C[k,j] + Σᵢ C[i,k] − C[k,k])`, NaN for
      a class neither in the labels nor predicted, and for `ignore_label`;
      a class predicted but absent from the labels scores 0;
    - `miou`: mean of the non-NaN IoUs;
    - `pixel_accuracy = trace(C) / ΣC`;
    - `per_class_accuracy[k] = C[k,k] / Σⱼ C[k,j]` (recall; NaN for classes
      absent from the labels) and `class_accuracy`, their non-NaN mean.

    Pixels labelled `ignore_label` are left out of every count (whatever is
    predicted there). Predictions of the ignore class elsewhere count as
    errors.

    Args:
        num_classes: int >= 2. Class ids are `0 .. num_classes - 1`.
        ignore_label: int or `None`. Label id to leave out; it may be a
            class id (e.g. 0 = "unlabelled") or outside the range (e.g. 255).
            Defaults to `None`.

    Example: CMP facades (label maps of ids 1–12, 13 classes with id 0
    unused: `num_classes=13, ignore_label=0`), scoring a labels → photo
    model with a facade segmenter of your own (any callable returning logits
    `(b, h, w, 13)` or ids `(b, h, w)` for photos in [-1, 1]):

    ```python
    import pix2pix_keras as pk

    ds = pk.load_paired_dataset(
        "cmp_facades/val", direction="BtoA",
        labels=pk.facades_labels(), with_label_ids=True, training=False,
        batch_size=4)  # (label map, photo, ids)
    segmenter = keras.models.load_model("facade_segmenter.keras")
    scores = fcn_score(segmenter, ds, num_classes=13, ignore_label=0,
                       generator=model.generator)
    scores["miou"], scores["per_class_iou"][1:]  # 12 classes; [0] is NaN
    ```

    Run the segmenter on the real photos too (`generator=None` and a
    dataset of `(photo, ids)`): that is the ceiling the generated photos are
    compared with.

    >>> score = SegmentationScore(num_classes=3)
    >>> score.update_state([[[0, 1], [2, 2]]], [[[0, 1], [2, 1]]])
    >>> r = score.result()
    >>> [round(v, 4) for v in r["per_class_iou"]], round(r["miou"], 4)
    ([1.0, 0.5, 0.5], 0.6667)
    >>> r["pixel_accuracy"], round(r["class_accuracy"], 4)
    (0.75, 0.8333)
    """

    def __init__(self, num_classes, ignore_label=None):
        check_int(minimum=2, num_classes=num_classes)
        if ignore_label is not None and (
            isinstance(ignore_label, bool)
            or not isinstance(ignore_label, (int, np.integer))
        ):
            raise ValueError(
                "`ignore_label` must be an int or None. "
                f"Received: ignore_label={ignore_label!r}"
            )
        self.num_classes = num_classes
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        self.reset_state()

    def reset_state(self):
        self.confusion_matrix = np.zeros(
            (self.num_classes, self.num_classes), dtype="int64"
        )

    def _ids(self, x, name, allow_logits):
        x = np.asarray(ops.convert_to_numpy(x))
        if allow_logits and x.ndim == 4 and x.shape[-1] == self.num_classes:
            return np.argmax(x, axis=-1)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3:
            expected = "(b, h, w) ids" + (
                f" or (b, h, w, {self.num_classes}) logits"
                if allow_logits
                else ""
            )
            raise ValueError(
                f"`{name}` must be {expected}. Received shape {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.integer):
            if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
                raise ValueError(
                    f"`{name}` holds class ids and must be integers. "
                    f"Received dtype {x.dtype} with non-integer values."
                )
        return x.astype("int64")

    def update_state(self, y_true, y_pred):
        """Adds a batch.

        Args:
            y_true: int array `(b, h, w)` (or `(b, h, w, 1)`) of label ids.
            y_pred: logits `(b, h, w, num_classes)` or ids `(b, h, w)`.

        Raises:
            ValueError: shapes that differ, or ids outside
                `[0, num_classes)` (other than `ignore_label` in `y_true`).
        """
        t = self._ids(y_true, "y_true", allow_logits=False)
        p = self._ids(y_pred, "y_pred", allow_logits=True)
        if t.shape != p.shape:
            raise ValueError(
                "Label maps and predictions must have the same (b, h, w). "
                f"Received: y_true {t.shape}, y_pred {p.shape}"
            )
        valid = (
            np.ones(t.shape, bool)
            if self.ignore_label is None
            else (t != self.ignore_label)
        )
        t, p = t[valid], p[valid]
        c = self.num_classes
        for name, ids in (("y_true", t), ("y_pred", p)):
            if ids.size and (ids.min() < 0 or ids.max() >= c):
                raise ValueError(
                    f"`{name}` has ids outside [0, {c}) "
                    f"(min {ids.min()}, max {ids.max()}); "
                    f"ignore_label={self.ignore_label}."
                )
        self.confusion_matrix += np.bincount(
            t * c + p, minlength=c * c
        ).reshape(c, c)

    def result(self):
        """The scores as a dict of Python floats and lists.

        Keys: `per_class_iou`, `miou`, `pixel_accuracy`,
        `per_class_accuracy`, `class_accuracy`, `num_pixels`.

        Raises:
            ValueError: no labelled pixel seen yet.
        """
        cm = self.confusion_matrix
        total = int(cm.sum())
        if total == 0:
            raise ValueError(
                "No labelled pixels yet: call update_state() with label maps "
                "that are not all `ignore_label`."
            )
        tp = np.diag(cm).astype("float64")
        gt = cm.sum(axis=1).astype("float64")
        pred = cm.sum(axis=0).astype("float64")
        union = gt + pred - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / union, np.nan)
            acc = np.where(gt > 0, tp / gt, np.nan)
        if self.ignore_label is not None and 0 <= self.ignore_label < len(iou):
            iou[self.ignore_label] = np.nan
            acc[self.ignore_label] = np.nan

        def nanmean(v):
            v = v[~np.isnan(v)]
            return float(v.mean()) if v.size else float("nan")

        return {
            "per_class_iou": iou.tolist(),
            "miou": nanmean(iou),
            "pixel_accuracy": float(tp.sum() / total),
            "per_class_accuracy": acc.tolist(),
            "class_accuracy": nanmean(acc),
            "num_pixels": total,
        }


def fcn_score(
    segmenter, dataset, num_classes, ignore_label=None, generator=None
):
    """Segments images and scores them against label maps (the FCN score).

    Args:
        segmenter: Keras model or callable: images `(b, h, w, 3)` in
            [-1, 1] → logits `(b, h, w, num_classes)` or ids `(b, h, w)` at
            the label maps' resolution.
        dataset: iterable of batches (e.g. a `tf.data.Dataset`). Without
            `generator`: `(images, ids)`. With `generator`: tuples whose
            first element is the generator's input and last element the ids,
            e.g. the `(source, target, ids)` of
            `load_paired_dataset(..., with_label_ids=True)`.
        num_classes: int. Number of classes (13 for CMP facades).
        ignore_label: int or `None`. See `SegmentationScore` (0 for CMP
            facades). Defaults to `None`.
        generator: Keras model or `None`. Translates the first element of
            each batch into the images to segment. Defaults to `None`.

    Returns:
        The dict of `SegmentationScore.result()`.

    Example:
    >>> ids = np.array([[[1, 2], [2, 0]]])
    >>> images = ids[..., None] / 2.0 - 0.5  # a toy "photo"
    >>> segmenter = lambda x: np.round((x[..., 0] + 0.5) * 2)
    >>> fcn_score(segmenter, [(images, ids)], 3, ignore_label=0)["miou"]
    1.0
    """
    score = SegmentationScore(num_classes, ignore_label=ignore_label)
    for batch in dataset:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(
                "Each dataset element must be a tuple (images, ..., ids). "
                f"Received: {type(batch).__name__}"
            )
        images, ids = batch[0], batch[-1]
        if generator is not None:
            images = generator(images, training=False)
        else:
            check_image_range(images, "images")
        if isinstance(segmenter, keras.Layer):
            prediction = segmenter(images, training=False)
        else:
            prediction = segmenter(images)
        score.update_state(ids, prediction)
    return score.result()

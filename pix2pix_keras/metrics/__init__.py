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

Modules: `metrics.image` (PSNR, SSIM, L1), `metrics.extractors` (the
feature extractors of FID and KID), `metrics.distances` (FID, KID) and
`metrics.segmentation` (FCN score); every public name is importable from
`pix2pix_keras.metrics` itself.
"""

from pix2pix_keras.metrics._checks import RANGE_TOLERANCE
from pix2pix_keras.metrics._checks import check_image_range
from pix2pix_keras.metrics.distances import FrechetInceptionDistance
from pix2pix_keras.metrics.distances import KernelInceptionDistance
from pix2pix_keras.metrics.distances import frechet_distance
from pix2pix_keras.metrics.distances import kid_from_features
from pix2pix_keras.metrics.extractors import FID_INCEPTION
from pix2pix_keras.metrics.extractors import KERAS_INCEPTION
from pix2pix_keras.metrics.extractors import RANDOM_INCEPTION
from pix2pix_keras.metrics.extractors import inception_extractor
from pix2pix_keras.metrics.extractors import random_inception_extractor
from pix2pix_keras.metrics.image import L1
from pix2pix_keras.metrics.image import PSNR
from pix2pix_keras.metrics.image import SSIM
from pix2pix_keras.metrics.image import l1
from pix2pix_keras.metrics.image import psnr
from pix2pix_keras.metrics.image import ssim
from pix2pix_keras.metrics.segmentation import SegmentationScore
from pix2pix_keras.metrics.segmentation import fcn_score

__all__ = [
    "FID_INCEPTION",
    "KERAS_INCEPTION",
    "L1",
    "PSNR",
    "RANDOM_INCEPTION",
    "RANGE_TOLERANCE",
    "SSIM",
    "FrechetInceptionDistance",
    "KernelInceptionDistance",
    "SegmentationScore",
    "check_image_range",
    "fcn_score",
    "frechet_distance",
    "inception_extractor",
    "kid_from_features",
    "l1",
    "psnr",
    "random_inception_extractor",
    "ssim",
]

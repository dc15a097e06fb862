"""The Inception network of published FID numbers: the 2015 graph.

The original FID implementation (Heusel et al. 2017, `fid.py` of the TTUR
code) computes the features with TensorFlow's 2015 Inception graph,
`classify_image_graph_def.pb` from `inception-2015-12-05.tgz`: it feeds
batches of images with values 0 to 255 (float, any size, 3 channels) to
the tensor `ExpandDims:0`, and the graph itself resizes them to 299×299
with TensorFlow's original `ResizeBilinear` (no antialiasing,
`align_corners=False`, no half-pixel centres), scales them by
`(x - 128) / 128` and returns the 2048 `pool_3:0` features. pytorch-fid
ports the same weights (`pt_inception-2015-12-05-6726825d.pth`) with
PyTorch's bilinear resize and `2 * x / 255 - 1`, which match to within
small differences. This module loads the graph itself (no conversion),
so the features are those of the original implementation.

`fid_inception_extractor()` downloads the archive once with
`keras.utils.get_file` into `~/.keras/models/` (or `$KERAS_HOME`) and
returns a `FIDInception` extractor for `FrechetInceptionDistance` and
`KernelInceptionDistance`, which use it by default.
"""

import os
import tarfile
import zlib

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

__all__ = [
    "FIDInception",
    "FID_INCEPTION_ARCHIVE",
    "FID_INCEPTION_GRAPH",
    "FID_INCEPTION_SHA256",
    "FID_INCEPTION_URL",
    "INPUT_TENSOR",
    "OUTPUT_TENSOR",
    "fid_inception_extractor",
    "legacy_resize_bilinear",
    "to_uint8_range",
]

#: Where the original FID implementation downloads the graph from.
FID_INCEPTION_URL = (
    "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
)
#: The archive's file name in the Keras cache (`~/.keras/models/`).
FID_INCEPTION_ARCHIVE = "inception-2015-12-05.tgz"
#: The GraphDef inside the archive.
FID_INCEPTION_GRAPH = "classify_image_graph_def.pb"
#: sha256 of the archive. Neither TensorFlow nor the FID authors publish
#: one, so by default nothing is verified beyond the archive holding a
#: readable graph with the two tensors below; pass `file_hash` to pin it.
FID_INCEPTION_SHA256 = None
#: The tensor the original implementation feeds: a batch of 0-255 images.
INPUT_TENSOR = "ExpandDims:0"
#: The 2048 features of FID.
OUTPUT_TENSOR = "pool_3:0"


def to_uint8_range(images):
    """Maps images in [-1, 1] to the 8-bit values FID is computed on.

    `round((x + 1) * 127.5)` clipped to [0, 255], as float32: the values of
    the image files that published FIDs are computed from (the same
    rounding as `pix2pix predict` when it writes PNGs). An image read from
    an 8-bit file as `v / 127.5 - 1` gets its values `v` back exactly.

    Args:
        images: array or tensor in [-1, 1].

    Returns:
        float32 NumPy array of integers in [0, 255], the same shape.
    """
    images = np.asarray(images, np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0.0, 255.0)


def _read_graph_def(path):
    """The GraphDef in `path` (the .tgz archive or the .pb file).

    Raises:
        ValueError: naming the file, when it is not a readable archive or
            graph, or the graph lacks the FID tensors.
    """
    try:
        if tarfile.is_tarfile(path):
            with tarfile.open(path, "r:*") as tar:
                members = [
                    m
                    for m in tar.getmembers()
                    if m.isfile() and os.path.basename(m.name) == FID_INCEPTION_GRAPH
                ]
                if not members:
                    raise ValueError(f"it holds no {FID_INCEPTION_GRAPH}")
                data = tar.extractfile(members[0]).read()
        else:
            with open(path, "rb") as f:
                data = f.read()
            if data[:2] == b"\x1f\x8b":  # a gzip file that is no tar
                raise ValueError("it is not a tar archive")
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(data)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
        raise ValueError(f"unreadable ({type(e).__name__}: {e})") from None
    except DecodeError as e:
        raise ValueError(f"not a GraphDef ({e})") from None
    names = {node.name for node in graph_def.node}
    missing = [t for t in (INPUT_TENSOR, OUTPUT_TENSOR) if t.split(":")[0] not in names]
    if missing:
        raise ValueError(
            f"the graph has no {' and no '.join(missing)} tensor ({len(names)} nodes)"
        )
    return graph_def


class FIDInception:
    """The 2015 Inception graph of the original FID code as an extractor.

    Maps images `(n, h, w, c)` in [-1, 1] (the package's image scale, any
    size, 1 or 3 channels; one channel is repeated to RGB) to their `(n,
    2048)` `pool_3` features, computed exactly as the original
    implementation (TTUR `fid.py`) computes them from image files: the
    images are mapped to 8-bit values (`to_uint8_range`), fed as float32 to
    `ExpandDims:0`, and the graph resizes them to 299×299 itself
    (TensorFlow's original bilinear `ResizeBilinear`: no antialiasing, no
    half-pixel centres) and scales them by `(x - 128) / 128`. So no resize
    must happen before it: `FrechetInceptionDistance` feeds the images at
    their own size.

    Build it with `fid_inception_extractor()`.

    Attributes:
        path: str. The archive or graph file it was loaded from.
        name: str. `"fid_inception_2015"`.
    """

    name = "fid_inception_2015"
    #: The graph resizes the images itself (see `_FeatureMetric`).
    resizes_itself = True

    def __init__(self, graph_def, path):
        self.path = path
        # A graph and session of its own, as the original code runs it: the
        # 2015 graph uses BatchNormWithGlobalNormalization, an op that runs
        # only in a graph keeping the GraphDef's old producer version (a
        # `tf.function` would run it as a current graph and fail).
        self._graph = tf.Graph()
        with self._graph.as_default():
            self._input = tf.compat.v1.placeholder(
                tf.float32, (None, None, None, 3), name="images"
            )
            (pool,) = tf.compat.v1.import_graph_def(
                graph_def,
                input_map={INPUT_TENSOR: self._input},
                return_elements=[OUTPUT_TENSOR],
                name="fid_inception",
            )
            self._output = tf.reshape(pool, (tf.shape(self._input)[0], -1))
        self._session = tf.compat.v1.Session(graph=self._graph)

    def __call__(self, images):
        """Features `(n, d)` (NumPy float32) of images `(n, h, w, c)` in
        [-1, 1], run eagerly (not inside a `tf.function`)."""
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(
                "The FID Inception network takes a batch (n, h, w, c) of RGB "
                f"(or grayscale) images. Received shape {images.shape}."
            )
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        return self._session.run(self._output, {self._input: to_uint8_range(images)})


def fid_inception_extractor(
    path=None,
    *,
    origin=FID_INCEPTION_URL,
    file_hash=FID_INCEPTION_SHA256,
    cache_dir=None,
):
    """Loads the Inception graph of published FID numbers (see the module).

    Without `path`, `inception-2015-12-05.tgz` (89 MB) is downloaded once
    with `keras.utils.get_file` from `origin` into `<cache_dir>/models/`
    and read from there afterwards. A download that does not match
    `file_hash`, or a cached file that is no readable archive of the graph
    (an interrupted download, say), raises a `ValueError` naming the file,
    and the cached copy is deleted, so the next call downloads it again.

    Args:
        path: str or `None`. A local copy: the `.tgz` archive or the
            `classify_image_graph_def.pb` in it (never deleted). Defaults
            to `None` (download).
        origin: str. Download URL (e.g. a mirror). Defaults to
            `FID_INCEPTION_URL`, the original implementation's.
        file_hash: str or `None`. Expected sha256 (64 hex digits) or md5
            of the archive. Defaults to `None`: none is published.
        cache_dir: str or `None`. Cache root of `keras.utils.get_file`;
            `None` is `$KERAS_HOME` or `~/.keras`. Defaults to `None`.

    Returns:
        A `FIDInception` extractor.

    Raises:
        ValueError: a missing `path`, a hash mismatch or an unreadable
            file, naming it.
        RuntimeError: the download failed (no internet?).

    Example:

    ```python
    extractor = fid_inception_extractor()  # downloads once
    fid = FrechetInceptionDistance(extractor)
    kid = KernelInceptionDistance(extractor)  # the same network
    ```
    """
    if path is not None:
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ValueError(f"FID Inception file not found: {path!r}")
        try:
            return FIDInception(_read_graph_def(path), path)
        except ValueError as e:
            raise ValueError(
                f"{path} is not the FID Inception graph or its archive "
                f"({FID_INCEPTION_ARCHIVE}): {e}"
            ) from None
    # (pix2pix_keras.datasets imports the metrics, which import this module.)
    from pix2pix_keras.datasets import _cache_root
    from pix2pix_keras.datasets import _cached_file
    from pix2pix_keras.datasets import _get_file

    cache_dir = _cache_root(cache_dir)
    cached = _cached_file(cache_dir, "models", FID_INCEPTION_ARCHIVE)
    try:
        archive = _get_file(
            FID_INCEPTION_ARCHIVE, origin, file_hash, cache_dir, "models"
        )
    except ValueError as e:  # the hash does not match (_get_file deletes it)
        deleted = "" if os.path.isfile(cached) else "; it was deleted"
        raise ValueError(
            f"The FID Inception archive downloaded from {origin} to {cached} "
            f"does not match file_hash={file_hash!r}{deleted}. ({e})"
        ) from None
    except Exception as e:  # noqa: BLE001 - get_file raises bare Exceptions
        raise RuntimeError(
            f"Could not download the FID Inception archive from {origin} "
            f"(no internet?): {e}. Put a copy of {FID_INCEPTION_ARCHIVE} at "
            f"{cached}, or pass its path (fid_inception_extractor(path=...))."
        ) from e
    try:
        graph_def = _read_graph_def(archive)
    except ValueError as e:
        os.remove(archive)
        raise ValueError(
            f"The cached FID Inception archive {archive} is corrupt ({e}); "
            f"it was deleted and will be downloaded again from {origin} on "
            "the next call."
        ) from None
    return FIDInception(graph_def, archive)


def legacy_resize_bilinear(images, size):
    """NumPy reference of TensorFlow's original `ResizeBilinear`.

    The resize inside the FID Inception graph: `align_corners=False`
    without half-pixel centres, so output pixel `i` samples the input at
    `i * in_size / out_size` (in float32, clamped at the last pixel), no
    antialiasing.
    For documentation and tests.

    Args:
        images: array `(n, h, w, c)`.
        size: `(height, width)` of the output.

    Returns:
        float64 array `(n, height, width, c)`.
    """
    images = np.asarray(images, np.float64)
    out = images
    for axis, new in ((1, size[0]), (2, size[1])):
        old = out.shape[axis]
        # float32 positions, as TensorFlow computes them.
        pos = np.arange(new, dtype=np.float32) * np.float32(old / new)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, old - 1)
        frac = (pos - lo).astype(np.float64)
        frac = frac.reshape([-1 if a == axis else 1 for a in range(4)])
        out = (
            np.take(out, lo, axis=axis) * (1 - frac)
            + np.take(out, hi, axis=axis) * frac
        )
    return out

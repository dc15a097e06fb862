"""Label maps: reading class-id images (palette colours or raw ids) and
feeding them to the networks as colours or one-hot channels
(`LabelMaps`), and the CMP facades palette (`facades_labels`).
`pix2pix_keras.data` uses them and re-exports them.
"""

import os

import numpy as np
import tensorflow as tf

from pix2pix_keras.utils import check_int
from pix2pix_keras.utils import read_palette_lines

__all__ = ["LabelMaps", "facades_labels", "read_palette"]

_SAMPLE_ROOT = os.path.join(os.path.dirname(__file__), "sample_data", "facades")


def _choice(value, allowed, name):
    if value not in allowed:
        raise ValueError(
            f"`{name}` must be one of {allowed}. Received: {name}={value!r}"
        )
    return value


def _to_channels(image, channels):
    """uint8 `(h, w, c)` with c in 1..4 → `channels` (1, 3 or 4)."""
    c = tf.shape(image)[-1]
    rgb = tf.switch_case(
        tf.clip_by_value(c, 1, 4) - 1,
        [
            lambda: tf.tile(image[..., :1], [1, 1, 3]),
            lambda: tf.tile(image[..., :1], [1, 1, 3]),  # grey + alpha
            lambda: image[..., :3],
            lambda: image[..., :3],
        ],
    )
    if channels == 3:
        return rgb
    if channels == 1:
        return tf.cast(
            tf.round(tf.image.rgb_to_grayscale(tf.cast(rgb, tf.float32))), tf.uint8
        )
    alpha = tf.cond(
        tf.logical_or(tf.equal(c, 2), tf.equal(c, 4)),
        lambda: image[..., -1:],
        lambda: tf.fill(tf.shape(image[..., :1]), tf.constant(255, tf.uint8)),
    )
    return tf.concat([rgb, alpha], axis=-1)


def read_palette(path):
    """Reads `id name r g b` lines (as in the CMP `palette.txt`) into a dict.

    Returns:
        dict `{id: (r, g, b)}`.
    """
    return {id_: rgb for id_, _, rgb in read_palette_lines(path)}


class LabelMaps:
    """How label maps of class ids are read and fed to the networks.

    Args:
        num_classes: int. Number of classes; every id must be below it.
        side: str. `"source"` (label → photo, the default) or `"target"`.
        encoding: str. How ids are stored in the files: `"palette"` (colour
            images, e.g. palette PNGs, mapped to ids through `palette`) or
            `"ids"` (single-channel images whose values are the ids).
            Defaults to `"palette"`.
        palette: dict `{id: (r, g, b)}` or `None`. Needed for
            `encoding="palette"`; also the colours of `mode="color"`
            (a fixed pseudo-random palette when `None`).
        mode: str. What the network sees: `"color"` (3 channels, the
            palette colours in [-1, 1]) or `"onehot"` (`num_classes`
            channels in {0, 1}). Defaults to `"color"`.

    Example:
    >>> labels = facades_labels(mode="onehot")
    >>> labels.channels
    13
    """

    def __init__(
        self, num_classes, side="source", encoding="palette", palette=None, mode="color"
    ):
        check_int(num_classes=num_classes)
        if num_classes > 256:
            raise ValueError(
                f"`num_classes` must be <= 256. Received: num_classes={num_classes}"
            )
        self.num_classes = num_classes
        self.side = _choice(side, ("source", "target"), "side")
        self.encoding = _choice(encoding, ("palette", "ids"), "encoding")
        self.mode = _choice(mode, ("color", "onehot"), "mode")
        if palette is not None:
            palette = {
                int(k): tuple(int(c) for c in v) for k, v in dict(palette).items()
            }
            bad = [k for k in palette if not 0 <= k < num_classes]
            if bad:
                raise ValueError(
                    f"`palette` has ids {bad} outside [0, num_classes={num_classes})"
                )
        elif encoding == "palette":
            raise ValueError("`palette` is required with encoding='palette'")
        self.palette = palette

    @property
    def channels(self):
        """Channels of the encoded label image."""
        return self.num_classes if self.mode == "onehot" else 3

    def colour_table(self):
        """`(num_classes, 3)` float32 colours in [-1, 1] for `mode="color"`."""
        rng = np.random.default_rng(0)
        table = rng.integers(0, 256, (self.num_classes, 3))
        for k, rgb in (self.palette or {}).items():
            table[k] = rgb
        return (table / 127.5 - 1.0).astype("float32")

    def decode_ids(self, raw, path):
        """Maps a decoded uint8 image `(h, w, c)` to ids `(h, w, 1)` uint8."""
        if self.encoding == "ids":
            ids = tf.cast(raw[..., :1], tf.int32)
        else:
            rgb = tf.cast(_to_channels(raw, 3), tf.int32)
            code = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
            keys = [r * 65536 + g * 256 + b for r, g, b in self.palette.values()]
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(keys, tf.int32),
                    tf.constant(list(self.palette), tf.int32),
                ),
                default_value=-1,
            )
            ids = table.lookup(code)[..., None]
        checks = [
            tf.debugging.Assert(
                tf.reduce_max(ids) < self.num_classes,
                [
                    "Label id >= num_classes =",
                    self.num_classes,
                    "in",
                    path,
                    "max id:",
                    tf.reduce_max(ids),
                ],
            )
        ]
        if self.encoding == "palette":
            checks.append(
                tf.debugging.Assert(
                    tf.reduce_min(ids) >= 0,
                    ["Label map has a colour that is not in the palette:", path],
                )
            )
        # The checks run before any use of the ids (a gather would fail
        # first, without naming the file).
        with tf.control_dependencies(checks):
            return tf.cast(tf.identity(ids), tf.uint8)

    def encode(self, ids):
        """Turns ids `(h, w, 1)` into the network's input channels."""
        ids = tf.cast(ids[..., 0], tf.int32)
        if self.mode == "onehot":
            return tf.one_hot(ids, self.num_classes, dtype=tf.float32)
        return tf.gather(tf.constant(self.colour_table()), ids)


def facades_labels(mode="color", side="source"):
    """`LabelMaps` for the CMP facades palette PNGs (ids 1–12, 13 classes).

    Args:
        mode: str. `"color"` or `"onehot"`. Defaults to `"color"`.
        side: str. `"source"` or `"target"`. Defaults to `"source"`.
    """
    palette = read_palette(os.path.join(_SAMPLE_ROOT, "palette.txt"))
    return LabelMaps(13, side=side, encoding="palette", palette=palette, mode=mode)

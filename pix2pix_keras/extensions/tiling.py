"""Tiled inference: translate images larger than the training size.

A generator trained on 256×256 crops translates a 2048×1536 photo tile by
tile: the image is cut into overlapping tiles of the network's size, the
tiles go through the network a batch at a time, and the outputs are
averaged with weights that fall to 0 towards each tile's inner edges, so
no seam shows. Memory grows with the tile batch, not with the image: only
the input, one float32 accumulator `(H, W, out_channels)` and two 1-D
weight sums are image-sized.
"""

import collections
import math

import keras
import numpy as np

from pix2pix_keras.models.generator import UNetGenerator
from pix2pix_keras.models.inference import generator_of
from pix2pix_keras.models.pix2pix import INPUT_RANGE_TOLERANCE
from pix2pix_keras.models.resnet import ResnetGenerator

__all__ = ["BLENDS", "TileLayout", "tile_layout", "translate_tiled"]

BLENDS = ("cosine", "linear", "none")

TileLayout = collections.namedtuple(
    "TileLayout",
    [
        "size",
        "padded_size",
        "tile_size",
        "overlap",
        "tops",
        "lefts",
        "row_windows",
        "col_windows",
        "row_sums",
        "col_sums",
    ],
)
TileLayout.__doc__ = """Where the tiles go and how they are weighted.

Attributes:
    size: `(height, width)` of the image.
    padded_size: `(height, width)` after padding at the bottom and right
        (reflection) to at least one tile and to a multiple of `align`.
    tile_size: `(height, width)` of a tile.
    overlap: `(rows, cols)`, the overlap of regularly spaced neighbours
        (at least the requested overlap; the last tile of a row or column
        is moved back to end at the border and may overlap more).
    tops, lefts: lists of ints, the tile offsets along each axis (every
        `(top, left)` pair is one tile).
    row_windows, col_windows: lists of float32 arrays of the tile's
        length, one per offset: tile `(i, j)` is weighted by
        `row_windows[i][:, None] * col_windows[j][None, :]`.
    row_sums, col_sums: float32 arrays over the padded height and width:
        the sum of the placed windows along each axis. The total weight at
        `(y, x)` is `row_sums[y] * col_sums[x]`; outputs are divided by it,
        so the blending weights sum to 1 everywhere.
"""


def _pair(value, arg_name):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(
            f"`{arg_name}` must be an int or a (height, width) pair. "
            f"Received: {arg_name}={value!r}"
        ) from None
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(
                f"`{arg_name}` must hold ints. Received: {arg_name}={value!r}"
            )
    return int(a), int(b)


def _ramp(d, overlap, margin, blend):
    """Window value at centre distance `d` from an inner tile edge.

    Two neighbours that overlap by exactly `overlap` see distances `d` and
    `overlap - d` at the same pixel, and their values add up to 1 for each
    blend: `none` splits the overlap in the middle, `linear` and `cosine`
    rise from 0 at `margin` to 1 at `overlap - margin` (cosine as
    sin², whose complement is cos²).
    """
    if overlap == 0:
        return np.ones_like(d)
    ramp = overlap - 2 * margin
    if blend == "none" or ramp == 0:
        return 0.5 * (1.0 + np.sign(d - overlap / 2.0))
    u = np.clip((d - margin) / ramp, 0.0, 1.0)
    if blend == "linear":
        return u
    return np.sin(0.5 * np.pi * u) ** 2


def _axis(length, tile, overlap, align, blend, margin, axis_name):
    """Tile offsets, windows and window sums along one axis."""
    padded = max(length, tile)
    padded = -(-padded // align) * align
    stride = (tile - overlap) // align * align
    if stride < 1:
        raise ValueError(
            f"`overlap`={overlap} leaves no stride for {axis_name} tiles of "
            f"{tile} aligned to {align} pixels: use overlap <= "
            f"{tile - align}."
        )
    starts = list(range(0, padded - tile + 1, stride))
    if starts[-1] != padded - tile:
        starts.append(padded - tile)
    effective = tile - stride
    d = np.arange(tile, dtype="float64") + 0.5
    windows, sums = [], np.zeros(padded, "float64")
    for k, start in enumerate(starts):
        w = np.ones(tile, "float64")
        if k > 0:  # an inner top / left edge
            w *= _ramp(d, effective, margin, blend)
        if k < len(starts) - 1:  # an inner bottom / right edge
            w *= _ramp(d[::-1], effective, margin, blend)
        windows.append(w.astype("float32"))
        sums[start : start + tile] += w
    if sums.min() <= 0:  # cannot happen for margin <= overlap / 2
        raise AssertionError(f"Tile weights sum to 0 along {axis_name}.")
    return padded, starts, effective, windows, sums.astype("float32")


def tile_layout(height, width, tile_size, overlap=0, blend="cosine", margin=0, align=1):
    """Computes where the tiles of an image go and how they are blended.

    Tiles of `tile_size` start every `tile_size - overlap` pixels (rounded
    down to a multiple of `align`); the last one of each row and column is
    moved back to end at the border. Each tile is weighted by a separable
    window that is 1 inside and tapers over the overlap at its inner edges
    only (the image border keeps weight 1): `"cosine"` (sin² ramp, the
    default), `"linear"`, or `"none"` (each pixel from the tile in which it
    lies deeper: hard seams in the middle of the overlaps). The outer
    `margin` pixels at an inner edge get weight 0, so no output pixel comes
    from within `margin` of a tile's inner edge. Neighbours at the regular
    spacing have windows that sum to exactly 1; everywhere else the
    outputs are divided by the total weight.

    Args:
        height: int. Image height.
        width: int. Image width.
        tile_size: int or `(height, width)`. Tile size.
        overlap: int or `(rows, cols)`, `0 <= overlap < tile_size`.
            Overlap of neighbouring tiles. Defaults to `0`.
        blend: str. `"cosine"`, `"linear"` or `"none"`. Defaults to
            `"cosine"`.
        margin: int >= 0, at most `overlap / 2`. Pixels at each inner
            tile edge with weight 0. Defaults to `0`.
        align: int >= 1. Tile offsets are multiples of it (the network's
            downsampling factor, so that every tile samples the same pixel
            grid as the whole image). Defaults to `1`.

    Returns:
        A `TileLayout`.

    Raises:
        ValueError: for a bad argument; the message names it.

    Example:
    >>> layout = tile_layout(300, 517, 256, overlap=64)
    >>> layout.tops, layout.lefts
    ([0, 44], [0, 192, 261])
    >>> float(layout.row_sums.min()), float(layout.col_sums.max()) > 1
    (1.0, True)
    """
    for name, value in (("height", height), ("width", width)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or value < 1
        ):
            raise ValueError(
                f"`{name}` must be an int >= 1. Received: {name}={value!r}"
            )
    h, w = int(height), int(width)
    th, tw = _pair(tile_size, "tile_size")
    oh, ow = _pair(overlap, "overlap")
    if min(th, tw) < 1:
        raise ValueError(
            f"`tile_size` must be positive. Received: tile_size={tile_size!r}"
        )
    if not (0 <= oh < th and 0 <= ow < tw):
        raise ValueError(
            "`overlap` must be >= 0 and smaller than the tile. Received: "
            f"overlap={overlap!r} with tile_size={(th, tw)}."
        )
    if blend not in BLENDS:
        raise ValueError(f"`blend` must be one of {BLENDS}. Received: blend={blend!r}")
    if (
        isinstance(margin, bool)
        or not isinstance(margin, (int, np.integer))
        or margin < 0
        or 2 * margin > min(oh, ow)
    ):
        raise ValueError(
            "`margin` must be an int in [0, overlap / 2] (the tapered part "
            "of the overlap is overlap - 2 * margin). Received: "
            f"margin={margin!r} with overlap={(oh, ow)}."
        )
    if isinstance(align, bool) or not isinstance(align, (int, np.integer)) or align < 1:
        raise ValueError(f"`align` must be an int >= 1. Received: align={align!r}")
    if th % align or tw % align:
        raise ValueError(
            f"`tile_size` {(th, tw)} must be a multiple of `align`={align}."
        )
    ph, tops, eh, row_windows, row_sums = _axis(h, th, oh, align, blend, margin, "row")
    pw, lefts, ew, col_windows, col_sums = _axis(
        w, tw, ow, align, blend, margin, "column"
    )
    return TileLayout(
        size=(h, w),
        padded_size=(ph, pw),
        tile_size=(th, tw),
        overlap=(eh, ew),
        tops=tops,
        lefts=lefts,
        row_windows=row_windows,
        col_windows=col_windows,
        row_sums=row_sums,
        col_sums=col_sums,
    )


def _default_align(generator):
    # A ResNet is translation-equivariant for shifts by its downsampling
    # factor: tiles at such offsets compute exactly what the whole image
    # computes away from their edges. A U-Net's bottleneck spans the whole
    # tile, so no placement reproduces a full-image pass; any offset works.
    if isinstance(generator, ResnetGenerator):
        return 2**generator.n_downsampling
    return 1


def _at_size(generator, tile):
    """The generator, or a copy built for `tile` with the same weights."""
    shape = tuple(generator.inputs[0].shape[1:3]) if generator.inputs else ()
    if len(shape) != 2 or all(s is None or s == t for s, t in zip(shape, tile)):
        return generator
    config = generator.get_config()
    if not isinstance(generator, (UNetGenerator, ResnetGenerator)) or (
        "image_size" not in config
    ):
        raise ValueError(
            f"`tile_size` {tile} differs from the generator's input size "
            f"{shape}, and {type(generator).__name__} cannot be rebuilt at "
            "another size: pass tile_size=None (the model's size)."
        )
    # Same weights, other input size: the networks are convolutional (a
    # U-Net's bottleneck grows with the tile, so prefer its own size).
    clone = type(generator).from_config({**config, "image_size": tile})
    clone.set_weights(generator.get_weights())
    return clone


def _check_images(x, channels):
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        x = np.asarray(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if not dtype.startswith(("float", "bfloat")):
        raise TypeError(
            f"translate_tiled takes float images in [-1, 1]; received dtype "
            f"{dtype}. Convert 8-bit images with x.astype('float32') / 127.5 "
            "- 1."
        )
    x = np.asarray(keras.ops.convert_to_numpy(x), "float32")
    if x.ndim not in (3, 4):
        raise ValueError(
            "`images` must be one image (height, width, channels) or a batch "
            f"(batch, height, width, channels). Received shape {x.shape}."
        )
    if x.shape[-1] != channels:
        raise ValueError(
            f"`images` must have {channels} channel(s) (the generator's "
            f"input). Received shape {x.shape}."
        )
    if x.size == 0:
        raise ValueError(f"`images` is empty. Received shape {x.shape}.")
    low, high = float(np.min(x)), float(np.max(x))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("`images` contains NaN or Inf.")
    if max(-low, high) > 1.0 + INPUT_RANGE_TOLERANCE:
        raise ValueError(
            f"`images` has values in [{low:.4g}, {high:.4g}]; the generator "
            "expects [-1, 1] (8-bit images: x / 127.5 - 1)."
        )
    return x


def _latent_codes(generator, z, n):
    latent_dim = getattr(generator, "latent_dim", 0)
    if not latent_dim:
        if z is not None:
            raise ValueError(
                "`z` is given but the generator has no noise input (latent_dim=0)."
            )
        return None
    if z is None:
        # One code per image, shared by all its tiles (per-tile codes
        # would translate each tile differently).
        return np.asarray(
            keras.ops.convert_to_numpy(generator.sample_latent(n)), "float32"
        )
    z = np.asarray(keras.ops.convert_to_numpy(z), "float32")
    if z.ndim == 1:
        z = np.broadcast_to(z, (n, z.shape[0]))
    if z.shape != (n, latent_dim):
        raise ValueError(
            f"`z` must have shape ({latent_dim},) or ({n}, {latent_dim}) for "
            f"{n} image(s). Received shape {z.shape}."
        )
    return z


def translate_tiled(
    model,
    images,
    tile_size=None,
    overlap=None,
    batch_size=8,
    blend="cosine",
    margin=0,
    z=None,
    align=None,
    verbose=False,
):
    """Translates images of any size tile by tile, with blended seams.

    The image is padded at the bottom and right by reflection (to at least
    one tile and to a multiple of `align`), cut into overlapping tiles
    (see `tile_layout`), translated `batch_size` tiles at a time with
    `training=False`, and reassembled as the weighted average of the
    overlapping outputs; the result has the input's height and width.
    Memory is the model's at `batch_size` tiles plus a few image-sized
    float32 arrays (`benchmarks/tiling_memory.py`).

    For a fully convolutional generator the result equals a full-image
    pass at every pixel whose receptive field lies inside each tile that
    covers it with weight > 0: choose `overlap >= 2 * margin` and
    `margin` at least the network's receptive-field radius to get the
    full-image output everywhere (a `ResnetGenerator` with batch norm or no
    norm; instance norm normalizes each tile with its own statistics, and
    a U-Net's 1×1 bottleneck sees the whole tile, so for those the tiles
    are separate translations that the blending joins smoothly).

    With a noise input (`latent_dim > 0`) all tiles of an image share one
    code `z`. Dropout at inference (`inference_dropout=True`) draws a mask
    per tile.

    Args:
        model: `Pix2Pix` or generator (`keras.Model`).
        images: float array or tensor in [-1, 1], one image
            `(height, width, in_channels)` or a batch
            `(batch, height, width, in_channels)`, any height and width.
        tile_size: int, `(height, width)` or `None` for the generator's
            input size. Another size rebuilds `UNetGenerator` /
            `ResnetGenerator` at that size with the same weights (at every
            call: for many images, build it once with
            `type(g).from_config({**g.get_config(), "image_size": size})`
            and `set_weights`, and pass that). Defaults to `None`.
        overlap: int, `(rows, cols)` or `None` for a quarter of the tile.
            Overlap of neighbouring tiles (the stride is rounded down to a
            multiple of `align`, so the overlap may grow). Defaults to
            `None`.
        batch_size: int >= 1. Tiles per generator call. Defaults to `8`.
        blend: str. `"cosine"`, `"linear"` or `"none"` (see
            `tile_layout`). Defaults to `"cosine"`.
        margin: int in [0, overlap / 2]. Pixels at each inner tile edge
            that get no weight. Defaults to `0`.
        z: float array `(latent_dim,)` or `(batch, latent_dim)`, or `None`
            (draw one code per image). Only for generators with
            `latent_dim > 0`. Defaults to `None`.
        align: int or `None`. Tile offsets are multiples of it; `None`
            uses `2**n_downsampling` for a `ResnetGenerator` (its
            translation step) and 1 otherwise. Defaults to `None`.
        verbose: bool. Show a progress bar over the tiles. Defaults to
            `False`.

    Returns:
        float32 NumPy array of the input's shape with `out_channels`
        channels, in [-1, 1].

    Raises:
        ValueError: for a bad argument or image (wrong rank or channels,
            values outside [-1, 1], NaN); the message names it.
        TypeError: for integer images.

    Example:
    >>> g = ResnetGenerator(image_size=32, filters=4, n_blocks=1)
    >>> x = np.zeros((70, 45, 3), "float32")
    >>> translate_tiled(g, x, overlap=8).shape
    (70, 45, 3)
    """
    generator = generator_of(model, keras_model=True)
    if not generator.inputs:
        raise ValueError("The generator must be built (a functional model).")
    channels = generator.inputs[0].shape[-1]
    x = _check_images(images, channels)
    single = x.ndim == 3
    if single:
        x = x[None]
    if tile_size is None:
        tile_size = tuple(generator.inputs[0].shape[1:3])
        if None in tile_size:
            raise ValueError(
                "The generator's input size is not fixed: pass `tile_size`."
            )
    tile = _pair(tile_size, "tile_size")
    if overlap is None:
        overlap = (tile[0] // 4, tile[1] // 4)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or (batch_size < 1)
    ):
        raise ValueError(
            f"`batch_size` must be an int >= 1. Received: batch_size={batch_size!r}"
        )
    if align is None:
        align = _default_align(generator)
    n, h, w, _ = x.shape
    layout = tile_layout(
        h, w, tile, overlap=overlap, blend=blend, margin=margin, align=align
    )
    codes = _latent_codes(generator, z, n)
    net = _at_size(generator, tile)
    (ph, pw), (th, tw) = layout.padded_size, layout.tile_size
    places = [(i, j) for i in range(len(layout.tops)) for j in range(len(layout.lefts))]
    bar = keras.utils.Progbar(
        n * len(places), verbose=int(bool(verbose)), unit_name="tile"
    )
    out = None
    for b in range(n):
        image = x[b]
        if (ph, pw) != (h, w):
            image = _reflect_pad(image, ph, pw)
        acc = None
        for start in range(0, len(places), batch_size):
            # A smaller last batch retraces the predict function once; Keras
            # then traces it for any batch size (reduce_retracing).
            chunk = places[start : start + batch_size]
            tiles = np.stack(
                [
                    image[
                        layout.tops[i] : layout.tops[i] + th,
                        layout.lefts[j] : layout.lefts[j] + tw,
                    ]
                    for i, j in chunk
                ]
            )
            inputs = (
                tiles
                if codes is None
                else [tiles, np.repeat(codes[b : b + 1], len(chunk), axis=0)]
            )
            pred = np.asarray(
                keras.ops.convert_to_numpy(net.predict_on_batch(inputs)),
                "float32",
            )
            if acc is None:
                acc = np.zeros((ph, pw, pred.shape[-1]), "float32")
            for (i, j), p in zip(chunk, pred):
                top, left = layout.tops[i], layout.lefts[j]
                window = layout.row_windows[i][:, None] * layout.col_windows[j][None, :]
                acc[top : top + th, left : left + tw] += p * window[..., None]
            bar.add(len(chunk))
        acc = acc[:h, :w]
        acc /= (layout.row_sums[:h, None] * layout.col_sums[None, :w])[..., None]
        if out is None:
            out = np.empty((n, h, w, acc.shape[-1]), "float32")
        out[b] = acc
        del acc
    return out[0] if single else out


def _reflect_pad(image, ph, pw):
    """Pads `(h, w, c)` to `(ph, pw, c)` at the bottom and right."""
    h, w = image.shape[:2]
    pads = [(0, ph - h), (0, pw - w), (0, 0)]
    # Reflection needs at least 2 pixels along an axis; a 1-pixel side is
    # repeated instead.
    mode = "reflect" if min(h, w) > 1 else "edge"
    return np.pad(image, pads, mode=mode)

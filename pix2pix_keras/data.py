"""Paired-image input pipelines (tf.data): layouts, preprocessing, labels.

Three layouts of paired images are read:

- `"ab"`: one folder of images holding input and target side by side
  (A = left half, B = right half; the public pix2pix datasets);
- `"folders"`: `directory/A/` and `directory/B/`, matched by file stem;
- `"stems"`: one folder in which the two images of a pair share a stem and
  differ by suffix (`cmp_b0001.jpg` + `cmp_b0001.png`).

`direction="AtoB"` makes A the source (the generator's input), `"BtoA"` B.
Every file is checked before the pipeline is built (empty, not an image,
truncated, unsupported format, odd AB width, mismatched sizes), and the error
names the file; `on_error="skip"` drops such pairs with one warning that lists
them all. Decoding and resizing run in parallel and are cached as uint8;
random crops, flips and augmentations run in the graph from per-pair
stateless seeds, so a fixed `seed` reproduces every batch.
"""

import os
import warnings

import tensorflow as tf

from pix2pix_keras.labels import LabelMaps
from pix2pix_keras.labels import _choice
from pix2pix_keras.labels import _to_channels
from pix2pix_keras.labels import facades_labels
from pix2pix_keras.labels import read_palette
from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.utils import check_int

__all__ = [
    "DIRECTIONS",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "LabelMaps",
    "PREPROCESS",
    "decode_image",
    "default_load_size",
    "detect_layout",
    "facades_labels",
    "find_pairs",
    "inspect_image",
    "load_paired_dataset",
    "random_jitter",
    "read_palette",
    "sample_data_dir",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
LAYOUTS = ("auto", "ab", "folders", "stems")
DIRECTIONS = ("AtoB", "BtoA")
PREPROCESS = ("resize_and_crop", "crop", "scale_width", "none")

_SAMPLE_ROOT = os.path.join(os.path.dirname(__file__), "sample_data", "facades")


def sample_data_dir(split="train"):
    """Path of the bundled CMP facades sample (24 train, 6 val pairs, 256×256).

    Each pair is `cmp_bNNNN.jpg` (photo, "A") and `cmp_bNNNN.png` (palette
    label map, class ids 1–12, "B"), so label → photo is `direction="BtoA"`.
    See `PROVENANCE.md` in that folder.

    Args:
        split: str. `"train"` or `"val"`. Defaults to `"train"`.

    Returns:
        str. An absolute directory path.
    """
    if split not in ("train", "val"):
        raise ValueError(f"`split` must be 'train' or 'val'. Received: split={split!r}")
    return os.path.join(_SAMPLE_ROOT, split)


def default_load_size(image_size):
    """The resize size before the random crop: `image_size` × 286 / 256.

    The paper resizes to 286 and crops 256; this keeps that 286/256 margin
    at any size, per side, each rounded to the nearest integer (Python's
    `round`: a tie such as 214.5 goes to the even 214). It is the
    `load_size` that `load_paired_dataset` and `pix2pix train` use when
    none is given.

    Args:
        image_size: int or `(h, w)`. The crop size.

    Returns:
        `(h, w)` tuple of ints.

    Example:
    >>> default_load_size(256)
    (286, 286)
    >>> default_load_size(64)
    (72, 72)
    >>> default_load_size((128, 64))
    (143, 72)
    """
    h, w = _image_size(image_size, "image_size")
    return tuple(int(round(s * 286 / 256)) for s in (h, w))


# ---------------------------------------------------------------------------
# Finding pairs


def _image_files(directory):
    return sorted(
        n
        for n in os.listdir(directory)
        if n.lower().endswith(IMAGE_EXTENSIONS)
        and os.path.isfile(os.path.join(directory, n))
    )


def _stem(name):
    return os.path.splitext(name)[0]


def detect_layout(directory, suffixes=(".jpg", ".png")):
    """Guesses the layout of a data folder.

    `"folders"` if it has `A/` and `B/` subfolders, `"stems"` if some file
    stem exists with both `suffixes`, otherwise `"ab"`.
    """
    directory = os.fspath(directory)
    if os.path.isdir(os.path.join(directory, "A")) and os.path.isdir(
        os.path.join(directory, "B")
    ):
        return "folders"
    names = _image_files(directory)
    a = {n[: -len(suffixes[0])] for n in names if n.endswith(suffixes[0])}
    b = {n[: -len(suffixes[1])] for n in names if n.endswith(suffixes[1])}
    return "stems" if a & b else "ab"


def _lonely_error(where, lonely, hint):
    shown = ", ".join(lonely[:8]) + (" ..." if len(lonely) > 8 else "")
    return ValueError(
        f"{len(lonely)} file(s) in {where} have no partner ({hint}): {shown}"
    )


def find_pairs(directory, layout="auto", suffixes=(".jpg", ".png")):
    """Lists the (A, B) files of a data folder.

    Args:
        directory: str. The data folder.
        layout: str. `"auto"`, `"ab"`, `"folders"` or `"stems"` (see the
            module docstring). Defaults to `"auto"`.
        suffixes: `(a_suffix, b_suffix)` for the `"stems"` layout. Defaults
            to `(".jpg", ".png")` (CMP facades: photo, label map).

    Returns:
        `(layout, a_paths, b_paths)`: the layout used and two sorted lists of
        equal length (for `"ab"` both lists hold the same files).

    Raises:
        FileNotFoundError: if `directory` does not exist.
        ValueError: if it holds no images, or a file has no partner.
    """
    directory = os.fspath(directory)
    _choice(layout, LAYOUTS, "layout")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Data folder not found: {directory!r}")
    if len(suffixes) != 2 or suffixes[0] == suffixes[1]:
        raise ValueError(
            f"`suffixes` must be two different suffixes. Received: suffixes={suffixes!r}"
        )
    if layout == "auto":
        layout = detect_layout(directory, suffixes)
    if layout == "folders":
        dirs = [os.path.join(directory, side) for side in "AB"]
        for d in dirs:
            if not os.path.isdir(d):
                raise FileNotFoundError(f"Layout 'folders' needs the folder {d!r}")
        by_stem = [{_stem(n): n for n in _image_files(d)} for d in dirs]
        for d, files in zip(dirs, by_stem):
            if not files:
                raise ValueError(f"No images (JPEG, PNG, BMP) in {d!r}")
        lonely = sorted(
            [f"A/{by_stem[0][s]}" for s in set(by_stem[0]) - set(by_stem[1])]
            + [f"B/{by_stem[1][s]}" for s in set(by_stem[1]) - set(by_stem[0])]
        )
        if lonely:
            raise _lonely_error(
                repr(directory), lonely, "A/ and B/ must hold the same file names"
            )
        stems = sorted(by_stem[0])
        return (
            layout,
            [os.path.join(dirs[0], by_stem[0][s]) for s in stems],
            [os.path.join(dirs[1], by_stem[1][s]) for s in stems],
        )
    names = _image_files(directory)
    if not names:
        raise ValueError(
            f"No images (JPEG, PNG, BMP) in {directory!r} "
            f"(it holds {len(os.listdir(directory))} entries)."
        )
    if layout == "ab":
        paths = [os.path.join(directory, n) for n in names]
        return layout, paths, list(paths)
    a = {n[: -len(suffixes[0])]: n for n in names if n.endswith(suffixes[0])}
    b = {n[: -len(suffixes[1])]: n for n in names if n.endswith(suffixes[1])}
    other = [n for n in names if n not in a.values() and n not in b.values()]
    lonely = sorted([a.get(s) or b.get(s) for s in set(a) ^ set(b)] + other)
    if lonely:
        raise _lonely_error(
            repr(directory),
            lonely,
            f"each '*{suffixes[0]}' file needs a '*{suffixes[1]}' file with "
            "the same stem and vice versa",
        )
    stems = sorted(a)
    return (
        layout,
        [os.path.join(directory, a[s]) for s in stems],
        [os.path.join(directory, b[s]) for s in stems],
    )


# ---------------------------------------------------------------------------
# Checking files


def inspect_image(path, full=False):
    """Checks one image file and returns `(width, height)`.

    Reads the header (and the end of the file, where JPEG and PNG have end
    markers) with Pillow; `full=True` also decodes every pixel.

    Raises:
        ValueError: naming `path` and the problem: empty file, not an
            image, unsupported format, truncated or corrupt data.
    """
    from PIL import Image
    from PIL import UnidentifiedImageError

    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"{path}: empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            fmt, (w, h) = im.format, im.size
            if fmt not in ("JPEG", "PNG", "BMP"):
                raise ValueError(
                    f"{path}: unsupported format {fmt}; use JPEG, PNG or BMP"
                )
            if full:
                im.load()
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image (unknown or corrupt header)") from None
    except (OSError, SyntaxError) as e:
        raise ValueError(f"{path}: corrupt or truncated image ({e})") from None
    with open(path, "rb") as f:
        f.seek(max(0, size - 12))
        tail = f.read()
    if fmt == "JPEG" and b"\xff\xd9" not in tail[-4:]:
        raise ValueError(f"{path}: truncated JPEG (no end-of-image marker)")
    if fmt == "PNG" and tail[-8:-4] != b"IEND":
        raise ValueError(f"{path}: truncated PNG (no IEND chunk)")
    if fmt == "BMP":
        with open(path, "rb") as f:
            declared = int.from_bytes(f.read(6)[2:6], "little")
        if size < declared:
            raise ValueError(
                f"{path}: truncated BMP ({size} bytes, header says {declared})"
            )
    return w, h


def _check_pairs(layout, a_paths, b_paths, full, on_error):
    """Returns the pairs whose files pass the checks; raises or warns."""
    good, problems = [], []
    for a, b in zip(a_paths, b_paths):
        try:
            wa, ha = inspect_image(a, full)
            if layout == "ab":
                if wa % 2:
                    raise ValueError(
                        f"{a}: AB image of odd width {wa} cannot be split into "
                        "two equal halves"
                    )
            else:
                wb, hb = inspect_image(b, full)
                if (wa, ha) != (wb, hb):
                    raise ValueError(
                        f"{a} ({wa}×{ha}) and {b} ({wb}×{hb}): the images of a "
                        "pair must have the same size"
                    )
        except ValueError as e:
            if on_error == "raise":
                raise
            problems.append(str(e))
            continue
        good.append((a, b))
    if problems:
        warnings.warn(
            f"Skipped {len(problems)} of {len(a_paths)} pair(s) with bad files:\n  "
            + "\n  ".join(problems),
            stacklevel=3,
        )
    if not good:
        raise ValueError(f"No usable pairs: all {len(a_paths)} were skipped.")
    return good


# ---------------------------------------------------------------------------
# Graph ops


def decode_image(path, channels):
    """Reads a JPEG/PNG/BMP file into float32 `(h, w, channels)` in [-1, 1].

    Grey, grey+alpha, RGB and RGBA sources are converted to `channels` (1, 3
    or 4). Palette PNGs decode to their palette colours.
    """
    raw = tf.io.decode_image(tf.io.read_file(path), channels=0, expand_animations=False)
    return tf.cast(_to_channels(raw, channels), tf.float32) / 127.5 - 1.0


def _resize_u8(image, size, method):
    out = tf.image.resize(image, size, method=method)
    if method == "nearest":
        return tf.cast(out, tf.uint8)
    return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)


def _round_to(x, multiple):
    return tf.maximum(multiple, tf.cast(tf.round(x / multiple), tf.int32) * multiple)


def _crop_or_pad(image, size, offset):
    """Crops `image` to `size` at `offset`, padding by reflection if smaller."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    pad_h, pad_w = tf.maximum(size[0] - h, 0), tf.maximum(size[1] - w, 0)
    image = tf.pad(
        image,
        [[pad_h // 2, pad_h - pad_h // 2], [pad_w // 2, pad_w - pad_w // 2], [0, 0]],
        mode="SYMMETRIC",
    )
    return tf.image.crop_to_bounding_box(image, offset[0], offset[1], size[0], size[1])


def random_jitter(source, target, seed, image_size=(256, 256), flip=True):
    """Crops both images at the same random place and flips them together.

    The images are stacked on the channel axis so that one crop window and
    one flip decision apply to both, which keeps the pair aligned.

    Args:
        source: tensor `(H, W, c_in)`, at least `image_size`.
        target: tensor `(H, W, c_out)`, same `H`, `W` and dtype.
        seed: int tensor of shape `(2,)`, for the stateless random ops.
        image_size: `(h, w)` crop size. Defaults to `(256, 256)`.
        flip: bool. Random horizontal flip. Defaults to `True`.

    Returns:
        `(source, target)` of shape `(h, w, c_in)` and `(h, w, c_out)`.
    """
    h, w = _image_size(image_size)
    c_in = tf.shape(source)[-1]
    stacked = tf.concat([source, target], axis=-1)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    size = tf.stack([h, w, tf.shape(stacked)[-1]])
    stacked = tf.image.stateless_random_crop(stacked, size, seed=seeds[0])
    if flip:
        stacked = tf.image.stateless_random_flip_left_right(stacked, seed=seeds[1])
    return stacked[..., :c_in], stacked[..., c_in:]


# ---------------------------------------------------------------------------
# The dataset


def load_paired_dataset(
    directory,
    *,
    layout="auto",
    direction="AtoB",
    suffixes=(".jpg", ".png"),
    image_size=(256, 256),
    load_size=None,
    preprocess="resize_and_crop",
    size_multiple=256,
    in_channels=3,
    out_channels=3,
    labels=None,
    with_label_ids=False,
    augment=None,
    flip=True,
    training=True,
    batch_size=1,
    shuffle=None,
    seed=None,
    cache=True,
    resize_method="nearest",
    validate="quick",
    on_error="raise",
):
    """Builds a `tf.data.Dataset` of `(source, target)` batches in [-1, 1].

    Preprocessing (`preprocess`), in training / evaluation:

    - `"resize_and_crop"` (classic): resize both images to `load_size`, then
      the same random `image_size` crop / resize to `image_size`;
    - `"crop"`: random / centred `image_size` crop of the full image;
    - `"scale_width"`: scale to the width of `load_size` / `image_size`,
      keeping the aspect ratio (height rounded to `size_multiple`), then a
      random `image_size` crop / nothing more;
    - `"none"`: only crop (random / centred) to a multiple of
      `size_multiple` (reflection-padded up to one multiple if smaller).

    Training also flips both images together (`flip=True`) and applies
    `augment` (an `pix2pix_keras.augment.Augment`). Evaluation sizes vary
    from image to image with `"scale_width"` and `"none"`, which then need
    `batch_size=1`.

    Args:
        directory: str. The data folder (see `find_pairs`).
        layout: str. `"auto"`, `"ab"`, `"folders"` or `"stems"`.
            Defaults to `"auto"`.
        direction: str. `"AtoB"` (A is the source) or `"BtoA"`. Defaults to
            `"AtoB"`.
        suffixes: `(a_suffix, b_suffix)` for `"stems"`. Defaults to
            `(".jpg", ".png")`.
        image_size: int or `(h, w)`. Output (crop) size. Defaults to 256.
        load_size: int, `(h, w)` or `None`. Resize target of
            `"resize_and_crop"`; its width is the scale of `"scale_width"`.
            Defaults to `None`: `default_load_size(image_size)`, the
            paper's 286/256 ratio (286 for 256, 72 for 64, 143 for 128);
            an explicit value is used as given.
        preprocess: str. See above. Defaults to `"resize_and_crop"`.
        size_multiple: int. Size multiple for `"scale_width"` heights and
            `"none"` (2**depth of the generator). Defaults to `256`.
        in_channels: int. Source channels (1, 3 or 4) of photos; ignored
            for a label-map source. Defaults to `3`.
        out_channels: int. Target channels (1, 3 or 4). Defaults to `3`.
        labels: `LabelMaps` or `None`. Treat one side as a label map of
            class ids (colourised or one-hot). Defaults to `None`.
        with_label_ids: bool. Yield `(source, target, ids)` with the int32
            class ids `(b, h, w)` of the label side, transformed like the
            images (for mIoU). Needs `labels`. Defaults to `False`.
        augment: `Augment` or `None`. Elastic deformation and colour jitter
            for training. Defaults to `None`.
        flip: bool. Random horizontal flips in training. Defaults to `True`.
        training: bool. Random crops, flips, augmentation and shuffling.
            Defaults to `True`.
        batch_size: int >= 1. Defaults to `1`.
        shuffle: bool or `None` (= `training`). Defaults to `None`.
        seed: int or `None`. Seeds shuffling and all random ops; a fixed
            seed gives the same batches in every run, different from one
            epoch to the next. Defaults to `None`.
        cache: bool. Keep decoded, resized images (uint8) in memory.
            Defaults to `True`.
        resize_method: str. `tf.image.resize` method for photos (label maps
            always use nearest). Defaults to `"nearest"` (the paper).
        validate: str. `"quick"` (headers and end markers), `"full"`
            (decode every file once up front) or `"none"`. Defaults to
            `"quick"`.
        on_error: str. `"raise"` on the first bad file, or `"skip"` bad
            pairs with one warning that lists them. Defaults to `"raise"`.

    Returns:
        A `tf.data.Dataset` of `(source, target)` float32 batches (plus
        `ids` with `with_label_ids=True`).

    Example:
    >>> ds = load_paired_dataset(sample_data_dir("train"), direction="BtoA",
    ...                          batch_size=4)
    >>> [tuple(t.shape) for t in next(iter(ds))]
    [(4, 256, 256, 3), (4, 256, 256, 3)]
    """
    _choice(direction, DIRECTIONS, "direction")
    _choice(preprocess, PREPROCESS, "preprocess")
    _choice(validate, ("quick", "full", "none"), "validate")
    _choice(on_error, ("raise", "skip"), "on_error")
    image_size = _image_size(image_size, "image_size")
    if load_size is None:
        load_size = default_load_size(image_size)
    load_size = _image_size(load_size, "load_size")
    check_int(batch_size=batch_size, size_multiple=size_multiple)
    for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if value not in (1, 3, 4):
            raise ValueError(f"`{arg}` must be 1, 3 or 4. Received: {arg}={value!r}")
    if (
        training
        and preprocess == "resize_and_crop"
        and (load_size[0] < image_size[0] or load_size[1] < image_size[1])
    ):
        raise ValueError(
            f"`load_size` {load_size} must be at least `image_size` "
            f"{image_size} to crop from it."
        )
    if labels is not None and not isinstance(labels, LabelMaps):
        raise ValueError(f"`labels` must be a LabelMaps. Received: labels={labels!r}")
    if with_label_ids and labels is None:
        raise ValueError("`with_label_ids=True` needs `labels`.")
    variable = preprocess == "none" or (preprocess == "scale_width" and not training)
    if variable and batch_size != 1:
        raise ValueError(
            f"preprocess={preprocess!r} gives images of different sizes"
            f"{'' if training else ' in evaluation'}; use batch_size=1 "
            f"(received batch_size={batch_size})."
        )
    if augment is not None and labels is not None:
        jitter_side = getattr(augment, "color_jitter_side", None)
        if getattr(augment, "color_jitter", None) and jitter_side in (
            labels.side,
            "both",
        ):
            raise ValueError(
                f"Colour jitter on the {labels.side} side would change label "
                f"ids: set the augment's color_jitter_side to the photo side."
            )

    layout, a_paths, b_paths = find_pairs(directory, layout, suffixes)
    if validate != "none":
        pairs = _check_pairs(layout, a_paths, b_paths, validate == "full", on_error)
        a_paths, b_paths = [p[0] for p in pairs], [p[1] for p in pairs]
    if direction == "BtoA":
        a_paths, b_paths = b_paths, a_paths
    # After the swap "a" is the source side.
    src_is_label = labels is not None and labels.side == "source"
    tgt_is_label = labels is not None and labels.side == "target"
    src_channels, tgt_channels = in_channels, out_channels
    ab_source_half = 0 if direction == "AtoB" else 1
    if shuffle is None:
        shuffle = training

    def read(path, channels, is_label, half):
        raw = tf.io.decode_image(
            tf.io.read_file(path), channels=0, expand_animations=False
        )
        if layout == "ab":
            w = tf.shape(raw)[1] // 2
            raw = raw[:, half * w : (half + 1) * w]
        if is_label:
            return labels.decode_ids(raw, path)
        return _to_channels(raw, channels)

    def load(src_path, tgt_path):
        src = read(src_path, src_channels, src_is_label, ab_source_half)
        tgt = read(tgt_path, tgt_channels, tgt_is_label, 1 - ab_source_half)
        src_method = "nearest" if src_is_label else resize_method
        tgt_method = "nearest" if tgt_is_label else resize_method
        shape = tf.shape(src)
        if preprocess == "resize_and_crop":
            size = load_size if training else image_size
        elif preprocess == "scale_width":
            width = load_size[1] if training else image_size[1]
            height = _round_to(
                tf.cast(shape[0], tf.float32) * width / tf.cast(shape[1], tf.float32),
                size_multiple,
            )
            if training:
                height = tf.maximum(height, image_size[0])
            size = tf.stack([height, width])
        else:
            size = None
        if size is not None:
            src = _resize_u8(src, size, src_method)
            tgt = _resize_u8(tgt, size, tgt_method)
        return src, tgt

    def finish(src, tgt, seed):
        """Random crop/flip/augment (training), then float32 and encoding."""
        if preprocess == "none":
            shape = tf.shape(src)
            size = tf.stack(
                [
                    tf.maximum(shape[0] // size_multiple, 1) * size_multiple,
                    tf.maximum(shape[1] // size_multiple, 1) * size_multiple,
                ]
            )
        elif preprocess == "scale_width" and not training:
            size = None
        else:
            size = tf.constant(image_size)
        seeds = tf.random.experimental.stateless_split(seed, 3)
        if size is not None and not (preprocess == "resize_and_crop" and not training):
            stacked = tf.concat([src, tgt], axis=-1)
            shape = tf.shape(stacked)
            room = tf.maximum(shape[:2] - size, 0)
            if training:
                offset = tf.random.stateless_uniform(
                    [2], seeds[0], 0, tf.int32.max, dtype=tf.int32
                ) % (room + 1)
            else:
                offset = room // 2
            stacked = _crop_or_pad(stacked, size, offset)
            c = tf.shape(src)[-1]
            src, tgt = stacked[..., :c], stacked[..., c:]
        if training and flip:
            stacked = tf.image.stateless_random_flip_left_right(
                tf.concat([src, tgt], axis=-1), seed=seeds[1]
            )
            c = tf.shape(src)[-1]
            src, tgt = stacked[..., :c], stacked[..., c:]
        src = tf.cast(src, tf.float32)
        tgt = tf.cast(tgt, tf.float32)
        if not src_is_label:
            src = src / 127.5 - 1.0
        if not tgt_is_label:
            tgt = tgt / 127.5 - 1.0
        src = tf.ensure_shape(src, [None, None, 1 if src_is_label else in_channels])
        tgt = tf.ensure_shape(tgt, [None, None, 1 if tgt_is_label else out_channels])
        if training and augment is not None:
            src, tgt = augment.apply(
                src,
                tgt,
                seeds[2],
                source_method="nearest" if src_is_label else "bilinear",
                target_method="nearest" if tgt_is_label else "bilinear",
            )[:2]
        fixed = not variable
        hw = list(image_size) if fixed else [None, None]
        src = tf.ensure_shape(src, hw + [None])
        tgt = tf.ensure_shape(tgt, hw + [None])
        ids = None
        if src_is_label:
            ids, src = src, labels.encode(src)
        if tgt_is_label:
            ids, tgt = tgt, labels.encode(tgt)
        src = tf.ensure_shape(
            src, hw + [labels.channels if src_is_label else in_channels]
        )
        tgt = tf.ensure_shape(
            tgt, hw + [labels.channels if tgt_is_label else out_channels]
        )
        if with_label_ids:
            return src, tgt, tf.cast(ids[..., 0], tf.int32)
        return src, tgt

    ds = tf.data.Dataset.from_tensor_slices((a_paths, b_paths))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(a_paths), seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, seeds)).map(
        lambda pair, s: finish(pair[0], pair[1], s),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

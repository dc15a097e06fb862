"""Paired-image input pipelines (tf.data) with the classic pix2pix jitter."""

import os

import tensorflow as tf

from pix2pix_keras.models.generator import _image_size
from pix2pix_keras.utils import check_int

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

_SAMPLE_ROOT = os.path.join(os.path.dirname(__file__), "sample_data", "facades")


def sample_data_dir(split="train"):
    """Path of the bundled CMP facades sample (24 train, 6 val pairs, 256×256).

    Each pair is `cmp_bNNNN.png` (palette label map, ids 1–12) and
    `cmp_bNNNN.jpg` (photo). See `PROVENANCE.md` in that folder.

    Args:
        split: str. `"train"` or `"val"`. Defaults to `"train"`.

    Returns:
        str. An absolute directory path.
    """
    if split not in ("train", "val"):
        raise ValueError(f"`split` must be 'train' or 'val'. Received: split={split!r}")
    return os.path.join(_SAMPLE_ROOT, split)


def find_pairs(directory, source_suffix=".png", target_suffix=".jpg"):
    """Matches the files of one folder into (source, target) pairs by stem.

    `a.png` + `a.jpg` form a pair when `source_suffix=".png"` and
    `target_suffix=".jpg"` (the CMP facades layout: label map and photo).

    Args:
        directory: str. Folder holding both files of every pair.
        source_suffix: str. End of the source file names. Defaults to
            `".png"`.
        target_suffix: str. End of the target file names. Defaults to
            `".jpg"`.

    Returns:
        Two sorted lists of paths of equal length.

    Raises:
        FileNotFoundError: if `directory` does not exist.
        ValueError: if it holds no pair, or a file has no partner.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Data folder not found: {directory!r}")
    if source_suffix == target_suffix:
        raise ValueError(
            "`source_suffix` and `target_suffix` must differ. Received "
            f"{source_suffix!r} for both."
        )
    names = sorted(os.listdir(directory))
    sources = {n[: -len(source_suffix)]: n for n in names if n.endswith(source_suffix)}
    targets = {n[: -len(target_suffix)]: n for n in names if n.endswith(target_suffix)}
    if not sources and not targets:
        raise ValueError(
            f"No '*{source_suffix}' / '*{target_suffix}' image pairs in "
            f"{directory!r} (it holds {len(names)} entries)."
        )
    lonely = sorted(set(sources) ^ set(targets))
    if lonely:
        shown = ", ".join(
            sources.get(s) or targets.get(s) for s in lonely[:5]
        )
        raise ValueError(
            f"{len(lonely)} file(s) in {directory!r} have no partner (a "
            f"'{source_suffix}' file needs a '{target_suffix}' file with the "
            f"same stem and vice versa): {shown}"
            + (" ..." if len(lonely) > 5 else "")
        )
    stems = sorted(sources)
    return (
        [os.path.join(directory, sources[s]) for s in stems],
        [os.path.join(directory, targets[s]) for s in stems],
    )


def decode_image(path, channels):
    """Reads a JPEG/PNG/BMP file into float32 `(h, w, channels)` in [-1, 1].

    Palette PNGs decode to their palette colours.
    """
    image = tf.io.decode_image(
        tf.io.read_file(path), channels=channels, expand_animations=False
    )
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def resize_pair(source, target, size, method="nearest"):
    """Resizes both images of a pair to `size` `(h, w)`."""
    return (
        tf.image.resize(source, size, method=method),
        tf.image.resize(target, size, method=method),
    )


def random_jitter(source, target, seed, image_size=(256, 256), flip=True):
    """Crops both images at the same random place and flips them together.

    The images are stacked on the channel axis so that one crop window and
    one flip decision apply to both, which keeps the pair aligned.

    Args:
        source: float tensor `(H, W, c_in)`, at least `image_size`.
        target: float tensor `(H, W, c_out)`, same `H`, `W`.
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


def load_paired_dataset(
    directory,
    *,
    source_suffix=".png",
    target_suffix=".jpg",
    image_size=(256, 256),
    load_size=(286, 286),
    in_channels=3,
    out_channels=3,
    training=True,
    batch_size=1,
    shuffle=None,
    seed=None,
    cache=True,
    resize_method="nearest",
):
    """Builds a `tf.data.Dataset` of `(source, target)` batches in [-1, 1].

    Training (`training=True`): both images resized to `load_size` (nearest
    neighbour by default, as in the paper), cropped at the same random
    `image_size` window, flipped together with probability ½. Evaluation:
    resized to `image_size` only. Decoding runs in parallel, decoded images
    are cached in memory (`cache=True`), and batches are prefetched.

    Args:
        directory: str. Folder of pairs, see `find_pairs`.
        source_suffix: str. Suffix of source files. Defaults to `".png"`.
        target_suffix: str. Suffix of target files. Defaults to `".jpg"`.
        image_size: int or `(h, w)`. Output size. Defaults to `(256, 256)`.
        load_size: int or `(h, w)`. Resize before the random crop, at least
            `image_size`. Defaults to `(286, 286)`.
        in_channels: int. Source channels (1, 3 or 4). Defaults to `3`.
        out_channels: int. Target channels (1, 3 or 4). Defaults to `3`.
        training: bool. Apply jitter and shuffle. Defaults to `True`.
        batch_size: int >= 1. Defaults to `1`.
        shuffle: bool or `None` (= `training`). Defaults to `None`.
        seed: int or `None`. Seeds shuffling and jitter; a fixed seed gives
            the same sequence of batches in every run, different from one
            epoch to the next. Defaults to `None`.
        cache: bool. Keep decoded images in memory. Defaults to `True`.
        resize_method: str. `tf.image.resize` method. Defaults to
            `"nearest"`.

    Returns:
        A `tf.data.Dataset` yielding `(source, target)` float32 batches.

    Example:
    >>> ds = load_paired_dataset(sample_data_dir("train"), batch_size=4)
    >>> [tuple(t.shape) for t in next(iter(ds))]
    [(4, 256, 256, 3), (4, 256, 256, 3)]
    """
    image_size = _image_size(image_size, "image_size")
    load_size = _image_size(load_size, "load_size")
    if training and (load_size[0] < image_size[0] or load_size[1] < image_size[1]):
        raise ValueError(
            f"`load_size` {load_size} must be at least `image_size` "
            f"{image_size} to crop from it."
        )
    for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if value not in (1, 3, 4):
            raise ValueError(f"`{arg}` must be 1, 3 or 4. Received: {arg}={value!r}")
    check_int(batch_size=batch_size)
    sources, targets = find_pairs(directory, source_suffix, target_suffix)
    if shuffle is None:
        shuffle = training
    resize_to = load_size if training else image_size

    def load(source_path, target_path):
        source = decode_image(source_path, in_channels)
        target = decode_image(target_path, out_channels)
        return resize_pair(source, target, resize_to, resize_method)

    ds = tf.data.Dataset.from_tensor_slices((sources, targets))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(sources), seed=seed, reshuffle_each_iteration=True)
    if training:
        seeds = tf.data.Dataset.random(
            seed=seed, rerandomize_each_iteration=True
        ).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda pair, s: random_jitter(pair[0], pair[1], s, image_size),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

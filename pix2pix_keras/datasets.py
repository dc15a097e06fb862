"""The official pix2pix datasets: download, cache, verify and load them.

The six paired datasets of
[Isola et al., 2017](https://arxiv.org/abs/1611.07004) are `.tar.gz` archives
of side-by-side "AB" JPEGs (A on the left, B on the right), one folder per
split (`facades/train/1.jpg`, ...). `load()` fetches an archive once with
`keras.utils.get_file`, extracts it once, and returns one `tf.data.Dataset`
per split built by `pix2pix_keras.data.load_paired_dataset`.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile

from pix2pix_keras.utils import lookup

__all__ = ["BASE_URL", "DatasetInfo", "download", "list_datasets", "load"]

# Keras and `pix2pix_keras.data` (TensorFlow) are imported where they are
# used: `pix2pix datasets list` reads the registry without them.

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"

# Written beside the archive once extraction has finished, so an interrupted
# extraction is redone and a re-downloaded archive is extracted again.
_MARKER_SUFFIX = ".extracted.json"


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Registry entry of one official pix2pix dataset.

    Attributes:
        name: str. Dataset name, also the archive's top folder.
        origin: str. Download URL of `name.tar.gz`.
        splits: tuple of str. Split folders in the archive.
        direction: str. Conventional direction, `"AtoB"` or `"BtoA"`.
        size: str. Approximate archive size.
        description: str. Content, what A and B are, provenance notes.
        file_hash: str or `None`. Published sha256/md5 of the archive;
            `None` when none is published (then nothing is verified unless
            `load(..., file_hash=...)` is given).
    """

    name: str
    origin: str
    splits: tuple
    direction: str
    size: str
    description: str
    file_hash: str = None


def _info(name, splits, direction, size, description):
    return DatasetInfo(
        name=name,
        origin=f"{BASE_URL}{name}.tar.gz",
        splits=splits,
        direction=direction,
        size=size,
        description=description,
    )


# Splits and A/B contents follow junyanz/pytorch-CycleGAN-and-pix2pix
# (datasets/download_pix2pix_dataset.sh, docs/datasets.md, README) and
# phillipi/pix2pix (README). The authors publish no checksums for these
# archives, hence `file_hash=None` everywhere.
_REGISTRY = {
    info.name: info
    for info in (
        _info(
            "facades",
            ("train", "val", "test"),
            "BtoA",
            "30 MB",
            "400 training pairs from the CMP Facades database. A: photo, B: "
            "label map; BtoA translates labels to facades.",
        ),
        _info(
            "cityscapes",
            ("train", "val"),
            "BtoA",
            "100 MB",
            "2975 training pairs from the Cityscapes training set. A: photo, "
            "B: colour label map; BtoA translates labels to street scenes "
            "(the paper's FCN-score task). The Cityscapes terms of use apply; "
            "the reference repository now asks users to build it from "
            "cityscapes-dataset.com instead.",
        ),
        _info(
            "maps",
            ("train", "val"),
            "AtoB",
            "240 MB",
            "1096 training pairs scraped from Google Maps. A: aerial photo, "
            "B: map; AtoB translates aerial photos to maps.",
        ),
        _info(
            "edges2shoes",
            ("train", "val"),
            "AtoB",
            "2 GB",
            "About 50k training pairs from UT Zappos50K. A: HED edges, B: "
            "photo; AtoB translates edges to photos.",
        ),
        _info(
            "edges2handbags",
            ("train", "val"),
            "AtoB",
            "8 GB",
            "About 137k Amazon handbag pairs from the iGAN project. A: HED "
            "edges, B: photo; AtoB translates edges to photos.",
        ),
        _info(
            "night2day",
            ("train", "val", "test"),
            "AtoB",
            "2 GB",
            "About 20k pairs of webcam scenes from the Transient Attributes "
            "database. A: night, B: day; AtoB translates night to day.",
        ),
    )
}


def list_datasets():
    """Returns the registry of the official pix2pix datasets.

    Returns:
        A dict, in registry order, mapping each name to its `DatasetInfo`
        (origin URL, splits, conventional direction, approximate size,
        description and published hash, if any).

    Example:
    >>> infos = list_datasets()
    >>> print(", ".join(infos))
    facades, cityscapes, maps, edges2shoes, edges2handbags, night2day
    >>> infos["facades"].splits, infos["facades"].direction
    (('train', 'val', 'test'), 'BtoA')
    >>> infos["maps"].origin
    'http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz'
    """
    return dict(_REGISTRY)


def _lookup(name):
    return lookup(_REGISTRY, name, "pix2pix dataset", "Available datasets")


def _stamp(path):
    stat = os.stat(path)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _file_matches(path, file_hash):
    # Same rule as keras.utils.get_file: 64 hex digits are sha256, else md5.
    hasher = hashlib.sha256() if len(file_hash) == 64 else hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest() == file_hash


def _cached_file(cache_dir, cache_subdir, fname):
    """The path `keras.utils.get_file` writes `fname` to (with its fallback
    to `.keras` in the temporary folder when `cache_dir` is not writable)."""
    base = cache_dir
    if not os.access(base, os.W_OK):
        base = os.path.join(
            "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras"
        )
    return os.path.join(base, cache_subdir, fname)


def _get_file(fname, origin, file_hash, cache_dir, cache_subdir):
    """`keras.utils.get_file`, but a download that does not match
    `file_hash` is deleted before its ValueError is raised again (get_file
    keeps it, and a later call without a hash would use it)."""
    import keras

    try:
        return keras.utils.get_file(
            fname=fname,
            origin=origin,
            file_hash=file_hash,
            cache_subdir=cache_subdir,
            cache_dir=cache_dir,
        )
    except ValueError:
        cached = _cached_file(cache_dir, cache_subdir, fname)
        if (
            file_hash
            and os.path.isfile(cached)
            and not _file_matches(cached, file_hash)
        ):
            os.remove(cached)
        raise


def _cache_root(directory):
    """`directory`, or Keras's default cache root, created if missing."""
    if directory is None:
        directory = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    directory = os.path.expanduser(os.fspath(directory))
    # get_file silently falls back to `.keras` in the temporary folder when
    # `cache_dir` is not writable, which includes "does not exist yet".
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        pass  # unwritable: let get_file fall back as usual
    return directory


def _find_root(extracted, name):
    """The folder holding the split folders inside the extraction folder."""
    for candidate in (os.path.join(extracted, name), extracted):
        if os.path.isdir(candidate) and any(
            os.path.isdir(os.path.join(candidate, s)) for s in ("train", "val", "test")
        ):
            return candidate
    subdirs = [
        d
        for d in sorted(os.listdir(extracted))
        if os.path.isdir(os.path.join(extracted, d))
    ]
    if len(subdirs) == 1:
        return os.path.join(extracted, subdirs[0])
    raise FileNotFoundError(
        f"The {name!r} archive extracted to {extracted!r} has no {name}/ "
        f"folder and no train/val/test folders (it holds {subdirs or 'none'})."
    )


def download(name, *, directory=None, origin=None, file_hash=None):
    """Downloads and extracts one official pix2pix dataset, once.

    The archive is fetched with `keras.utils.get_file` into
    `<directory>/pix2pix/<name>.tar.gz` and extracted next to it, into
    `<name>_extracted/`. Later calls reuse both: nothing is downloaded
    again while the archive is in the cache (and matches `file_hash`, if
    given), and nothing is extracted again while the archive is unchanged.

    Args:
        name: str. One of the names of `list_datasets()`.
        directory: str or `None`. Cache root, as `cache_dir` of
            `keras.utils.get_file`. `None` means `$KERAS_HOME` or `~/.keras`.
            Defaults to `None`.
        origin: str or `None`. URL overriding the registry's (a mirror, a
            local server). Defaults to `None`.
        file_hash: str or `None`. Expected sha256 (64 hex digits) or md5
            (32) of the archive; overrides the registry's. Defaults to
            `None`, which uses the registry's hash (none is published).

    Returns:
        str. The dataset folder holding the split folders.

    Raises:
        ValueError: if `name` is unknown, or the archive does not match the
            hash (the mismatching archive is deleted from the cache).
        FileNotFoundError: if the archive holds no split folders.

    Example:

    ```python
    root = download("facades")  # ~/.keras/pix2pix/facades_extracted/facades
    sorted(os.listdir(root))    # ['test', 'train', 'val']
    ```
    """
    import keras

    info = _lookup(name)
    origin = origin or info.origin
    file_hash = file_hash or info.file_hash
    fname = f"{name}.tar.gz"
    directory = _cache_root(directory)
    try:
        archive = _get_file(fname, origin, file_hash, directory, "pix2pix")
    except ValueError as e:
        raise ValueError(
            f"Could not get the {name!r} dataset from {origin}: {e}"
        ) from e

    marker = archive + _MARKER_SUFFIX
    extracted = None
    if os.path.isfile(marker):
        with open(marker) as f:
            record = json.load(f)
        if record.get("archive") == _stamp(archive) and os.path.isdir(
            record.get("extracted", "")
        ):
            extracted = record["extracted"]
    if extracted is None:
        stale = archive[: -len(".tar.gz")] + "_extracted"
        if os.path.isdir(stale):
            shutil.rmtree(stale)
        # The archive is cached and was verified above, so this call only
        # extracts (safely: get_file skips members outside the folder).
        extracted = keras.utils.get_file(
            fname=fname,
            origin=origin,
            cache_subdir=os.path.dirname(archive),
            extract=True,
        )
        if not os.path.isdir(extracted):
            raise ValueError(
                f"The file downloaded from {origin} for the {name!r} dataset "
                f"({archive!r}) is not a tar archive."
            )
        with open(marker, "w") as f:
            json.dump({"archive": _stamp(archive), "extracted": extracted}, f)
    return _find_root(extracted, name)


def load(
    name,
    *,
    directory=None,
    origin=None,
    file_hash=None,
    splits=None,
    direction=None,
    **kwargs,
):
    """Loads an official pix2pix dataset as one `tf.data.Dataset` per split.

    Downloads and extracts the archive on first use (see `download`), then
    calls `pix2pix_keras.data.load_paired_dataset` on each split folder
    with `layout="ab"`. The `"train"` split gets the training pipeline
    (resize to `load_size`, random crop and flip, shuffling); the others
    are only resized, unless `training` is given in `kwargs`. Datasets
    yield `(source, target)` float32 batches in [-1, 1].

    Args:
        name: str. One of `list_datasets()`: `"facades"`, `"cityscapes"`,
            `"maps"`, `"edges2shoes"`, `"edges2handbags"`, `"night2day"`.
        directory: str or `None`. Cache root for `keras.utils.get_file`;
            files go to `<directory>/pix2pix/`. Defaults to `None`
            (`$KERAS_HOME` or `~/.keras`).
        origin: str or `None`. URL overriding the registry's. Defaults to
            `None`.
        file_hash: str or `None`. Expected sha256 or md5 of the archive.
            Defaults to `None` (the registry's, which publishes none).
        splits: str, sequence of str or `None`. Splits to load. Defaults to
            `None`, all splits of the registry entry.
        direction: `"AtoB"`, `"BtoA"` or `None`. Which half is the source.
            Defaults to `None`, the dataset's conventional direction
            (`list_datasets()[name].direction`).
        **kwargs: passed to `load_paired_dataset` (`batch_size`,
            `image_size`, `seed`, `training`, ...).

    Returns:
        A dict mapping each split name to its `tf.data.Dataset`.

    Raises:
        ValueError: if `name`, `direction` or `splits` is invalid (checked
            before any download), or the archive does not match the hash.
        FileNotFoundError: if a requested split folder is not in the
            archive; the message names the folder.

    Example:

    ```python
    ds = load("facades", splits=("train", "test"), batch_size=1)
    source, target = next(iter(ds["train"]))  # labels, photos: (1, 256, 256, 3)
    ```
    """
    from pix2pix_keras import data

    info = _lookup(name)
    if direction is None:
        direction = info.direction
    if direction not in data.DIRECTIONS:
        raise ValueError(
            f"`direction` must be 'AtoB' or 'BtoA'. Received: direction={direction!r}"
        )
    if splits is None:
        splits = info.splits
    elif isinstance(splits, str):
        splits = (splits,)
    splits = tuple(splits)
    if not splits or not all(isinstance(s, str) and s for s in splits):
        raise ValueError(
            "`splits` must be a split name or a non-empty sequence of them. "
            f"Received: splits={splits!r}"
        )
    root = download(name, directory=directory, origin=origin, file_hash=file_hash)
    folders = {split: os.path.join(root, split) for split in splits}
    for split, folder in folders.items():
        if not os.path.isdir(folder):
            present = sorted(
                d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
            )
            raise FileNotFoundError(
                f"Split {split!r} of the {name!r} dataset not found: no folder "
                f"{folder!r}. The archive has: {', '.join(present) or 'none'}."
            )
    kwargs.setdefault("layout", "ab")
    result = {}
    for split, folder in folders.items():
        options = dict(kwargs)
        options.setdefault("training", split == "train")
        result[split] = data.load_paired_dataset(folder, direction=direction, **options)
    return result

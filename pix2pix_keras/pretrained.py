"""The PyTorch reference's published pix2pix generators, ready to predict.

The authors of pix2pix publish five generators trained with their PyTorch
reference (junyanz/pytorch-CycleGAN-and-pix2pix,
`scripts/download_pix2pix_model.sh`): `models-pytorch/<name>.pth` on the
pix2pix server. `load_pretrained(name)` (and `Pix2Pix.from_preset(name)`)
downloads one with `keras.utils.get_file` (once; cached), converts it with
`convert_pytorch` (once; the converted `.keras` model is cached beside the
download) and returns a `Pix2Pix` ready to `predict`.

All five are the reference's pix2pix defaults: `unet_256`, 64 filters,
batch norm, dropout, 3 channels in and out, 256×256 inputs in [-1, 1].
"""

import dataclasses
import json
import os
import tempfile

from pix2pix_keras import pytorch as pytorch_lib
from pix2pix_keras.datasets import _cache_root
from pix2pix_keras.utils import lookup

__all__ = [
    "BASE_URL",
    "CACHE_SUBDIR",
    "ORIGIN_ENV",
    "PRETRAINED",
    "PretrainedInfo",
    "download_checkpoint",
    "list_pretrained",
    "load_pretrained",
    "pretrained_path",
]

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/"

ORIGIN_ENV = "PIX2PIX_PRETRAINED_URL"
"""Environment variable: a base URL replacing `BASE_URL` (a mirror, or a
local server in tests); `<name>.pth` is appended."""

CACHE_SUBDIR = os.path.join("pix2pix", "pretrained")


@dataclasses.dataclass(frozen=True)
class PretrainedInfo:
    """Registry entry of one published generator.

    Attributes:
        name: str. The reference's model name.
        task: str. What it translates.
        dataset: str. The dataset it was trained on (`pix2pix datasets`).
        direction: str. `"AtoB"` or `"BtoA"` on that dataset.
        image_size: int. Input side in pixels.
        netG: str. The reference's generator (`--netG`).
        ngf: int. Its filters (`--ngf`).
        file_hash: str or `None`. sha256 of the `.pth` file; `None` when
            none is published (then the download is not verified).
    """

    name: str
    task: str
    dataset: str
    direction: str
    image_size: int = 256
    netG: str = "unet_256"
    ngf: int = 64
    file_hash: str = None

    @property
    def origin(self):
        """str: the download URL (`$PIX2PIX_PRETRAINED_URL` if set)."""
        base = os.environ.get(ORIGIN_ENV) or BASE_URL
        return base.rstrip("/") + f"/{self.name}.pth"


# Names, datasets and directions from the reference's
# scripts/download_pix2pix_model.sh and docs. The authors publish no
# checksums for these files, hence `file_hash=None`.
PRETRAINED = {
    info.name: info
    for info in (
        PretrainedInfo(
            "facades_label2photo", "facade label map → photo", "facades", "BtoA"
        ),
        PretrainedInfo("sat2map", "aerial photo → map", "maps", "AtoB"),
        PretrainedInfo("map2sat", "map → aerial photo", "maps", "BtoA"),
        PretrainedInfo("edges2shoes", "edge map → shoe photo", "edges2shoes", "AtoB"),
        PretrainedInfo("day2night", "daytime scene → night", "night2day", "BtoA"),
    )
}


def list_pretrained():
    """The published generators: `{name: PretrainedInfo}`.

    Example:
    >>> sorted(list_pretrained())[:2]
    ['day2night', 'edges2shoes']
    """
    return dict(PRETRAINED)


def _lookup(name):
    return lookup(PRETRAINED, name, "pretrained model")


def _cache_dir(directory):
    directory = _cache_root(directory)
    if not os.access(directory, os.W_OK):  # get_file's own fallback
        directory = os.path.join(tempfile.gettempdir(), ".keras")
    return directory


def _stamp(path):
    stat = os.stat(path)
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def download_checkpoint(name, *, directory=None, origin=None, file_hash=None):
    """Downloads the `.pth` file of a published generator, once.

    Args:
        name: str. A name of `list_pretrained()`.
        directory: str or `None`. Cache root (`cache_dir` of
            `keras.utils.get_file`); `None`: `$KERAS_HOME` or `~/.keras`.
            The file goes to `<directory>/pix2pix/pretrained/<name>.pth`.
            Defaults to `None`.
        origin: str or `None`. URL replacing the registry's. Defaults to
            `None`.
        file_hash: str or `None`. Expected sha256 (or md5) replacing the
            registry's. Defaults to `None`.

    Returns:
        str. The cached `.pth` path.

    Raises:
        ValueError: unknown `name`, a failed download, or a file that does
            not match the hash (the mismatching file is removed from the
            cache).
    """
    info = _lookup(name)
    origin = origin or info.origin
    file_hash = file_hash or info.file_hash
    import keras

    root = _cache_dir(directory)
    cached = os.path.join(root, CACHE_SUBDIR, f"{name}.pth")
    try:
        return keras.utils.get_file(
            fname=f"{name}.pth",
            origin=origin,
            file_hash=file_hash,
            cache_subdir=CACHE_SUBDIR,
            cache_dir=root,
        )
    except Exception as e:  # noqa: BLE001 - re-raised with the name
        # get_file keeps a file that fails the hash check; never let a
        # later call (maybe without a hash) use it.
        if file_hash and os.path.isfile(cached):
            os.remove(cached)
        raise ValueError(
            f"Could not get the pretrained model {name!r} from {origin}: {e}"
        ) from e


def pretrained_path(name, *, directory=None, origin=None, file_hash=None):
    """The converted `.keras` file of a published generator.

    Downloads the checkpoint (`download_checkpoint`) and converts it
    (`convert_pytorch`) unless the cache holds a conversion of the same
    download: `<directory>/pix2pix/pretrained/<name>.keras`.

    Args:
        name: str. A name of `list_pretrained()`.
        directory: str or `None`. Cache root (see `download_checkpoint`).
            Defaults to `None`.
        origin: str or `None`. URL replacing the registry's. Defaults to
            `None`.
        file_hash: str or `None`. Expected sha256 (or md5). Defaults to
            `None`.

    Returns:
        str. Path of the `.keras` model (a `Pix2Pix`).

    Raises:
        ValueError: as `download_checkpoint`, or a download that is not a
            usable checkpoint (`CheckpointError`; it is removed from the
            cache).
    """
    info = _lookup(name)
    checkpoint = download_checkpoint(
        name, directory=directory, origin=origin, file_hash=file_hash
    )
    converted = os.path.splitext(checkpoint)[0] + ".keras"
    marker = converted + ".json"
    record = {
        "checkpoint": _stamp(checkpoint),
        "netG": info.netG,
        "ngf": info.ngf,
        "image_size": info.image_size,
    }
    if os.path.isfile(converted) and os.path.isfile(marker):
        try:
            with open(marker) as f:
                if json.load(f) == record:
                    return converted
        except (OSError, ValueError):
            pass
    try:
        pytorch_lib.convert_pytorch(
            checkpoint,
            converted,
            netG=info.netG,
            ngf=info.ngf,
            image_size=info.image_size,
        )
    except pytorch_lib.CheckpointError as e:
        # A damaged download: remove it, so the next call fetches it again.
        os.remove(checkpoint)
        raise pytorch_lib.CheckpointError(
            f"The download of {name!r} from {info.origin} is not a usable "
            f"checkpoint and was removed from the cache: {e}"
        ) from None
    from pix2pix_keras.utils import atomic_path

    with atomic_path(marker) as tmp:
        with open(tmp, "w") as f:
            json.dump(record, f)
    return converted


def load_pretrained(
    name,
    *,
    inference_statistics="image",
    inference_dropout=False,
    directory=None,
    origin=None,
    file_hash=None,
):
    """A published generator as a `Pix2Pix`, ready to `predict`.

    Downloads, converts and caches on first use (`pretrained_path`); later
    calls load the cached `.keras` file. The discriminator is new and
    untrained (only generators are published).

    The default test-time rule is `inference_statistics="image"` with
    dropout off: batch norm on each image's own statistics, which is the
    reference's `test.py` (training-mode batch norm at batch 1) without its
    dropout noise, so outputs are deterministic. `inference_dropout=True`
    adds the noise (the reference's exact behaviour);
    `inference_statistics="moving"` uses the running statistics (the
    reference's `--eval`). See `docs/pretrained.md`.

    Args:
        name: str. A name of `list_pretrained()`.
        inference_statistics: str. `"image"` or `"moving"`. Defaults to
            `"image"`.
        inference_dropout: bool. Dropout at inference. Defaults to
            `False`.
        directory: str or `None`. Cache root; `None`: `$KERAS_HOME` or
            `~/.keras` (see `download_checkpoint`). Defaults to `None`.
        origin: str or `None`. URL replacing the registry's. Defaults to
            `None`.
        file_hash: str or `None`. Expected sha256 (or md5) of the `.pth`
            file. Defaults to `None` (the registry's; none is published).

    Returns:
        A `Pix2Pix` (not compiled).

    Raises:
        ValueError: unknown `name` (the message lists the valid ones), or
            a failed or mismatching download.
    """
    from pix2pix_keras.models.pix2pix import Pix2Pix

    path = pretrained_path(
        name, directory=directory, origin=origin, file_hash=file_hash
    )
    model = Pix2Pix.load(path, compile=False)
    model.generator.inference_statistics = inference_statistics
    model.generator.inference_dropout = inference_dropout
    return model

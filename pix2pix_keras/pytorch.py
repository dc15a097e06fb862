"""PyTorch-reference checkpoints: a torch-free reader and a converter.

The PyTorch reference of pix2pix (junyanz/pytorch-CycleGAN-and-pix2pix)
saves its generator as a `state_dict` (`latest_net_G.pth`). This module
reads such files without torch, in both of torch's formats:

- the zip format (torch >= 1.6): `<archive>/data.pkl` plus one record per
  storage under `<archive>/data/`;
- the legacy format (torch < 1.6, and `_use_new_zipfile_serialization=
  False`): a magic number, a protocol version, a system-info pickle, the
  object pickle with persistent storage ids, the list of storage keys and
  the raw storages (each an int64 element count and the bytes).

Unpickling is restricted to what a `state_dict` needs (`OrderedDict`,
torch's tensor rebuild functions and storage types); anything else is
refused, so a checkpoint cannot run code when it is read.

`convert_pytorch` maps the reference's generator keys onto the package's
generators built with `pytorch_layout=True` and returns a `Pix2Pix` whose
generator computes the reference's function.
"""

import io
import os
import pickle
import struct
import zipfile

import numpy as np

from pix2pix_keras.utils import check_int

__all__ = [
    "CheckpointError",
    "NET_G",
    "NORMS",
    "build_reference_generator",
    "check_state_dict",
    "convert_pytorch",
    "load_pytorch_checkpoint",
    "load_reference_weights",
    "reference_keys",
]

NET_G = ("unet_256", "unet_128", "resnet_9blocks", "resnet_6blocks")
"""The reference's generator names (`--netG`)."""

NORMS = ("batch", "instance", "none")

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """A file that is not a readable PyTorch checkpoint, or one that does
    not fit the architecture it is converted to. The message names the
    file and what was wrong."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """Raw storage data (filled later in the legacy format)."""

    def __init__(self, storage_type):
        self.dtype = storage_type.dtype
        self.data = None


class _View:
    """A legacy storage view: `size` elements of `root` from `offset`."""

    def __init__(self, root, offset, size):
        self.root, self.offset, self.size = root, offset, size
        self.dtype = root.dtype

    @property
    def data(self):
        return self.root.data[self.offset : self.offset + self.size]


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)

    def array(self):
        flat = self.storage.data
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, flat.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= flat.size:
            raise ValueError("a tensor reaches past the end of its storage")
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.size,
            strides=[s * flat.itemsize for s in self.stride],
            writeable=False,
        )
        return np.array(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *args):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *args):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): None,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    """Unpickles a state_dict with only the globals it needs."""

    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            import collections

            return collections.OrderedDict
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"it refers to `{module}.{name}`, which a state_dict does not "
            "need; refusing to load it (unpickling can run code). Save the "
            "generator's state_dict() (as the reference does) instead of a "
            "whole model object"
        )

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.60}")
        return self._load_storage(pid)


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only (the legacy format's header pickles)."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(
            f"its header refers to `{module}.{name}`; refusing to load it "
            "(unpickling can run code)"
        )


def _plain_load(f):
    return _PlainUnpickler(f).load()


def _byteorder(dtype, little_endian):
    return dtype.newbyteorder("<" if little_endian else ">")


def _read_zip(path, archive):
    names = archive.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pkl:
        raise ValueError("a zip file without data.pkl")
    prefix = pkl[0][: -len("data.pkl")]
    little = True
    if f"{prefix}byteorder" in names:
        little = archive.read(f"{prefix}byteorder").strip() != b"big"
    storages = {}

    def load_storage(pid):
        _, storage_type, key, _location, _numel = pid[:5]
        if key not in storages:
            storage = _Storage(storage_type)
            raw = archive.read(f"{prefix}data/{key}")
            dtype = _byteorder(storage.dtype, little)
            if len(raw) % dtype.itemsize:
                raise ValueError(f"storage {key} has a partial element")
            storage.data = np.frombuffer(raw, dtype).astype(storage.dtype)
            storages[key] = storage
        return storages[key]

    return _Unpickler(io.BytesIO(archive.read(pkl[0])), load_storage).load()


def _read_legacy(f):
    magic = _plain_load(f)
    if magic != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch file (wrong magic number)")
    protocol = _plain_load(f)
    if protocol != _LEGACY_PROTOCOL:
        raise ValueError(f"unsupported legacy protocol version {protocol}")
    sys_info = _plain_load(f)
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    roots = {}

    def load_storage(pid):
        _, storage_type, key, _location, numel, view = (pid + (None,))[:6]
        if key not in roots:
            roots[key] = _Storage(storage_type)
        if view is not None:
            _view_key, offset, size = view
            return _View(roots[key], int(offset), int(size))
        return roots[key]

    obj = _Unpickler(f, load_storage).load()
    keys = _plain_load(f)
    if not isinstance(keys, list):
        raise ValueError("no storage key list after the object")
    for key in keys:
        storage = roots[key]
        header = f.read(8)
        if len(header) != 8:
            raise ValueError("the file ends inside the storages")
        (numel,) = struct.unpack("<q" if little else ">q", header)
        dtype = _byteorder(storage.dtype, little)
        raw = f.read(numel * dtype.itemsize)
        if len(raw) != numel * dtype.itemsize:
            raise ValueError("the file ends inside the storages")
        storage.data = np.frombuffer(raw, dtype).astype(storage.dtype)
    missing = [k for k, s in roots.items() if s.data is None]
    if missing:
        raise ValueError(f"storage {missing[0]} has no data")
    return obj


def _materialize(obj):
    if isinstance(obj, _LazyTensor):
        return obj.array()
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v) for v in obj)
    return obj


def load_pytorch_checkpoint(path):
    """Reads a PyTorch `state_dict` file into numpy arrays, without torch.

    Both of torch's formats are read (zip, torch >= 1.6, and the legacy
    format before it). Unpickling allows only what a state_dict holds; a
    file that refers to anything else (a whole pickled model, arbitrary
    code) is refused. The `module.` prefix of a state_dict saved from
    `torch.nn.DataParallel` is removed.

    Args:
        path: str or path. A `.pth` file holding a `state_dict`.

    Returns:
        dict of `str` → `np.ndarray` in the file's order (torch layout:
        convolutions `(out, in, kh, kw)`).

    Raises:
        FileNotFoundError: no file at `path`.
        CheckpointError: the file is not a readable PyTorch state_dict
            (the message names the file and the reason).

    Example:
    >>> state = load_pytorch_checkpoint(
    ...     "tests/data/pytorch/resnet6_batch.pth")
    >>> state["model.1.weight"].shape
    (2, 3, 7, 7)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No PyTorch checkpoint at {path}.")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                obj = _read_zip(path, archive)
        else:
            with open(path, "rb") as f:
                obj = _read_legacy(io.BytesIO(f.read()))
        obj = _materialize(obj)
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        struct.error,
        zipfile.BadZipFile,
        UnicodeDecodeError,
        MemoryError,
    ) as e:
        reason = str(e) or type(e).__name__
        if isinstance(e, EOFError):
            reason = "the file ends early (truncated?)"
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint: {reason}."
        ) from None
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(
            f"{path} does not hold a state_dict (a mapping of names to "
            f"tensors); it holds a {type(obj).__name__}."
        )
    bad = [
        k
        for k, v in obj.items()
        if not isinstance(k, str) or not isinstance(v, np.ndarray)
    ]
    if bad:
        raise CheckpointError(
            f"{path} does not hold a state_dict: entry {bad[0]!r} is not a tensor."
        )
    if all(k.startswith("module.") for k in obj):  # DataParallel
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return dict(obj)


# ----------------------------------------------------------------------
# the reference's keys


def _unet_plan(depth, ngf, norm, input_nc, output_nc):
    """`[(torch prefix, kind, keras path, torch weight shape, bias)]`."""
    f = [ngf * min(2**k, 8) for k in range(depth)]
    bias = norm == "instance"
    bn = norm == "batch"
    downs = [("model.model.0", "conv", ("down0_conv",), (f[0], input_nc, 4, 4), bias)]
    ups = []  # outermost first
    for k in range(1, depth):
        p = "model.model.1.model." + "3.model." * (k - 1)
        up = depth - 1 - k
        downs.append(
            (p + "1", "conv", (f"down{k}_conv",), (f[k], f[k - 1], 4, 4), bias)
        )
        if k < depth - 1:
            if bn:
                downs.append((p + "2", "bn", (f"down{k}_norm",), (f[k],), 0))
            block = [
                (p + "5", "convT", (f"up{up}_conv",), (2 * f[k], f[k - 1], 4, 4), bias)
            ]
            if bn:
                block.append((p + "6", "bn", (f"up{up}_norm",), (f[k - 1],), 0))
        else:
            block = [
                (p + "3", "convT", (f"up{up}_conv",), (f[k], f[k - 1], 4, 4), bias)
            ]
            if bn:
                block.append((p + "4", "bn", (f"up{up}_norm",), (f[k - 1],), 0))
        ups.append(block)
    # The reference's order: the nested blocks' downs, then their ups from
    # the innermost out.
    plan = downs + [entry for block in reversed(ups) for entry in block]
    plan.append(
        ("model.model.3", "convT", ("output",), (2 * f[0], output_nc, 4, 4), True)
    )
    return plan


def _resnet_plan(n_blocks, ngf, norm, use_dropout, input_nc, output_nc):
    bias = norm == "instance"
    bn = norm == "batch"
    plan = [("model.1", "conv", ("in_conv",), (ngf, input_nc, 7, 7), bias)]
    if bn:
        plan.append(("model.2", "bn", ("in_norm",), (ngf,), 0))
    for i in range(2):
        c = ngf * 2**i
        plan.append(
            (f"model.{4 + 3 * i}", "conv", (f"down{i}_conv",), (2 * c, c, 3, 3), bias)
        )
        if bn:
            plan.append((f"model.{5 + 3 * i}", "bn", (f"down{i}_norm",), (2 * c,), 0))
    c = 4 * ngf
    second = 5 + bool(use_dropout)
    for j in range(n_blocks):
        p = f"model.{10 + j}.conv_block."
        for conv, at in (("1", 1), ("2", second)):
            plan.append(
                (f"{p}{at}", "conv", (f"res{j}", f"conv{conv}"), (c, c, 3, 3), bias)
            )
            if bn:
                plan.append((f"{p}{at + 1}", "bn", (f"res{j}", f"norm{conv}"), (c,), 0))
    u = 10 + n_blocks
    for i in range(2):
        c = ngf * 2 ** (2 - i)
        plan.append(
            (f"model.{u + 3 * i}", "convT", (f"up{i}_conv",), (c, c // 2, 3, 3), bias)
        )
        if bn:
            plan.append(
                (f"model.{u + 1 + 3 * i}", "bn", (f"up{i}_norm",), (c // 2,), 0)
            )
    plan.append((f"model.{u + 7}", "conv", ("output",), (output_nc, ngf, 7, 7), True))
    return plan


def _plan(netG, ngf, norm, use_dropout, input_nc, output_nc):
    if netG.startswith("unet_"):
        depth = {"unet_256": 8, "unet_128": 7}[netG]
        return _unet_plan(depth, ngf, norm, input_nc, output_nc)
    n_blocks = {"resnet_9blocks": 9, "resnet_6blocks": 6}[netG]
    return _resnet_plan(n_blocks, ngf, norm, use_dropout, input_nc, output_nc)


def reference_keys(
    netG="unet_256", ngf=64, norm="batch", no_dropout=False, input_nc=3, output_nc=3
):
    """The state_dict keys and shapes of a reference generator.

    Batch-norm `num_batches_tracked` entries (written by torch >= 0.4.1)
    are left out; the converter accepts checkpoints with or without them.

    Args:
        netG, ngf, norm, no_dropout, input_nc, output_nc: as in
            `convert_pytorch`.

    Returns:
        list of `(key, shape)` in the reference's order.

    Example:
    >>> keys = reference_keys("unet_256")
    >>> keys[0]
    ('model.model.0.weight', (64, 3, 4, 4))
    >>> len(keys)
    69
    """
    _check_args(netG, ngf, norm, input_nc, output_nc)
    keys = []
    for prefix, kind, _, shape, bias in _plan(
        netG, ngf, norm, not no_dropout, input_nc, output_nc
    ):
        if kind == "bn":
            keys += [
                (f"{prefix}.{s}", shape)
                for s in ("weight", "bias", "running_mean", "running_var")
            ]
            continue
        keys.append((f"{prefix}.weight", shape))
        if bias:
            out = shape[0] if kind == "conv" else shape[1]
            keys.append((f"{prefix}.bias", (out,)))
    return keys


def _check_args(netG, ngf, norm, input_nc, output_nc):
    if netG not in NET_G:
        raise ValueError(f"`netG` must be one of {NET_G}. Received: netG={netG!r}")
    if norm not in NORMS:
        raise ValueError(f"`norm` must be one of {NORMS}. Received: norm={norm!r}")
    check_int(ngf=ngf, input_nc=input_nc, output_nc=output_nc)


def _ignored(key, norm):
    """Entries the reference writes but the converted network needs not."""
    if key.endswith(".num_batches_tracked"):
        return True
    # Instance norm saved with track_running_stats=True (reference versions
    # of 2018): the reference's loader drops these before loading.
    return norm == "instance" and key.endswith((".running_mean", ".running_var"))


def _describe(netG, ngf, norm, no_dropout, input_nc, output_nc):
    return (
        f"--netG {netG} --ngf {ngf} --norm {norm}"
        f"{' --no_dropout' if no_dropout else ''} --input_nc {input_nc}"
        f" --output_nc {output_nc}"
    )


def check_state_dict(
    state,
    netG="unet_256",
    ngf=64,
    norm="batch",
    no_dropout=False,
    input_nc=3,
    output_nc=3,
    source=None,
):
    """Raises a `CheckpointError` unless `state` fits the architecture.

    The message names the first missing key, the first unexpected key or
    the first shape that differs, and the architecture it was checked
    against.

    Args:
        state: dict of `str` → array (`load_pytorch_checkpoint`).
        netG, ngf, norm, no_dropout, input_nc, output_nc: as in
            `convert_pytorch`.
        source: str or `None`. The file name for the message.
    """
    expected = reference_keys(netG, ngf, norm, no_dropout, input_nc, output_nc)
    arch = _describe(netG, ngf, norm, no_dropout, input_nc, output_nc)
    where = f"{source} " if source else "The checkpoint "
    names = dict(expected)
    for key, shape in expected:
        if key not in state:
            raise CheckpointError(
                f"{where}does not fit {arch}: missing key {key!r} "
                f"(expected shape {shape})."
            )
        if tuple(state[key].shape) != shape:
            raise CheckpointError(
                f"{where}does not fit {arch}: {key!r} has shape "
                f"{tuple(state[key].shape)}, expected {shape}."
            )
    for key in state:
        if key not in names and not _ignored(key, norm):
            raise CheckpointError(
                f"{where}does not fit {arch}: unexpected key {key!r} "
                f"(shape {tuple(state[key].shape)})."
            )


# ----------------------------------------------------------------------
# conversion


def build_reference_generator(
    netG="unet_256",
    ngf=64,
    norm="batch",
    no_dropout=False,
    input_nc=3,
    output_nc=3,
    image_size=None,
    inference_statistics="image",
    inference_dropout=False,
    name=None,
):
    """The package generator with the reference's architecture (untrained).

    `unet_*` gives a `UNetGenerator` and `resnet_*` a `ResnetGenerator`,
    both with `pytorch_layout=True` (the reference's exact layout).

    Args:
        netG, ngf, norm, no_dropout, input_nc, output_nc: as in
            `convert_pytorch`.
        image_size: int, `(height, width)` or `None` (256, or 128 for
            `unet_128`). A U-Net needs multiples of 256 (`unet_256`) or
            128 (`unet_128`); a ResNet multiples of 4.
        inference_statistics, inference_dropout, name: as in
            `convert_pytorch`.

    Returns:
        A `UNetGenerator` or `ResnetGenerator`.
    """
    from pix2pix_keras.models.generator import UNetGenerator
    from pix2pix_keras.models.resnet import ResnetGenerator

    _check_args(netG, ngf, norm, input_nc, output_nc)
    # The arguments both architectures take alike.
    common = dict(
        in_channels=input_nc,
        out_channels=output_nc,
        filters=ngf,
        norm=norm,
        dropout=0.0 if no_dropout else 0.5,
        pytorch_layout=True,
        inference_statistics=inference_statistics,
        inference_dropout=inference_dropout,
    )
    if netG.startswith("unet_"):
        depth = {"unet_256": 8, "unet_128": 7}[netG]
        return UNetGenerator(
            image_size=2**depth if image_size is None else image_size,
            depth=depth,
            max_filters=8 * ngf,
            num_dropout=max(depth - 5, 0),
            name=name or "generator",
            **common,
        )
    return ResnetGenerator(
        image_size=256 if image_size is None else image_size,
        n_blocks={"resnet_9blocks": 9, "resnet_6blocks": 6}[netG],
        n_downsampling=2,
        name=name or "resnet_generator",
        **common,
    )


def _keras_layer(generator, path):
    layer = generator.get_layer(f"{generator.name}_{path[0]}")
    for attr in path[1:]:
        layer = getattr(layer, attr)
    return layer


def load_reference_weights(
    generator,
    state,
    netG="unet_256",
    ngf=64,
    norm="batch",
    no_dropout=False,
    input_nc=3,
    output_nc=3,
    source=None,
):
    """Assigns a reference state_dict to a `build_reference_generator`
    network, layer by layer (after `check_state_dict`).

    Torch convolutions `(out, in, kh, kw)` become Keras `(kh, kw, in,
    out)`, transposed convolutions `(in, out, kh, kw)` Keras
    `(kh, kw, out, in)` (no spatial flip: both are cross-correlations and
    their transposes). Batch norm's `running_mean` / `running_var` become
    the moving statistics. A bias the reference does not have is set to 0.
    """
    check_state_dict(state, netG, ngf, norm, no_dropout, input_nc, output_nc, source)
    for prefix, kind, path, _shape, bias in _plan(
        netG, ngf, norm, not no_dropout, input_nc, output_nc
    ):
        layer = _keras_layer(generator, path)
        if kind == "bn":
            for attr, key in (
                ("gamma", "weight"),
                ("beta", "bias"),
                ("moving_mean", "running_mean"),
                ("moving_variance", "running_var"),
            ):
                getattr(layer, attr).assign(state[f"{prefix}.{key}"].astype("float32"))
            continue
        kernel = state[f"{prefix}.weight"].astype("float32")
        layer.kernel.assign(kernel.transpose(2, 3, 1, 0))
        if layer.bias is not None:
            value = (
                state[f"{prefix}.bias"].astype("float32")
                if bias
                else np.zeros(layer.bias.shape, "float32")
            )
            layer.bias.assign(value)
    return generator


def convert_pytorch(
    checkpoint,
    output=None,
    *,
    netG="unet_256",
    ngf=64,
    norm="batch",
    no_dropout=False,
    input_nc=3,
    output_nc=3,
    image_size=None,
    inference_statistics="image",
    inference_dropout=False,
):
    """Converts a PyTorch-reference generator checkpoint to a `Pix2Pix`.

    Reads the state_dict (`load_pytorch_checkpoint`, no torch needed),
    checks it against the architecture, builds the generator with the
    reference's exact layout (`pytorch_layout=True`) and assigns the
    weights. The result is a `Pix2Pix` whose generator computes the
    reference's outputs (within float32 rounding) and whose discriminator
    is new and untrained (the reference publishes generators only), so it
    can be fine-tuned, and `predict()`, `export()`, `pix2pix predict` and
    `pix2pix serve` accept it.

    The arguments carry the names and defaults of the reference's options
    (its pix2pix defaults): `--netG unet_256 --ngf 64 --norm batch` with
    dropout, 3 channels in and out.

    Test-time behaviour: the reference's `test.py` runs the generator in
    training mode (batch norm on the statistics of the test image, the
    paper's rule, and dropout on). `inference_statistics="image"` (the
    default) normalizes each image with its own statistics, which at
    batch 1 is exactly the reference's batch norm; `"moving"` uses the
    checkpoint's running statistics (the reference's `--eval`).
    `inference_dropout=True` adds the reference's dropout noise (random
    outputs); the default is deterministic. See `docs/pretrained.md`.

    Args:
        checkpoint: str or path. The reference's `.pth` generator file
            (e.g. `latest_net_G.pth`).
        output: str, path or `None`. Where to save the `.keras` model
            (atomically); `None` saves nothing. Defaults to `None`.
        netG: str. `"unet_256"`, `"unet_128"`, `"resnet_9blocks"` or
            `"resnet_6blocks"`. Defaults to `"unet_256"`.
        ngf: int. Filters of the first layer. Defaults to `64`.
        norm: str. `"batch"`, `"instance"` or `"none"`. Defaults to
            `"batch"`.
        no_dropout: bool. The checkpoint was trained with `--no_dropout`
            (changes the ResNet's keys). Defaults to `False`.
        input_nc: int. Input channels. Defaults to `3`.
        output_nc: int. Output channels. Defaults to `3`.
        image_size: int, `(height, width)` or `None`. Size the model is
            built for; `None`: 256 (128 for `unet_128`). Defaults to
            `None`.
        inference_statistics: str. `"image"` or `"moving"` (see above).
            Defaults to `"image"`.
        inference_dropout: bool. Dropout at inference (see above).
            Defaults to `False`.

    Returns:
        A `Pix2Pix` (not compiled).

    Raises:
        FileNotFoundError: no checkpoint file.
        CheckpointError: the file is not a readable checkpoint, or it does
            not fit the architecture (the first missing or unexpected key,
            or the first shape that differs).

    Example:
    >>> model = convert_pytorch("tests/data/pytorch/resnet6_batch.pth",
    ...                         netG="resnet_6blocks", ngf=2, image_size=32)
    >>> tuple(model.generator.output_shape)
    (None, 32, 32, 3)
    """
    from pix2pix_keras.models.pix2pix import Pix2Pix

    _check_args(netG, ngf, norm, input_nc, output_nc)
    state = load_pytorch_checkpoint(checkpoint)
    source = os.fspath(checkpoint)
    check_state_dict(state, netG, ngf, norm, no_dropout, input_nc, output_nc, source)
    generator = build_reference_generator(
        netG,
        ngf,
        norm,
        no_dropout,
        input_nc,
        output_nc,
        image_size,
        inference_statistics,
        inference_dropout,
    )
    load_reference_weights(
        generator, state, netG, ngf, norm, no_dropout, input_nc, output_nc, source
    )
    h, w = generator.inputs[0].shape[1:3]
    model = Pix2Pix(
        generator=generator,
        image_size=(h, w),
        in_channels=input_nc,
        out_channels=output_nc,
    )
    if output is not None:
        model.save(output)
    return model

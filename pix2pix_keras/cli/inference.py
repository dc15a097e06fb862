"""`pix2pix evaluate`, `predict`, `export`, `serve` and
`convert-pytorch`: the commands that load a model."""

import contextlib
import fnmatch
import json
import os
import sys

import keras
import numpy as np
from PIL import Image

import pix2pix_keras as pk
from pix2pix_keras import pytorch as pytorch_lib
from pix2pix_keras import tiling as tiling_lib
from pix2pix_keras.cli.common import EXIT_OK
from pix2pix_keras.cli.common import IMAGE_EXTENSIONS
from pix2pix_keras.cli.common import PROG
from pix2pix_keras.cli.common import Failure
from pix2pix_keras.cli.common import UsageError
from pix2pix_keras.cli.common import check_flag
from pix2pix_keras.cli.common import say
from pix2pix_keras.cli.config import read_config_file
from pix2pix_keras.data import inspect_image
from pix2pix_keras.models.saving import check_export_format
from pix2pix_keras.runs import CONFIG_FILE
from pix2pix_keras.runs import is_pretrained_name
from pix2pix_keras.runs import load_model
from pix2pix_keras.runs import model_path
from pix2pix_keras.runs import model_size
from pix2pix_keras.runs import pretrained_file
from pix2pix_keras.utils import atomic_path

__all__ = [
    "cmd_convert_pytorch",
    "cmd_evaluate",
    "cmd_export",
    "cmd_predict",
    "cmd_serve",
    "model_size",
]


def _flags(args, *names):
    """The parsed flags `names` of `args`, as keyword arguments."""
    return {name: getattr(args, name) for name in names}


def _run_config(run_dir):
    if run_dir is None:
        return {}
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        return {}
    return read_config_file(path)


def cmd_evaluate(args):
    check_flag("--batch-size", args.batch_size)
    file, run_dir = model_path(args.model)
    run = _run_config(run_dir)
    data = args.data or run.get("val")
    if data is None:
        raise UsageError(
            "evaluate needs a data folder: pass DATA (a run folder without "
            "`val` has no default)"
        )
    if not os.path.isdir(data):
        raise UsageError(f"no such data folder: {data}")
    model = pk.Pix2Pix.load(file)
    h, w, c_in, c_out = model_size(model)
    dataset = pk.load_paired_dataset(
        data,
        layout=args.layout or run.get("layout", "auto"),
        direction=args.direction or run.get("direction", "AtoB"),
        image_size=(h, w),
        in_channels=c_in,
        out_channels=c_out,
        training=False,
        batch_size=args.batch_size,
    )
    total = int(dataset.cardinality())
    # The progress bar goes to stderr: stdout is the JSON report.
    with contextlib.redirect_stdout(sys.stderr):
        bar = keras.utils.Progbar(
            total if total > 0 else None, verbose=args.verbose, unit_name="batch"
        )

        def batches():
            for batch in dataset:
                yield batch
                bar.add(1)

        report = pk.evaluate(
            model,
            batches(),
            metrics=args.metrics,
            output_dir=args.output,
            feature_extractor=args.fid_network,
        )
    report = {"model": file, "data": os.path.abspath(data), **report}
    print(json.dumps(report, indent=2))
    return EXIT_OK


def _resample(name):
    return getattr(Image.Resampling, name.upper())


def _input_files(path, pattern):
    if os.path.isfile(path):
        return [os.path.abspath(path)]
    if not os.path.isdir(path):
        raise UsageError(f"no such image or folder: {path}")
    files = sorted(
        os.path.join(path, f)
        for f in os.listdir(path)
        if f.lower().endswith(IMAGE_EXTENSIONS)
        and fnmatch.fnmatch(f, pattern)
        and os.path.isfile(os.path.join(path, f))
    )
    if not files:
        raise UsageError(
            f"{path} has no images ({', '.join(IMAGE_EXTENSIONS)}) matching {pattern!r}"
        )
    stems = {}
    for f in files:
        stems.setdefault(os.path.splitext(os.path.basename(f))[0], []).append(f)
    clashes = {s: fs for s, fs in stems.items() if len(fs) > 1}
    if clashes:
        stem, fs = sorted(clashes.items())[0]
        raise UsageError(
            f"{len(clashes)} output name(s) would be written twice, e.g. "
            f"{stem}.png from {', '.join(os.path.basename(f) for f in fs)}: "
            "select one kind with --glob (e.g. --glob '*.png')"
        )
    return files


def _read_image(path, channels):
    """Reads an image as uint8 `(h, w, channels)`; errors name the file."""
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    try:
        with Image.open(path) as im:
            image = np.asarray(im.convert(mode))
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{path}: cannot decode the image ({e})") from None
    return image.reshape(image.shape[0], image.shape[1], channels)


def _tiling_args(args, model):
    """`(generator, tile_size, overlap)` for --tile, checked, or `None`.

    The generator is built at the tile size once (same weights), not for
    every image.
    """
    if not args.tile:
        for flag, value in (
            ("--tile-size", args.tile_size),
            ("--overlap", args.overlap),
        ):
            if value is not None:
                raise UsageError(f"{flag} needs --tile")
        return None
    h, w = model_size(model)[:2]
    check_flag("--tile-size", args.tile_size)
    tile = (h, w) if args.tile_size is None else (args.tile_size,) * 2
    overlap = (tile[0] // 4, tile[1] // 4) if args.overlap is None else args.overlap
    try:
        pk.tile_layout(
            *tile,
            tile,
            overlap=overlap,
            align=tiling_lib._default_align(model.generator),
        )
        generator = tiling_lib._at_size(model.generator, tile)
    except ValueError as e:
        raise UsageError(f"--tile: {e}") from None
    return generator, tile, overlap


def cmd_predict(args):
    check_flag("--batch-size", args.batch_size)
    model_file, _ = model_path(args.model)
    files = _input_files(args.input, args.glob)
    model = pk.Pix2Pix.load(model_file)
    h, w, c_in, c_out = model_size(model)
    if c_in not in (1, 3, 4) or c_out not in (1, 3, 4):
        raise UsageError(
            f"the model maps {c_in} to {c_out} channels; predict reads and "
            "writes 1, 3 or 4 channel images"
        )
    tiling = _tiling_args(args, model)
    out_dir = os.path.abspath(args.output)
    os.makedirs(out_dir, exist_ok=True)
    targets = [
        os.path.join(out_dir, os.path.splitext(os.path.basename(f))[0] + ".png")
        for f in files
    ]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not args.overwrite:
        raise UsageError(
            f"{len(existing)} output file(s) exist already, e.g. "
            f"{existing[0]}: pass --overwrite to replace them"
        )
    # Quick header checks first, so a bad file stops the run before any
    # output is written.
    bad = []
    for f in files:
        try:
            inspect_image(f)
        except (ValueError, OSError) as e:
            bad.append((f, str(e)))
    if bad and not args.skip_bad:
        lines = "\n  ".join(message for _, message in bad)
        raise Failure(
            f"{len(bad)} unreadable image(s); nothing was written "
            f"(--skip-bad skips them):\n  {lines}"
        )
    skip = {f for f, _ in bad}
    todo = [(f, t) for f, t in zip(files, targets) if f not in skip]
    bar = keras.utils.Progbar(len(todo), verbose=args.verbose, unit_name="image")
    written = 0
    # With --tile, one image at a time (any size), `batch_size` tiles per
    # model call.
    step = 1 if tiling else args.batch_size
    for start in range(0, len(todo), step):
        chunk, batch, sizes = [], [], []
        for f, t in todo[start : start + step]:
            try:
                image = _read_image(f, c_in)
            except (ValueError, OSError) as e:
                if not args.skip_bad:
                    raise Failure(
                        f"{e}; {written} of {len(todo)} image(s) were "
                        f"written to {out_dir}"
                    ) from None
                bad.append((f, str(e)))
                bar.add(1)
                continue
            sizes.append((image.shape[1], image.shape[0]))
            if tiling:
                batch.append(image.astype("float32") / 127.5 - 1.0)
                chunk.append(t)
                continue
            small = Image.fromarray(image.squeeze(-1) if c_in == 1 else image)
            small = small.resize((w, h), _resample(args.resample_in))
            small = np.asarray(small, "float32").reshape(h, w, c_in)
            batch.append(small / 127.5 - 1.0)
            chunk.append(t)
        if not batch:
            continue
        if tiling:
            generator, tile, overlap = tiling
            fake = pk.translate_tiled(
                generator,
                batch[0],
                tile_size=tile,
                overlap=overlap,
                batch_size=args.batch_size,
            )[None]
        else:
            fake = np.asarray(model.predict_on_batch(np.stack(batch)))
        fake = np.clip(np.round((fake + 1.0) * 127.5), 0, 255).astype("uint8")
        for image, size, target in zip(fake, sizes, chunk):
            out = Image.fromarray(image.squeeze(-1) if c_out == 1 else image)
            if out.size != size:
                out = out.resize(size, _resample(args.resample_out))
            with atomic_path(target, suffix=".png") as tmp:
                out.save(tmp, format="PNG")
            written += 1
            bar.add(1)
    if bad:
        lines = "\n  ".join(message for _, message in bad)
        print(
            f"{PROG} predict: skipped {len(bad)} unreadable image(s):\n  {lines}",
            file=sys.stderr,
        )
    say(args, f"Wrote {written} image(s) to {out_dir}")
    return EXIT_OK


# `--format` names and Keras's `export(format=...)` names.
_EXPORT_FORMATS = {"savedmodel": "tf_saved_model", "onnx": "onnx", "litert": "litert"}


def cmd_export(args):
    out = os.path.abspath(args.output)
    format = _EXPORT_FORMATS[args.format]
    if format == "litert" and not out.endswith(".tflite"):
        raise UsageError(
            f"--format litert writes a .tflite file: OUTPUT must end in "
            f".tflite, not {args.output}"
        )
    if os.path.exists(out) and not args.overwrite:
        raise UsageError(f"{out} exists: pass --overwrite to replace it")
    if format != "tf_saved_model" and os.path.isdir(out):
        raise UsageError(f"{out} is a folder; --format {args.format} writes a file")
    try:
        check_export_format(format)
    except ImportError as e:
        raise UsageError(str(e)) from None
    model, _ = load_model(args.model)
    try:
        path = model.export(out, format=format)
    except ValueError as e:  # e.g. BicycleGAN, inference dropout
        raise UsageError(str(e)) from None
    if format == "tf_saved_model":
        print(f"Exported the generator to {path} (endpoints: serve, serving_default)")
    else:
        name = "ONNX" if format == "onnx" else "LiteRT"
        print(f"Exported the generator to {path} ({name}; output: output_0)")
    return EXIT_OK


def cmd_serve(args):
    from pix2pix_keras import serve as serve_lib

    check_flag("--port", args.port, 0, 65535)
    if args.host not in serve_lib.LOOPBACK and not args.allow_remote:
        raise UsageError(
            f"--host {args.host} is not a loopback address and the page has "
            "no login: pass --allow-remote to serve it to the network"
        )
    check_flag("--image-size", args.image_size)
    if args.palette not in ("facades", "none") and not os.path.isfile(args.palette):
        raise UsageError(f"--palette: no such file: {args.palette}")
    if is_pretrained_name(args.model):
        model = pretrained_file(args.model)
    else:
        model = os.path.abspath(args.model)
    if not os.path.exists(model):
        raise UsageError(f"no such model file or folder: {model}")
    try:
        serve_lib.serve(
            model,
            **_flags(args, "host", "port", "allow_remote", "image_size", "palette"),
        )
    except OSError as e:
        raise Failure(str(e)) from None
    return EXIT_OK


# ----------------------------------------------------------------------
# pretrained models


def cmd_convert_pytorch(args):
    out = os.path.abspath(args.output)
    if not out.endswith(".keras"):
        raise UsageError(f"OUTPUT must end in .keras, not {args.output}")
    if os.path.exists(out) and not args.overwrite:
        raise UsageError(f"{out} exists: pass --overwrite to replace it")
    for flag in ("ngf", "input_nc", "output_nc", "image_size"):
        check_flag(f"--{flag}", getattr(args, flag))
    if not os.path.isfile(args.checkpoint):
        raise UsageError(f"no such checkpoint file: {args.checkpoint}")
    try:
        model = pytorch_lib.convert_pytorch(
            args.checkpoint,
            out,
            **_flags(
                args,
                "netG",
                "ngf",
                "norm",
                "no_dropout",
                "input_nc",
                "output_nc",
                "image_size",
                "inference_statistics",
            ),
        )
    except pytorch_lib.CheckpointError as e:
        raise Failure(str(e)) from None
    except ValueError as e:  # e.g. an image size the U-Net cannot take
        raise UsageError(str(e)) from None
    h, w, c_in, c_out = model_size(model)
    print(
        f"Wrote {out}: {args.netG} generator, {h}x{w}, {c_in} -> {c_out} "
        f"channels, {model.generator.count_params():,} parameters"
    )
    return EXIT_OK

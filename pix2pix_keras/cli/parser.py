"""The `argparse` parser of `pix2pix` and its subcommands.

Each subcommand's `func` default names its implementation as
`"module:function"` in `pix2pix_keras.cli`; `main` imports it when the
command runs, so `pix2pix --help`, `--version`, `presets` and `datasets
list` start without TensorFlow.
"""

import argparse

from pix2pix_keras import __version__
from pix2pix_keras import pytorch as pytorch_lib
from pix2pix_keras.cli.common import PROG
from pix2pix_keras.cli.config import TRAIN_OPTIONS

__all__ = ["build_parser"]


def _nullable(convert):
    def parse(text):
        if text.lower() in ("none", "null"):
            return None
        return convert(text)

    parse.__name__ = convert.__name__
    return parse


def _add_option(group, option):
    kwargs = dict(dest=option.name, default=argparse.SUPPRESS)
    default = "null" if option.default is None else option.default
    if isinstance(default, bool):
        default = str(default).lower()
    help_text = f"{option.help} (default: {default})"
    if option.kind == "bool":
        group.add_argument(
            option.flag, action=argparse.BooleanOptionalAction, help=help_text, **kwargs
        )
        return
    convert = {"int": int, "float": float}.get(option.kind, str)
    if option.kind == "choice":
        convert = type(option.choices[0])
        kwargs["choices"] = option.choices
    if option.kind == "size":
        kwargs["nargs"] = "+"
        kwargs["metavar"] = "N"
        convert = int
    if option.kind in ("int", "float"):
        kwargs["metavar"] = "X" if option.kind == "float" else "N"
    if option.kind == "path":
        kwargs["metavar"] = "PATH"
    if option.nullable:
        convert = _nullable(convert)
    group.add_argument(option.flag, type=convert, help=help_text, **kwargs)


def _verbose(two):
    return (
        "--verbose",
        dict(
            type=int,
            choices=(0, 1, 2),
            default=1,
            help=f"0: silent, 1: progress bar, 2: {two} (default: 1)",
        ),
    )


def _number(default, help_text):
    return dict(type=int, default=default, metavar="N", help=help_text)


def _switch(help_text):
    return dict(action="store_true", help=help_text)


def _command(sub, name, func, arguments=(), **kwargs):
    """Adds subcommand `name` running `func`, with `(flag, keywords)` rows."""
    command = sub.add_parser(name, **kwargs)
    for flag, keywords in arguments:
        command.add_argument(flag, **keywords)
    command.set_defaults(func=func)
    return command


_MODEL = (
    "model",
    dict(
        metavar="MODEL",
        help="a .keras file, a run folder or a pretrained name (see 'pix2pix presets')",
    ),
)
_OVERWRITE = ("--overwrite", _switch("replace an existing OUTPUT"))
_JSON = ("--json", _switch("print the registry as JSON"))
_DOWNLOAD = (
    (
        "name",
        dict(metavar="NAME", help="dataset name (see 'pix2pix datasets list')"),
    ),
    ("--directory", dict(metavar="DIR", help="cache root")),
    (
        "--origin",
        dict(metavar="URL", help="download from URL instead (a mirror)"),
    ),
    (
        "--file-hash",
        dict(metavar="HASH", help="expected sha256 or md5 of the archive"),
    ),
)
_RESAMPLE = ("nearest", "bilinear", "bicubic")
#: The argument groups of `train`, each from its first key on:
#: `TRAIN_OPTIONS` lists the keys group by group.
_TRAIN_GROUPS = (
    ("data", "data"),
    ("model", "generator"),
    ("training", "epochs"),
    ("outputs", "output"),
)


def _add_train_options(train):
    firsts = {first: train.add_argument_group(title) for title, first in _TRAIN_GROUPS}
    group = None
    for option in TRAIN_OPTIONS:
        group = firsts.get(option.name, group)
        _add_option(group, option)


def build_parser():
    """The `argparse` parser of `pix2pix` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Pix2Pix paired image-to-image translation: train, "
        "evaluate, translate images, export for serving, fetch the "
        "official datasets.",
        epilog="Run 'pix2pix COMMAND --help' for the options of a command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        help="print the full traceback of a runtime failure",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = _command(
        sub,
        "train",
        "train:cmd_train",
        (
            (
                "--config",
                dict(
                    metavar="FILE",
                    help="JSON or YAML file of configuration keys (the flags' "
                    "names with underscores); flags override it",
                ),
            ),
            (
                "--resume",
                dict(
                    metavar="RUN_DIR",
                    help="continue the run in RUN_DIR from its last checkpoint "
                    "(raise its total with --epochs)",
                ),
            ),
            _verbose("one line per epoch"),
        ),
        help="train a model; writes a run folder",
        description="Train Pix2Pix. Values come from the defaults, then "
        "--config FILE (JSON or YAML), then the flags below. The run "
        "folder gets config.json, metrics.csv, training_curves.png, "
        "samples/, checkpoints/, tensorboard/ and model.keras.",
    )
    _add_train_options(train)

    _command(
        sub,
        "evaluate",
        "inference:cmd_evaluate",
        (
            (
                "model",
                dict(
                    metavar="MODEL",
                    help="a .keras file or a run folder (its model.keras, or "
                    "its last checkpoint)",
                ),
            ),
            (
                "data",
                dict(
                    metavar="DATA",
                    nargs="?",
                    help="data folder (default: the run's `val`)",
                ),
            ),
            (
                "--direction",
                dict(choices=("AtoB", "BtoA"), help="default: the run's, else AtoB"),
            ),
            (
                "--layout",
                dict(
                    choices=("auto", "ab", "folders", "stems"),
                    help="default: the run's, else auto",
                ),
            ),
            (
                "--metrics",
                dict(
                    nargs="+",
                    default=["l1", "psnr", "ssim"],
                    choices=("l1", "psnr", "ssim", "fid", "kid"),
                    help="default: l1 psnr ssim (fid and kid download their "
                    "network once)",
                ),
            ),
            (
                "--fid-network",
                dict(
                    default="fid_inception_2015",
                    choices=(
                        "fid_inception_2015",
                        "keras_inception_v3",
                        "random_inception_v3",
                    ),
                    help="features of fid and kid: fid_inception_2015, the "
                    "2015 Inception graph of the original FID code (numbers "
                    "comparable with published FIDs; 89 MB download), "
                    "keras_inception_v3, Keras's ImageNet InceptionV3 of "
                    "earlier releases, or random_inception_v3, fixed random "
                    "weights (no download; for comparing runs with each "
                    "other only) (default: fid_inception_2015)",
                ),
            ),
            ("--batch-size", _number(1, "default: 1")),
            (
                "--output",
                dict(
                    metavar="DIR",
                    help="also write DIR/report.json and DIR/best_worst.png",
                ),
            ),
            _verbose("one line at the end"),
        ),
        help="score a model on a data folder",
        description="Translate every pair of DATA and compare with the "
        "target: L1, PSNR and SSIM (and FID / KID). Prints the report as "
        "JSON.",
    )

    _command(
        sub,
        "predict",
        "inference:cmd_predict",
        (
            _MODEL,
            ("input", dict(metavar="INPUT", help="an image file or a folder")),
            ("output", dict(metavar="OUTPUT_DIR", help="output folder (created)")),
            (
                "--glob",
                dict(
                    default="*",
                    metavar="PATTERN",
                    help="only the images of a folder matching PATTERN, e.g. "
                    "'*.png' (default: all images)",
                ),
            ),
            (
                "--batch-size",
                _number(8, "images (tiles with --tile) per model call (default: 8)"),
            ),
            (
                "--tile",
                _switch(
                    "no resizing: translate each image at its own size by "
                    "overlapping tiles with blended seams (pk.translate_tiled)"
                ),
            ),
            (
                "--tile-size",
                _number(None, "with --tile: N×N tiles (default: the model's size)"),
            ),
            (
                "--overlap",
                _number(
                    None,
                    "with --tile: overlap of neighbouring tiles in pixels "
                    "(default: a quarter of the tile)",
                ),
            ),
            (
                "--resample-in",
                dict(
                    default="nearest",
                    choices=_RESAMPLE,
                    help="resizing to the model's size (default: nearest, as "
                    "in training)",
                ),
            ),
            (
                "--resample-out",
                dict(
                    default="bicubic",
                    choices=_RESAMPLE,
                    help="resizing back to the input's size (default: bicubic)",
                ),
            ),
            (
                "--skip-bad",
                _switch(
                    "skip unreadable images (listed at the end) instead of "
                    "stopping with exit code 1"
                ),
            ),
            ("--overwrite", _switch("replace existing output files")),
            _verbose("one line at the end"),
        ),
        help="translate an image or a folder of images",
        description="Translate INPUT (an image, or every .jpg/.jpeg/.png/"
        ".bmp image of a folder) and write OUTPUT_DIR/<name>.png for each. "
        "Images are resized to the model's size, translated, and resized "
        "back to their own size; with --tile they are translated at their "
        "own size by overlapping tiles.",
    )

    _command(
        sub,
        "export",
        "inference:cmd_export",
        (
            _MODEL,
            (
                "output",
                dict(
                    metavar="OUTPUT",
                    help="SavedModel folder, or ONNX / .tflite file to write",
                ),
            ),
            (
                "--format",
                dict(
                    choices=("savedmodel", "onnx", "litert"),
                    default="savedmodel",
                    help="what to write (default: savedmodel)",
                ),
            ),
            _OVERWRITE,
        ),
        help="export the generator: SavedModel, ONNX or LiteRT",
        description="Write the generator of MODEL for serving. The input is "
        "float32 `image` (batch, height, width, channels) in [-1, 1] with "
        "free batch, height and width; the output is what `predict` "
        "computes. --format savedmodel (default): a TensorFlow SavedModel "
        "folder with the endpoints `serve` and `serving_default`. onnx: an "
        'ONNX file (needs pip install "pix2pix-keras[onnx]"). litert: a '
        "LiteRT (TensorFlow Lite) file ending in .tflite (run it with "
        'pip install "pix2pix-keras[litert]").',
    )

    _command(
        sub,
        "serve",
        "inference:cmd_serve",
        (
            (
                "--model",
                dict(
                    required=True,
                    metavar="PATH",
                    help="a .keras file, a run folder, a SavedModel folder from "
                    "'pix2pix export', or a pretrained name (see 'pix2pix "
                    "presets')",
                ),
            ),
            (
                "--host",
                dict(
                    default="127.0.0.1",
                    help="address to listen on (default: 127.0.0.1)",
                ),
            ),
            ("--port", _number(7860, "port (default: 7860; 0: a free port)")),
            (
                "--allow-remote",
                _switch("allow a non-loopback --host (the page has no login)"),
            ),
            (
                "--palette",
                dict(
                    default="facades",
                    metavar="NAME_OR_FILE",
                    help="drawing colours: 'facades' (the 12 CMP classes, "
                    "default), 'none' (a free colour picker) or an 'id name r "
                    "g b' file",
                ),
            ),
            (
                "--image-size",
                _number(
                    None,
                    "resolution of a SavedModel (default: 256); a .keras model "
                    "uses its own",
                ),
            ),
        ),
        help="a local web page: upload or draw, see the result",
        description="Load MODEL once and serve a page on http://HOST:PORT/ "
        "to upload an image or draw a label map (pen, eraser, palette), "
        "and see input | output side by side with the inference time and "
        "a download link. Images are resized to the model's size and "
        "back, as in predict. See docs/serve.md.",
    )

    _command(
        sub,
        "convert-pytorch",
        "inference:cmd_convert_pytorch",
        (
            (
                "checkpoint",
                dict(metavar="CHECKPOINT", help="the reference's .pth generator file"),
            ),
            ("output", dict(metavar="OUTPUT", help="the .keras file to write")),
            (
                "--netG",
                dict(
                    default="unet_256",
                    choices=pytorch_lib.NET_G,
                    help="generator architecture (default: unet_256)",
                ),
            ),
            ("--ngf", _number(64, "filters of the first layer (default: 64)")),
            (
                "--norm",
                dict(
                    default="batch",
                    choices=pytorch_lib.NORMS,
                    help="normalization (default: batch)",
                ),
            ),
            ("--no_dropout", _switch("the checkpoint was trained with --no_dropout")),
            ("--input_nc", _number(3, "input channels (default: 3)")),
            ("--output_nc", _number(3, "output channels (default: 3)")),
            (
                "--image-size",
                _number(
                    None,
                    "build the model for N×N images (default: 256; 128 for unet_128)",
                ),
            ),
            (
                "--inference-statistics",
                dict(
                    default="image",
                    choices=("image", "moving"),
                    help="batch norm at inference: each image's own statistics "
                    "(the reference's test.py; default) or the running "
                    "statistics (its --eval)",
                ),
            ),
            _OVERWRITE,
        ),
        help="convert a PyTorch-reference generator checkpoint to .keras",
        description="Convert CHECKPOINT (a generator state_dict of the "
        "PyTorch reference junyanz/pytorch-CycleGAN-and-pix2pix, e.g. "
        "latest_net_G.pth; torch is not needed) to OUTPUT, a Pix2Pix "
        ".keras model with the converted generator and a new "
        "discriminator, for predict, export and serve. The options are the "
        "reference's, with its pix2pix defaults; a checkpoint that does "
        "not fit them is refused with the first key or shape that "
        "differs. See docs/pretrained.md.",
    )

    from pix2pix_keras import demo as demo_lib

    demo = _command(
        sub,
        "demo",
        demo_lib.report,
        help="train for a few minutes on the bundled facades sample",
        description=demo_lib.DESCRIPTION + " An earlier demo in the same "
        "folder is replaced.",
    )
    demo_lib.add_arguments(demo)

    _command(
        sub,
        "presets",
        "listing:cmd_presets",
        (_JSON,),
        help="list the pretrained models",
        description="The PyTorch reference's published pix2pix generators. "
        "Predict, export and serve take their names as MODEL; the first "
        "use downloads and converts one (cached in "
        "$KERAS_HOME/pix2pix/pretrained, default ~/.keras).",
    )

    datasets = _command(
        sub,
        "datasets",
        None,
        help="list or download the official pix2pix datasets",
        description="The official pix2pix datasets (side-by-side AB images).",
    )
    datasets.set_defaults(parser=datasets)
    dsub = datasets.add_subparsers(dest="datasets_command", metavar="ACTION")
    _command(
        dsub,
        "list",
        "listing:cmd_datasets_list",
        (_JSON,),
        help="list the datasets",
    )
    _command(
        dsub,
        "download",
        "listing:cmd_datasets_download",
        _DOWNLOAD,
        help="download and extract a dataset (once; cached)",
        description="Download NAME into DIR/pix2pix/ (default DIR: "
        "$KERAS_HOME or ~/.keras), extract it, and print the folder that "
        "holds its train/val/test folders.",
    )
    return parser


# ----------------------------------------------------------------------
# train

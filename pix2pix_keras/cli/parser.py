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


def _add_verbose(parser, two):
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help=f"0: silent, 1: progress bar, 2: {two} (default: 1)",
    )


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

    train = sub.add_parser(
        "train",
        help="train a model; writes a run folder",
        description="Train Pix2Pix. Values come from the defaults, then "
        "--config FILE (JSON or YAML), then the flags below. The run "
        "folder gets config.json, metrics.csv, training_curves.png, "
        "samples/, checkpoints/, tensorboard/ and model.keras.",
    )
    train.add_argument(
        "--config",
        metavar="FILE",
        help="JSON or YAML file of configuration keys (the flags' names "
        "with underscores); flags override it",
    )
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint (raise "
        "its total with --epochs)",
    )
    _add_verbose(train, "one line per epoch")
    groups = {
        "data": train.add_argument_group("data"),
        "model": train.add_argument_group("model"),
        "training": train.add_argument_group("training"),
        "outputs": train.add_argument_group("outputs"),
    }
    for option in TRAIN_OPTIONS:
        if option.name in (
            "generator",
            "filters",
            "norm",
            "dropout",
            "resnet_blocks",
            "d_layers",
            "discriminator",
            "d_scales",
            "spectral_norm",
            "resnet_downsampling",
            "depth",
            "attention",
            "residual_blocks",
        ):
            group = groups["model"]
        elif option.name in (
            "output",
            "sample_every",
            "num_samples",
            "checkpoint_every",
            "keep_checkpoints",
            "tensorboard",
            "fid_every",
            "fid_network",
        ):
            group = groups["outputs"]
        elif option.name in (
            "data",
            "val",
            "layout",
            "direction",
            "image_size",
            "load_size",
            "preprocess",
            "flip",
            "in_channels",
            "out_channels",
        ):
            group = groups["data"]
        else:
            group = groups["training"]
        _add_option(group, option)
    train.set_defaults(func="train:cmd_train")

    evaluate = sub.add_parser(
        "evaluate",
        help="score a model on a data folder",
        description="Translate every pair of DATA and compare with the "
        "target: L1, PSNR and SSIM (and FID / KID). Prints the report as "
        "JSON.",
    )
    evaluate.add_argument(
        "model",
        metavar="MODEL",
        help="a .keras file or a run folder (its model.keras, or its last checkpoint)",
    )
    evaluate.add_argument(
        "data", metavar="DATA", nargs="?", help="data folder (default: the run's `val`)"
    )
    evaluate.add_argument(
        "--direction", choices=("AtoB", "BtoA"), help="default: the run's, else AtoB"
    )
    evaluate.add_argument(
        "--layout",
        choices=("auto", "ab", "folders", "stems"),
        help="default: the run's, else auto",
    )
    evaluate.add_argument(
        "--metrics",
        nargs="+",
        default=["l1", "psnr", "ssim"],
        choices=("l1", "psnr", "ssim", "fid", "kid"),
        help="default: l1 psnr ssim (fid and kid download their network once)",
    )
    evaluate.add_argument(
        "--fid-network",
        default="fid_inception_2015",
        choices=("fid_inception_2015", "keras_inception_v3", "random_inception_v3"),
        help="features of fid and kid: fid_inception_2015, the 2015 "
        "Inception graph of the original FID code (numbers comparable with "
        "published FIDs; 89 MB download), keras_inception_v3, Keras's "
        "ImageNet InceptionV3 of earlier releases, or random_inception_v3, "
        "fixed random weights (no download; for comparing runs with each "
        "other only) (default: fid_inception_2015)",
    )
    evaluate.add_argument(
        "--batch-size", type=int, default=1, metavar="N", help="default: 1"
    )
    evaluate.add_argument(
        "--output",
        metavar="DIR",
        help="also write DIR/report.json and DIR/best_worst.png",
    )
    _add_verbose(evaluate, "one line at the end")
    evaluate.set_defaults(func="inference:cmd_evaluate")

    predict = sub.add_parser(
        "predict",
        help="translate an image or a folder of images",
        description="Translate INPUT (an image, or every .jpg/.jpeg/.png/"
        ".bmp image of a folder) and write OUTPUT_DIR/<name>.png for each. "
        "Images are resized to the model's size, translated, and resized "
        "back to their own size; with --tile they are translated at their "
        "own size by overlapping tiles.",
    )
    predict.add_argument(
        "model",
        metavar="MODEL",
        help="a .keras file, a run folder or a pretrained name (see 'pix2pix presets')",
    )
    predict.add_argument("input", metavar="INPUT", help="an image file or a folder")
    predict.add_argument("output", metavar="OUTPUT_DIR", help="output folder (created)")
    predict.add_argument(
        "--glob",
        default="*",
        metavar="PATTERN",
        help="only the images of a folder matching PATTERN, e.g. '*.png' "
        "(default: all images)",
    )
    predict.add_argument(
        "--batch-size",
        type=int,
        default=8,
        metavar="N",
        help="images (tiles with --tile) per model call (default: 8)",
    )
    predict.add_argument(
        "--tile",
        action="store_true",
        help="no resizing: translate each image at its own size by "
        "overlapping tiles with blended seams (pk.translate_tiled)",
    )
    predict.add_argument(
        "--tile-size",
        type=int,
        default=None,
        metavar="N",
        help="with --tile: N×N tiles (default: the model's size)",
    )
    predict.add_argument(
        "--overlap",
        type=int,
        default=None,
        metavar="N",
        help="with --tile: overlap of neighbouring tiles in pixels "
        "(default: a quarter of the tile)",
    )
    predict.add_argument(
        "--resample-in",
        default="nearest",
        choices=("nearest", "bilinear", "bicubic"),
        help="resizing to the model's size (default: nearest, as in training)",
    )
    predict.add_argument(
        "--resample-out",
        default="bicubic",
        choices=("nearest", "bilinear", "bicubic"),
        help="resizing back to the input's size (default: bicubic)",
    )
    predict.add_argument(
        "--skip-bad",
        action="store_true",
        help="skip unreadable images (listed at the end) instead of "
        "stopping with exit code 1",
    )
    predict.add_argument(
        "--overwrite", action="store_true", help="replace existing output files"
    )
    _add_verbose(predict, "one line at the end")
    predict.set_defaults(func="inference:cmd_predict")

    export = sub.add_parser(
        "export",
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
    export.add_argument(
        "model",
        metavar="MODEL",
        help="a .keras file, a run folder or a pretrained name (see 'pix2pix presets')",
    )
    export.add_argument(
        "output",
        metavar="OUTPUT",
        help="SavedModel folder, or ONNX / .tflite file to write",
    )
    export.add_argument(
        "--format",
        choices=("savedmodel", "onnx", "litert"),
        default="savedmodel",
        help="what to write (default: savedmodel)",
    )
    export.add_argument(
        "--overwrite", action="store_true", help="replace an existing OUTPUT"
    )
    export.set_defaults(func="inference:cmd_export")

    serve = sub.add_parser(
        "serve",
        help="a local web page: upload or draw, see the result",
        description="Load MODEL once and serve a page on http://HOST:PORT/ "
        "to upload an image or draw a label map (pen, eraser, palette), "
        "and see input | output side by side with the inference time and "
        "a download link. Images are resized to the model's size and "
        "back, as in predict. See docs/serve.md.",
    )
    serve.add_argument(
        "--model",
        required=True,
        metavar="PATH",
        help="a .keras file, a run folder, a SavedModel folder from "
        "'pix2pix export', or a pretrained name (see 'pix2pix presets')",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=7860,
        metavar="N",
        help="port (default: 7860; 0: a free port)",
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the page has no login)",
    )
    serve.add_argument(
        "--palette",
        default="facades",
        metavar="NAME_OR_FILE",
        help="drawing colours: 'facades' (the 12 CMP classes, default), "
        "'none' (a free colour picker) or an 'id name r g b' file",
    )
    serve.add_argument(
        "--image-size",
        type=int,
        default=None,
        metavar="N",
        help="resolution of a SavedModel (default: 256); a .keras model uses its own",
    )
    serve.set_defaults(func="inference:cmd_serve")

    convert = sub.add_parser(
        "convert-pytorch",
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
    convert.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="the reference's .pth generator file"
    )
    convert.add_argument("output", metavar="OUTPUT", help="the .keras file to write")
    convert.add_argument(
        "--netG",
        default="unet_256",
        choices=pytorch_lib.NET_G,
        help="generator architecture (default: unet_256)",
    )
    convert.add_argument(
        "--ngf",
        type=int,
        default=64,
        metavar="N",
        help="filters of the first layer (default: 64)",
    )
    convert.add_argument(
        "--norm",
        default="batch",
        choices=pytorch_lib.NORMS,
        help="normalization (default: batch)",
    )
    convert.add_argument(
        "--no_dropout",
        action="store_true",
        help="the checkpoint was trained with --no_dropout",
    )
    convert.add_argument(
        "--input_nc",
        type=int,
        default=3,
        metavar="N",
        help="input channels (default: 3)",
    )
    convert.add_argument(
        "--output_nc",
        type=int,
        default=3,
        metavar="N",
        help="output channels (default: 3)",
    )
    convert.add_argument(
        "--image-size",
        type=int,
        default=None,
        metavar="N",
        help="build the model for N×N images (default: 256; 128 for unet_128)",
    )
    convert.add_argument(
        "--inference-statistics",
        default="image",
        choices=("image", "moving"),
        help="batch norm at inference: each image's own statistics (the "
        "reference's test.py; default) or the running statistics (its "
        "--eval)",
    )
    convert.add_argument(
        "--overwrite", action="store_true", help="replace an existing OUTPUT"
    )
    convert.set_defaults(func="inference:cmd_convert_pytorch")

    from pix2pix_keras import demo as demo_lib

    demo = sub.add_parser(
        "demo",
        help="train for a few minutes on the bundled facades sample",
        description=demo_lib.DESCRIPTION + " An earlier demo in the same "
        "folder is replaced.",
    )
    demo_lib.add_arguments(demo)
    demo.set_defaults(func=demo_lib.report)

    presets = sub.add_parser(
        "presets",
        help="list the pretrained models",
        description="The PyTorch reference's published pix2pix generators. "
        "Predict, export and serve take their names as MODEL; the first "
        "use downloads and converts one (cached in "
        "$KERAS_HOME/pix2pix/pretrained, default ~/.keras).",
    )
    presets.add_argument(
        "--json", action="store_true", help="print the registry as JSON"
    )
    presets.set_defaults(func="listing:cmd_presets")

    datasets = sub.add_parser(
        "datasets",
        help="list or download the official pix2pix datasets",
        description="The official pix2pix datasets (side-by-side AB images).",
    )
    dsub = datasets.add_subparsers(dest="datasets_command", metavar="ACTION")
    dlist = dsub.add_parser("list", help="list the datasets")
    dlist.add_argument("--json", action="store_true", help="print the registry as JSON")
    dlist.set_defaults(func="listing:cmd_datasets_list")
    dget = dsub.add_parser(
        "download",
        help="download and extract a dataset (once; cached)",
        description="Download NAME into DIR/pix2pix/ (default DIR: "
        "$KERAS_HOME or ~/.keras), extract it, and print the folder that "
        "holds its train/val/test folders.",
    )
    dget.add_argument(
        "name", metavar="NAME", help="dataset name (see 'pix2pix datasets list')"
    )
    dget.add_argument("--directory", metavar="DIR", help="cache root")
    dget.add_argument(
        "--origin", metavar="URL", help="download from URL instead (a mirror)"
    )
    dget.add_argument(
        "--file-hash", metavar="HASH", help="expected sha256 or md5 of the archive"
    )
    dget.set_defaults(func="listing:cmd_datasets_download")
    datasets.set_defaults(func=None, parser=datasets)
    return parser


# ----------------------------------------------------------------------
# train

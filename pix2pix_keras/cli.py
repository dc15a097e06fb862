"""`pix2pix`: the command line (train, evaluate, predict, export, serve,
datasets).

`main(argv)` parses `argv` (default `sys.argv[1:]`), runs one subcommand
and returns its exit code: `0` success, `1` a runtime failure (unreadable
image, failed download, error during training), `2` a usage or
configuration error (unknown or invalid key or flag, missing file or
folder); the message names the key, flag or file. `pix2pix <command>
--help` describes each command, and `docs/cli.md` the whole interface.

`pix2pix train` writes one run folder:

```text
runs/facades/
  config.json          the effective configuration (defaults < file < flags)
  metrics.csv          one row per epoch (keras.callbacks.CSVLogger)
  training_curves.png  one panel per logged value, train and validation
  samples/             source | generated | target grids (SampleGrid)
  checkpoints/         epoch_NNNN.keras + state.json (for --resume)
  tensorboard/         train/ and validation/ event files
  model.keras          the final model (both networks and optimizers)
```
"""

import argparse
import contextlib
import csv
import datetime
import difflib
import fnmatch
import json
import math
import os
import sys
import traceback
import warnings

import keras
import numpy as np
from PIL import Image

import pix2pix_keras as pk
from pix2pix_keras import datasets as datasets_lib
from pix2pix_keras import pretrained as pretrained_lib
from pix2pix_keras import pytorch as pytorch_lib
from pix2pix_keras import tiling as tiling_lib
from pix2pix_keras.data import inspect_image
from pix2pix_keras.tensorboard_logging import learning_rates
from pix2pix_keras.utils import atomic_path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

PROG = "pix2pix"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
CURVES_FILE = "training_curves.png"
MODEL_FILE = "model.keras"
SAMPLES_DIR = "samples"
CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "state.json"
TENSORBOARD_DIR = "tensorboard"


#: The learning-rate schedules of `pix2pix train` (`--lr-policy`).
LR_POLICIES = ("linear", "halving", "constant")
#: The default `--lr-policy`: the PyTorch reference's default, `linear`
#: (constant rates for the first half of the run, then linear to 0).
DEFAULT_LR_POLICY = "linear"
#: `--lr-halving-every` of the halving policy when not given.
DEFAULT_HALVING_EVERY = 10
#: A schedule that drives the rate below this fraction of the base rate
#: before the last tenth of the run gets a warning.
MIN_RATE_FRACTION = 1e-3


class UsageError(Exception):
    """A usage or configuration error: exit code 2."""


# ----------------------------------------------------------------------
# The training configuration: every key, its default, type and range.


class Option:
    """One configuration key of `pix2pix train` (and its `--flag`)."""

    def __init__(self, name, default, help, kind, choices=None, low=None,
                 high=None, low_open=False, high_open=False, nullable=False):
        self.name = name
        self.default = default
        self.help = help
        self.kind = kind  # int, float, bool, str, path, choice, size
        self.choices = choices
        self.low = low
        self.high = high
        self.low_open = low_open
        self.high_open = high_open
        self.nullable = nullable

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def describe(self):
        """The accepted values, as the error messages and docs say them."""
        if self.kind == "choice":
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "size":
            text = "an int >= 1 or a [height, width] pair of them"
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind in ("str", "path"):
            text = "a non-empty string"
        else:
            kind = "an int" if self.kind == "int" else "a number"
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {self.low}")
            if self.high is not None:
                bounds.append(f"{'<' if self.high_open else '<='} {self.high}")
            text = kind + (" " + " and ".join(bounds) if bounds else "")
        return text + (" or null" if self.nullable else "")

    def check(self, value, where, yaml_source=False):
        """Returns the value, normalised; raises `UsageError` naming it."""
        if value is None:
            if self.nullable:
                return None
            raise self._error(value, where)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise self._error(value, where)
        if self.kind in ("str", "path"):
            if isinstance(value, str) and value:
                return value
            raise self._error(value, where)
        if self.kind == "choice":
            if value in self.choices:
                return value
            raise self._error(value, where)
        if self.kind == "size":
            sizes = [value] if not isinstance(value, (list, tuple)) else value
            if len(sizes) in (1, 2) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1
                for v in sizes
            ):
                return sizes[0] if len(sizes) == 1 else [sizes[0], sizes[1]]
            raise self._error(value, where)
        if (yaml_source and self.kind == "float" and isinstance(value, str)):
            # YAML 1.1 reads `2e-4` (no dot) as a string.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(value, where)
        if self.kind == "int" and not isinstance(value, int):
            raise self._error(value, where)
        if not math.isfinite(value):
            raise self._error(value, where)
        if self.low is not None and (
            value <= self.low if self.low_open else value < self.low
        ):
            raise self._error(value, where)
        if self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        ):
            raise self._error(value, where)
        return float(value) if self.kind == "float" else value

    def _error(self, value, where):
        return UsageError(
            f"{where}: `{self.name}` must be {self.describe()}. "
            f"Received: {self.name}={value!r}"
        )


TRAIN_OPTIONS = (
    # data
    Option("data", None, "training data folder (AB images, A/ + B/ "
           "folders, or pairs sharing a stem)", "path", nullable=True),
    Option("val", None, "validation data folder: validation losses, PSNR "
           "and SSIM every epoch, and the sample grids", "path",
           nullable=True),
    Option("layout", "auto", "data layout", "choice",
           choices=("auto", "ab", "folders", "stems")),
    Option("direction", "AtoB", "which side is the input: AtoB or BtoA",
           "choice", choices=("AtoB", "BtoA")),
    Option("image_size", 256, "training resolution: SIZE or HEIGHT WIDTH",
           "size"),
    Option("load_size", None, "resize before the random crop (null: "
           "image_size * 286 / 256)", "size", nullable=True),
    Option("preprocess", "resize_and_crop", "preprocessing mode", "choice",
           choices=("resize_and_crop", "crop", "scale_width", "none")),
    Option("flip", True, "random horizontal flips in training", "bool"),
    Option("in_channels", 3, "input image channels", "choice",
           choices=(1, 3, 4)),
    Option("out_channels", 3, "output image channels", "choice",
           choices=(1, 3, 4)),
    # model
    Option("generator", "unet", "generator network", "choice",
           choices=("unet", "resnet")),
    Option("filters", 64, "base filters of both networks", "int", low=1),
    Option("norm", "batch", "normalization of both networks", "choice",
           choices=("batch", "instance", "none")),
    Option("dropout", 0.5, "generator dropout rate", "float", low=0.0,
           high=1.0, high_open=True),
    Option("resnet_blocks", 9, "residual blocks of the resnet generator",
           "int", low=0),
    Option("d_layers", 3, "PatchGAN layers (receptive field 16, 34, 70, "
           "142, 286 for 1..5)", "int", low=1, high=5),
    # optimisation
    Option("epochs", 200, "total epochs (also when resuming)", "int", low=1),
    Option("steps_per_epoch", None, "batches per epoch (null: one pass "
           "over the data)", "int", low=1, nullable=True),
    Option("batch_size", 1, "batch size", "int", low=1),
    Option("lr", 2e-4, "learning rate of the generator (and of the "
           "discriminator unless d_lr is set)", "float", low=0.0,
           low_open=True),
    Option("d_lr", None, "learning rate of the discriminator (null: lr)",
           "float", low=0.0, low_open=True, nullable=True),
    Option("beta_1", 0.5, "Adam beta_1 of both optimizers", "float",
           low=0.0, high=1.0, high_open=True),
    Option("lr_policy", DEFAULT_LR_POLICY, "learning-rate schedule of all "
           "optimizers: linear (constant for n_epochs, then linear to 0 over "
           "n_epochs_decay, as the PyTorch reference), halving (halve every "
           "lr_halving_every epochs) or constant", "choice",
           choices=LR_POLICIES),
    Option("n_epochs", None, "linear policy: epochs at the base rate "
           "(null: the first half of the run, epochs - epochs // 2)", "int",
           low=0, nullable=True),
    Option("n_epochs_decay", None, "linear policy: epochs of linear decay "
           "to 0 after n_epochs (null: the rest of the run)", "int", low=0,
           nullable=True),
    Option("lr_halving_every", None, "halving policy: halve the learning "
           "rates every N epochs (null: 10). Given without lr_policy it "
           "selects halving (0: constant)", "int", low=0, nullable=True),
    Option("gan_loss", "lsgan", "GAN loss", "choice",
           choices=("lsgan", "vanilla", "hinge")),
    Option("lambda_l1", 100.0, "weight of the L1 loss", "float", low=0.0),
    Option("d_every", 1, "update the discriminator every N steps", "int",
           low=1),
    Option("jit_compile", False, "compile the training step with XLA",
           "bool"),
    Option("mixed_precision", "off", "compute in bfloat16 with float32 "
           "weights, outputs and losses: bf16, auto (bf16 where the CPU "
           "has AVX-512-bf16 or AMX, or on a GPU) or off", "choice",
           choices=("off", "auto", "bf16")),
    Option("seed", 0, "seed of the weights, shuffling and augmentation",
           "int", low=0),
    # outputs
    Option("output", None, "run folder (null: runs/<date>-<time>)", "path",
           nullable=True),
    Option("sample_every", 1, "write a sample grid (PNG and TensorBoard "
           "image) every N epochs (0: never)", "int", low=0),
    Option("num_samples", 4, "examples in a sample grid", "int", low=1),
    Option("checkpoint_every", 1, "save a checkpoint every N epochs (and "
           "after the last)", "int", low=1),
    Option("keep_checkpoints", 1, "checkpoints kept in checkpoints/", "int",
           low=1),
    Option("tensorboard", True, "write TensorBoard logs to tensorboard/",
           "bool"),
)
OPTIONS = {o.name: o for o in TRAIN_OPTIONS}
#: Keys that `train --resume` may change; the others define the model,
#: the optimizers or the data and stay as the run was started.
RESUME_KEYS = ("epochs", "n_epochs", "n_epochs_decay", "data", "val",
               "sample_every", "num_samples", "checkpoint_every",
               "keep_checkpoints", "tensorboard")
_PATH_KEYS = ("data", "val", "output")


def default_config():
    """The default training configuration (a fresh dict)."""
    return {o.name: o.default for o in TRAIN_OPTIONS}


def _unknown_keys_message(where, unknown):
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, list(OPTIONS), n=1)
        if close:
            hints.append(f"{key!r} (did you mean {close[0]!r}?)")
        else:
            hints.append(repr(key))
    return (
        f"{where}: unknown key(s) {', '.join(hints)}. Allowed keys: "
        f"{', '.join(OPTIONS)}."
    )


def read_config_file(path):
    """Reads a JSON or YAML config file; returns a validated partial dict.

    Relative paths in it (`data`, `val`, `output`) are taken relative to
    the file's folder.

    Raises:
        UsageError: missing or unreadable file, bad syntax, a top level
            that is not a mapping, unknown keys or invalid values; the
            message names the file and the key.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".json", ".yaml", ".yml"):
        raise UsageError(
            f"{path}: a config file must end in .json, .yaml or .yml"
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except OSError as e:
        raise UsageError(f"cannot read config file {path}: {e}") from None
    is_yaml = ext != ".json"
    if is_yaml:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise UsageError(f"{path}: invalid YAML: {e}") from None
        if data is None:
            data = {}
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(
                f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: "
                f"{e.msg}"
            ) from None
    if not isinstance(data, dict):
        raise UsageError(
            f"{path}: the config must be a mapping of keys to values, not a "
            f"{type(data).__name__}"
        )
    unknown = [k for k in data if k not in OPTIONS]
    if unknown:
        raise UsageError(_unknown_keys_message(path, unknown))
    base = os.path.dirname(os.path.abspath(path))
    config = {}
    for key, value in data.items():
        value = OPTIONS[key].check(value, path, yaml_source=is_yaml)
        if key in _PATH_KEYS and value is not None:
            value = os.path.normpath(os.path.join(base, value))
        config[key] = value
    return config


def check_config(config, where="config"):
    """Validates a complete config (types, ranges, cross-key rules).

    Returns:
        The config with normalised values.

    Raises:
        UsageError: naming the key.
    """
    unknown = [k for k in config if k not in OPTIONS]
    if unknown:
        raise UsageError(_unknown_keys_message(where, unknown))
    missing = [k for k in OPTIONS if k not in config]
    if missing:
        raise UsageError(f"{where}: missing key(s) {missing}")
    out = {k: OPTIONS[k].check(config[k], where) for k in OPTIONS}
    size = _pair(out["image_size"])
    if out["generator"] == "unet":
        depth = int(math.floor(math.log2(min(size))))
        if depth < 2 or size[0] % 2**depth or size[1] % 2**depth:
            raise UsageError(
                f"{where}: `image_size` {list(size)} does not suit the U-Net "
                "generator: its sides must be divisible by 2**depth, where "
                "depth = floor(log2(shorter side)) (e.g. 32, 64, 128, 256, "
                "or 256 512)."
            )
    elif size[0] % 4 or size[1] % 4:
        raise UsageError(
            f"{where}: `image_size` {list(size)} must be divisible by 4 for "
            "the resnet generator."
        )
    if out["load_size"] is not None and out["preprocess"] == "resize_and_crop":
        load = _pair(out["load_size"])
        if load[0] < size[0] or load[1] < size[1]:
            raise UsageError(
                f"{where}: `load_size` {list(load)} must be at least "
                f"`image_size` {list(size)} to crop from it."
            )
    if out["preprocess"] == "none" and out["batch_size"] != 1:
        raise UsageError(
            f"{where}: preprocess='none' gives images of different sizes; "
            "use `batch_size` 1."
        )
    return _check_schedule(out, where)


#: The keys of each learning-rate policy.
_POLICY_KEYS = {"linear": ("n_epochs", "n_epochs_decay"),
                "halving": ("lr_halving_every",), "constant": ()}


def _check_schedule(config, where):
    """Checks the learning-rate keys against `lr_policy` and fills in the
    policy's own keys (idempotent: resolved values are kept).

    `linear` without `n_epochs` / `n_epochs_decay` splits the run in two:
    `epochs - epochs // 2` constant epochs and `epochs // 2` of decay (100
    and 100 for 200 epochs, the reference's defaults); one of them given,
    the other takes the rest of the run. `halving` without
    `lr_halving_every` halves every 10 epochs.
    """
    policy = config["lr_policy"]
    for key in ("n_epochs", "n_epochs_decay", "lr_halving_every"):
        if config[key] is not None and key not in _POLICY_KEYS[policy]:
            owner = "halving" if key == "lr_halving_every" else "linear"
            raise UsageError(
                f"{where}: `{key}` ({OPTIONS[key].flag} {config[key]}) is a "
                f"setting of lr_policy {owner!r}, but lr_policy is "
                f"{policy!r}: drop it (or set it to null) or choose "
                f"--lr-policy {owner}"
            )
    epochs = config["epochs"]
    if policy == "linear":
        n, decay = config["n_epochs"], config["n_epochs_decay"]
        if n is None and decay is None:
            n, decay = epochs - epochs // 2, epochs // 2
        elif n is None:
            n = max(epochs - decay, 0)
        elif decay is None:
            decay = max(epochs - n, 0)
        config["n_epochs"], config["n_epochs_decay"] = n, decay
    elif policy == "halving":
        every = config["lr_halving_every"]
        if every is None:
            every = DEFAULT_HALVING_EVERY
        if every < 1:
            raise UsageError(
                f"{where}: `lr_halving_every` must be >= 1 with lr_policy "
                f"'halving' (for no decay use --lr-policy constant). "
                f"Received: lr_halving_every={every!r}"
            )
        config["lr_halving_every"] = every
    return config


def _infer_lr_policy(config, given):
    """`lr_halving_every` set without `lr_policy` selects halving (0:
    constant), as it did before `lr_policy` existed: configs and runs of
    earlier versions keep their schedule. `given`: the keys set by the
    config file and the flags (or the saved run config)."""
    every = config.get("lr_halving_every")
    if "lr_policy" in given or "lr_halving_every" not in given or every is None:
        return config
    config["lr_policy"] = "halving" if every else "constant"
    if not every:
        config["lr_halving_every"] = None
    return config


def lr_schedule(config):
    """The learning-rate callback of a checked config (`None`: constant)."""
    if config["lr_policy"] == "linear":
        return pk.LinearDecay(n_epochs=config["n_epochs"],
                              n_epochs_decay=config["n_epochs_decay"])
    if config["lr_policy"] == "halving":
        return pk.LearningRateHalving(every=config["lr_halving_every"])
    return None


def schedule_warnings(config):
    """Warnings about the learning-rate schedule of a checked config.

    A `linear` decay that does not end with the run (cut off, or ending
    early so that the last epochs train at rate 0), and any schedule whose
    rate falls below `MIN_RATE_FRACTION` × the base rate before the last
    tenth of the run (at the last epoch of its first 90 %). Each message
    names the flags to change.

    Returns:
        list of str.
    """
    schedule = lr_schedule(config)
    if schedule is None:
        return []
    epochs = config["epochs"]
    warnings = []
    ended_early = False
    if config["lr_policy"] == "linear":
        n, decay = config["n_epochs"], config["n_epochs_decay"]
        flags = f"--n-epochs {n} + --n-epochs-decay {decay} = {n + decay}"
        if n >= epochs:
            if decay > 0:
                warnings.append(
                    f"--n-epochs {n} with --epochs {epochs}: the linear "
                    "decay would start after the last epoch, so the rates "
                    f"stay constant; lower --n-epochs below {epochs} (or use "
                    "--lr-policy constant)")
        elif n + decay > epochs:
            warnings.append(
                f"{flags} epochs is longer than the run (--epochs {epochs}): "
                "the decay is cut off and the last epoch trains at "
                f"{schedule.multiplier(epochs - 1):.3g} × the base rate "
                f"instead of 1/{decay + 1}; set --n-epochs-decay "
                f"{epochs - n} (or raise --epochs to {n + decay})")
        elif n + decay < epochs:
            ended_early = True
            warnings.append(
                f"{flags} epochs is shorter than the run (--epochs "
                f"{epochs}): the rates are 0 from epoch {n + decay + 1} on, "
                f"so the last {epochs - n - decay} epoch(s) learn nothing; "
                f"set --n-epochs-decay {epochs - n}")
    last = (9 * epochs + 9) // 10 - 1  # 0-based, the last of the first 90 %
    fraction = schedule.multiplier(last)
    if fraction < MIN_RATE_FRACTION and not ended_early:
        said = (f"drives the rates to {fraction:.2g} × the base rate by epoch "
                f"{last + 1} of {epochs}, below {MIN_RATE_FRACTION:g} × base "
                "before the last tenth of the run, so its later epochs "
                "learn almost nothing")
        if config["lr_policy"] == "halving":
            every = config["lr_halving_every"]
            warnings.append(
                f"--lr-halving-every {every} with --epochs {epochs} {said}: "
                f"use --lr-policy linear, or --lr-halving-every "
                f"{last // 10 + 1} or more")
        else:
            warnings.append(
                f"--lr-policy linear with --n-epochs {config['n_epochs']} "
                f"--n-epochs-decay {config['n_epochs_decay']} and --epochs "
                f"{epochs} {said}: let the decay end with the run")
    return warnings


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def _load_size(config):
    if config["load_size"] is not None:
        return _pair(config["load_size"])
    return pk.default_load_size(config["image_size"])


def _write_json(path, data):
    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")


# ----------------------------------------------------------------------
# Argument parsing.


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
        group.add_argument(option.flag, action=argparse.BooleanOptionalAction,
                           help=help_text, **kwargs)
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
        "--verbose", type=int, choices=(0, 1, 2), default=1,
        help=f"0: silent, 1: progress bar, 2: {two} (default: 1)")


def build_parser():
    """The `argparse` parser of `pix2pix` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Pix2Pix paired image-to-image translation: train, "
        "evaluate, translate images, export for serving, fetch the "
        "official datasets.",
        epilog="Run 'pix2pix COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {pk.__version__}")
    parser.add_argument(
        "--traceback", action="store_true",
        help="print the full traceback of a runtime failure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser(
        "train", help="train a model; writes a run folder",
        description="Train Pix2Pix. Values come from the defaults, then "
        "--config FILE (JSON or YAML), then the flags below. The run "
        "folder gets config.json, metrics.csv, training_curves.png, "
        "samples/, checkpoints/, tensorboard/ and model.keras.",
    )
    train.add_argument(
        "--config", metavar="FILE",
        help="JSON or YAML file of configuration keys (the flags' names "
        "with underscores); flags override it")
    train.add_argument(
        "--resume", metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint (raise "
        "its total with --epochs)")
    _add_verbose(train, "one line per epoch")
    groups = {
        "data": train.add_argument_group("data"),
        "model": train.add_argument_group("model"),
        "training": train.add_argument_group("training"),
        "outputs": train.add_argument_group("outputs"),
    }
    for option in TRAIN_OPTIONS:
        if option.name in ("generator", "filters", "norm", "dropout",
                           "resnet_blocks", "d_layers"):
            group = groups["model"]
        elif option.name in ("output", "sample_every", "num_samples",
                             "checkpoint_every", "keep_checkpoints",
                             "tensorboard"):
            group = groups["outputs"]
        elif option.name in ("data", "val", "layout", "direction",
                             "image_size", "load_size", "preprocess",
                             "flip", "in_channels", "out_channels"):
            group = groups["data"]
        else:
            group = groups["training"]
        _add_option(group, option)
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", help="score a model on a data folder",
        description="Translate every pair of DATA and compare with the "
        "target: L1, PSNR and SSIM (and FID / KID). Prints the report as "
        "JSON.",
    )
    evaluate.add_argument(
        "model", metavar="MODEL",
        help="a .keras file or a run folder (its model.keras, or its last "
        "checkpoint)")
    evaluate.add_argument(
        "data", metavar="DATA", nargs="?",
        help="data folder (default: the run's `val`)")
    evaluate.add_argument("--direction", choices=("AtoB", "BtoA"),
                          help="default: the run's, else AtoB")
    evaluate.add_argument("--layout", choices=("auto", "ab", "folders",
                                               "stems"),
                          help="default: the run's, else auto")
    evaluate.add_argument("--metrics", nargs="+", default=["l1", "psnr",
                                                           "ssim"],
                          choices=("l1", "psnr", "ssim", "fid", "kid"),
                          help="default: l1 psnr ssim (fid and kid download "
                          "their network once)")
    evaluate.add_argument(
        "--fid-network", default="fid_inception_2015",
        choices=("fid_inception_2015", "keras_inception_v3"),
        help="features of fid and kid: fid_inception_2015, the 2015 "
        "Inception graph of the original FID code (numbers comparable with "
        "published FIDs; 89 MB download), or keras_inception_v3, Keras's "
        "ImageNet InceptionV3 of earlier releases (default: "
        "fid_inception_2015)")
    evaluate.add_argument("--batch-size", type=int, default=1, metavar="N",
                          help="default: 1")
    evaluate.add_argument(
        "--output", metavar="DIR",
        help="also write DIR/report.json and DIR/best_worst.png")
    _add_verbose(evaluate, "one line at the end")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser(
        "predict", help="translate an image or a folder of images",
        description="Translate INPUT (an image, or every .jpg/.jpeg/.png/"
        ".bmp image of a folder) and write OUTPUT_DIR/<name>.png for each. "
        "Images are resized to the model's size, translated, and resized "
        "back to their own size; with --tile they are translated at their "
        "own size by overlapping tiles.",
    )
    predict.add_argument("model", metavar="MODEL",
                         help="a .keras file, a run folder or a pretrained "
                         "name (see 'pix2pix presets')")
    predict.add_argument("input", metavar="INPUT",
                         help="an image file or a folder")
    predict.add_argument("output", metavar="OUTPUT_DIR",
                         help="output folder (created)")
    predict.add_argument(
        "--glob", default="*", metavar="PATTERN",
        help="only the images of a folder matching PATTERN, e.g. '*.png' "
        "(default: all images)")
    predict.add_argument("--batch-size", type=int, default=8, metavar="N",
                         help="images (tiles with --tile) per model call "
                         "(default: 8)")
    predict.add_argument(
        "--tile", action="store_true",
        help="no resizing: translate each image at its own size by "
        "overlapping tiles with blended seams (pk.translate_tiled)")
    predict.add_argument(
        "--tile-size", type=int, default=None, metavar="N",
        help="with --tile: N×N tiles (default: the model's size)")
    predict.add_argument(
        "--overlap", type=int, default=None, metavar="N",
        help="with --tile: overlap of neighbouring tiles in pixels "
        "(default: a quarter of the tile)")
    predict.add_argument(
        "--resample-in", default="nearest",
        choices=("nearest", "bilinear", "bicubic"),
        help="resizing to the model's size (default: nearest, as in "
        "training)")
    predict.add_argument(
        "--resample-out", default="bicubic",
        choices=("nearest", "bilinear", "bicubic"),
        help="resizing back to the input's size (default: bicubic)")
    predict.add_argument(
        "--skip-bad", action="store_true",
        help="skip unreadable images (listed at the end) instead of "
        "stopping with exit code 1")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace existing output files")
    _add_verbose(predict, "one line at the end")
    predict.set_defaults(func=cmd_predict)

    export = sub.add_parser(
        "export", help="export the generator as a TensorFlow SavedModel",
        description="Write the generator of MODEL as a SavedModel with the "
        "endpoints `serve` and `serving_default` (float32 `image` "
        "(batch, height, width, channels) in [-1, 1]).",
    )
    export.add_argument("model", metavar="MODEL",
                        help="a .keras file, a run folder or a pretrained "
                        "name (see 'pix2pix presets')")
    export.add_argument("output", metavar="OUTPUT_DIR",
                        help="SavedModel folder to write")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing OUTPUT folder")
    export.set_defaults(func=cmd_export)

    serve = sub.add_parser(
        "serve", help="a local web page: upload or draw, see the result",
        description="Load MODEL once and serve a page on http://HOST:PORT/ "
        "to upload an image or draw a label map (pen, eraser, palette), "
        "and see input | output side by side with the inference time and "
        "a download link. Images are resized to the model's size and "
        "back, as in predict. See docs/serve.md.",
    )
    serve.add_argument(
        "--model", required=True, metavar="PATH",
        help="a .keras file, a run folder, a SavedModel folder from "
        "'pix2pix export', or a pretrained name (see 'pix2pix presets')")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=7860, metavar="N",
                       help="port (default: 7860; 0: a free port)")
    serve.add_argument(
        "--allow-remote", action="store_true",
        help="allow a non-loopback --host (the page has no login)")
    serve.add_argument(
        "--palette", default="facades", metavar="NAME_OR_FILE",
        help="drawing colours: 'facades' (the 12 CMP classes, default), "
        "'none' (a free colour picker) or an 'id name r g b' file")
    serve.add_argument(
        "--image-size", type=int, default=None, metavar="N",
        help="resolution of a SavedModel (default: 256); a .keras model "
        "uses its own")
    serve.set_defaults(func=cmd_serve)

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
    convert.add_argument("checkpoint", metavar="CHECKPOINT",
                         help="the reference's .pth generator file")
    convert.add_argument("output", metavar="OUTPUT",
                         help="the .keras file to write")
    convert.add_argument("--netG", default="unet_256",
                         choices=pytorch_lib.NET_G,
                         help="generator architecture (default: unet_256)")
    convert.add_argument("--ngf", type=int, default=64, metavar="N",
                         help="filters of the first layer (default: 64)")
    convert.add_argument("--norm", default="batch",
                         choices=pytorch_lib.NORMS,
                         help="normalization (default: batch)")
    convert.add_argument("--no_dropout", action="store_true",
                         help="the checkpoint was trained with --no_dropout")
    convert.add_argument("--input_nc", type=int, default=3, metavar="N",
                         help="input channels (default: 3)")
    convert.add_argument("--output_nc", type=int, default=3, metavar="N",
                         help="output channels (default: 3)")
    convert.add_argument(
        "--image-size", type=int, default=None, metavar="N",
        help="build the model for N×N images (default: 256; 128 for "
        "unet_128)")
    convert.add_argument(
        "--inference-statistics", default="image",
        choices=("image", "moving"),
        help="batch norm at inference: each image's own statistics (the "
        "reference's test.py; default) or the running statistics (its "
        "--eval)")
    convert.add_argument("--overwrite", action="store_true",
                         help="replace an existing OUTPUT")
    convert.set_defaults(func=cmd_convert_pytorch)

    presets = sub.add_parser(
        "presets", help="list the pretrained models",
        description="The PyTorch reference's published pix2pix generators. "
        "Predict, export and serve take their names as MODEL; the first "
        "use downloads and converts one (cached in "
        "$KERAS_HOME/pix2pix/pretrained, default ~/.keras).",
    )
    presets.add_argument("--json", action="store_true",
                         help="print the registry as JSON")
    presets.set_defaults(func=cmd_presets)

    datasets = sub.add_parser(
        "datasets", help="list or download the official pix2pix datasets",
        description="The official pix2pix datasets (side-by-side AB "
        "images).",
    )
    dsub = datasets.add_subparsers(dest="datasets_command", metavar="ACTION")
    dlist = dsub.add_parser("list", help="list the datasets")
    dlist.add_argument("--json", action="store_true",
                       help="print the registry as JSON")
    dlist.set_defaults(func=cmd_datasets_list)
    dget = dsub.add_parser(
        "download", help="download and extract a dataset (once; cached)",
        description="Download NAME into DIR/pix2pix/ (default DIR: "
        "$KERAS_HOME or ~/.keras), extract it, and print the folder that "
        "holds its train/val/test folders.",
    )
    dget.add_argument("name", metavar="NAME",
                      help="dataset name (see 'pix2pix datasets list')")
    dget.add_argument("--directory", metavar="DIR", help="cache root")
    dget.add_argument("--origin", metavar="URL",
                      help="download from URL instead (a mirror)")
    dget.add_argument("--file-hash", metavar="HASH",
                      help="expected sha256 or md5 of the archive")
    dget.set_defaults(func=cmd_datasets_download)
    datasets.set_defaults(func=None, parser=datasets)
    return parser


# ----------------------------------------------------------------------
# train


def _new_run_config(args, overrides):
    config = default_config()
    given = set(overrides)
    if args.config:
        from_file = read_config_file(args.config)
        config.update(from_file)
        given.update(from_file)
    for key, value in overrides.items():
        if key in _PATH_KEYS and value is not None:
            value = os.path.abspath(value)
        config[key] = OPTIONS[key].check(value, OPTIONS[key].flag)
    _infer_lr_policy(config, given)
    where = f"{args.config} + flags" if args.config else "flags"
    config = check_config(config, where)
    if config["data"] is None:
        raise UsageError(
            "train needs training data: pass --data DIR or set `data` in "
            "the config file"
        )
    if config["output"] is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        config["output"] = os.path.abspath(os.path.join("runs", stamp))
    config["output"] = os.path.abspath(config["output"])
    for key in ("data", "val"):
        if config[key] is not None:
            config[key] = os.path.abspath(config[key])
    for name in (CONFIG_FILE, METRICS_FILE, CHECKPOINT_DIR, MODEL_FILE):
        if os.path.exists(os.path.join(config["output"], name)):
            raise UsageError(
                f"{config['output']} already holds a run ({name}): continue "
                f"it with 'pix2pix train --resume {config['output']}' or "
                "choose another --output"
            )
    return config


def _read_state(run_dir):
    path = os.path.join(run_dir, CHECKPOINT_DIR, STATE_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            state = json.load(f)
        epoch = int(state["epoch"])
        checkpoint = os.path.join(run_dir, CHECKPOINT_DIR, state["checkpoint"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path}: unreadable checkpoint state ({e})") from None
    if not os.path.isfile(checkpoint):
        raise UsageError(f"{path} points to {checkpoint}, which is missing")
    return {"epoch": epoch, "checkpoint": checkpoint}


def _resume_config(args, overrides):
    run_dir = os.path.abspath(args.resume)
    if args.config:
        raise UsageError(
            "--resume takes its configuration from the run folder; it "
            "cannot be combined with --config (change epochs and paths with "
            "flags)"
        )
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise UsageError(
            f"--resume {args.resume}: not a run folder (no {CONFIG_FILE})"
        )
    saved = read_config_file(path)
    config = default_config()
    config.update(saved)
    _infer_lr_policy(config, set(saved))
    for key, value in overrides.items():
        if key in _PATH_KEYS and value is not None:
            value = os.path.abspath(value)
        value = OPTIONS[key].check(value, OPTIONS[key].flag)
        if key not in RESUME_KEYS and value != config[key]:
            raise UsageError(
                f"{OPTIONS[key].flag} cannot change when resuming: the run "
                f"was started with {key}={config[key]!r}. Only "
                f"{', '.join(OPTIONS[k].flag for k in RESUME_KEYS)} can."
            )
        if key == "val" and (value is None) != (config["val"] is None):
            raise UsageError(
                "--val cannot be added or removed when resuming (the "
                "columns of metrics.csv would change); it can only point "
                "to another folder"
            )
        config[key] = value
    config["output"] = run_dir
    config = check_config(config, path)
    state = _read_state(run_dir)
    if state is None:
        raise UsageError(
            f"{run_dir} has no checkpoint yet ({CHECKPOINT_DIR}/{STATE_FILE}): "
            "it stopped before its first epoch ended; start it again"
        )
    if state["epoch"] >= config["epochs"]:
        raise UsageError(
            f"the run in {run_dir} has trained {state['epoch']} of "
            f"{config['epochs']} epochs: pass --epochs N with N > "
            f"{state['epoch']} to train further"
        )
    return config, state


def _check_dirs(config):
    for key in ("data", "val"):
        path = config[key]
        if path is not None and not os.path.isdir(path):
            raise UsageError(
                f"`{key}`: no such folder: {path}"
            )


def _truncate_metrics(path, epochs):
    """Keeps the header and the rows of epochs < `epochs` (0-based)."""
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    keep = [r for r in body if r and r[0].isdigit() and int(r[0]) < epochs]
    if len(keep) == len(body):
        return
    with atomic_path(path, suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([header] + keep)


def cpu_has_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether the CPU computes bfloat16 natively (AVX-512-bf16 or AMX).

    Args:
        cpuinfo: str. The file listing the CPU flags. Defaults to
            `"/proc/cpuinfo"` (Linux); elsewhere the answer is `False`.

    Returns:
        bool.
    """
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.partition(":")[2].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def compute_policy(mixed_precision):
    """The Keras dtype policy of a `mixed_precision` configuration value.

    Args:
        mixed_precision: str. `"off"`, `"bf16"` or `"auto"` (bf16 on a GPU
            or on a CPU with native bfloat16, see `cpu_has_bf16`).

    Returns:
        str. `"float32"` or `"mixed_bfloat16"`.
    """
    if mixed_precision == "auto":
        import tensorflow as tf

        native = bool(tf.config.list_physical_devices("GPU")) or cpu_has_bf16()
        mixed_precision = "bf16" if native else "off"
    return "mixed_bfloat16" if mixed_precision == "bf16" else "float32"


def _build_model(config):
    """The configured model, built under its dtype policy (see `compute_policy`).

    The global Keras policy is restored afterwards: the layers keep theirs.
    """
    from pix2pix_keras.models.blocks import dtype_policy_scope

    with dtype_policy_scope(
            compute_policy(config.get("mixed_precision", "off"))):
        return _build_model_now(config)


def _build_model_now(config):
    size = _pair(config["image_size"])
    channels = dict(in_channels=config["in_channels"],
                    out_channels=config["out_channels"])
    try:
        if config["generator"] == "unet":
            generator = pk.UNetGenerator(
                image_size=size, filters=config["filters"],
                norm=config["norm"], dropout=config["dropout"], **channels)
        else:
            generator = pk.ResnetGenerator(
                image_size=size, filters=config["filters"],
                n_blocks=config["resnet_blocks"], norm=config["norm"],
                dropout=config["dropout"], **channels)
        discriminator = pk.PatchDiscriminator(
            image_size=size, filters=config["filters"],
            n_layers=config["d_layers"], norm=config["norm"], **channels)
        model = pk.Pix2Pix(generator=generator, discriminator=discriminator,
                           image_size=size, **channels)
        d_lr = config["d_lr"] if config["d_lr"] is not None else config["lr"]
        model.compile(
            g_optimizer=keras.optimizers.Adam(
                config["lr"], beta_1=config["beta_1"]),
            d_optimizer=keras.optimizers.Adam(d_lr, beta_1=config["beta_1"]),
            gan_loss=config["gan_loss"],
            lambda_l1=config["lambda_l1"],
            d_every=config["d_every"],
            jit_compile=config["jit_compile"],
        )
    except ValueError as e:
        raise UsageError(f"invalid model configuration: {e}") from None
    return model


def _datasets(config):
    common = dict(
        layout=config["layout"], direction=config["direction"],
        image_size=_pair(config["image_size"]), load_size=_load_size(config),
        preprocess=config["preprocess"], in_channels=config["in_channels"],
        out_channels=config["out_channels"], batch_size=config["batch_size"],
    )
    # Always the run's seed: a resumed segment replays the shuffle and
    # jitter sequence up to its first epoch (see `_resume_point`).
    train = pk.load_paired_dataset(
        config["data"], training=True, flip=config["flip"],
        seed=config["seed"], **common)
    # Validation and samples are resized to the training size whatever
    # the training preprocessing (the networks have a fixed input size).
    common["preprocess"] = "resize_and_crop"
    val = None
    if config["val"] is not None:
        val = pk.load_paired_dataset(config["val"], training=False, **common)
    samples = None
    if config["sample_every"]:
        source = val
        if source is None:
            source = pk.load_paired_dataset(
                config["data"], training=False, **common)
        n = config["num_samples"]
        samples = next(iter(source.unbatch().take(n).batch(n)))
    return train, val, samples


def _resume_point(train, epochs_done, steps_per_epoch):
    """`(dataset, steps_per_epoch)` for `fit`, from epoch `epochs_done` on.

    `fit` gets ONE iterator for the whole run, over the `.repeat()`ed
    data (one pass an epoch when `steps_per_epoch` is `None`): the
    pipeline draws a new shuffle order and new crops and flips per pass,
    deterministically from the run's seed, so a resumed run skips the
    batches already trained on and then sees exactly the batches of an
    unbroken run. (Skipping recomputes the skipped crops and flips, not
    the training steps.)
    """
    if steps_per_epoch is None:
        steps_per_epoch = int(train.cardinality())
        if steps_per_epoch < 1:
            raise RuntimeError(
                "cannot tell how many batches one pass over the training "
                f"data has (tf.data cardinality {steps_per_epoch}); set "
                "steps_per_epoch")
    return (train.repeat().skip(epochs_done * steps_per_epoch),
            steps_per_epoch)


def _callbacks(config, run_dir, samples):
    callbacks = []
    schedule = lr_schedule(config)
    if schedule is not None:
        callbacks.append(schedule)
    callbacks.append(_LogLearningRates())
    if samples is not None:
        callbacks.append(pk.SampleGrid(
            samples, os.path.join(run_dir, SAMPLES_DIR),
            every=config["sample_every"]))
    if config["tensorboard"]:
        callbacks.append(pk.TensorBoard(
            os.path.join(run_dir, TENSORBOARD_DIR),
            samples=samples,
            image_every=config["sample_every"] or 1,
        ))
    callbacks.append(_CSVLogger(
        os.path.join(run_dir, METRICS_FILE), append=True))
    callbacks.append(_Checkpoint(
        os.path.join(run_dir, CHECKPOINT_DIR),
        every=config["checkpoint_every"], keep=config["keep_checkpoints"]))
    return callbacks


class _LogLearningRates(keras.callbacks.Callback):
    """Puts `g_lr` and `d_lr` into the epoch logs (for CSVLogger)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for key, value in learning_rates(self.model).items():
                logs.setdefault(key, value)


class _CSVLogger(keras.callbacks.CSVLogger):
    """`CSVLogger` whose columns are exactly the logged values.

    Keras 3.15 adds a `val_` copy of every column when the first epoch has
    no validation values (empty `NA` columns for a run without validation
    data). When appending to a file, its header's columns are kept, so a
    resumed run's rows line up with the earlier ones.
    """

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None:
            header = None
            if os.path.isfile(self.filename):
                with open(self.filename, newline="") as f:
                    header = next(csv.reader(f), None)
            if self.append and header and header[0] == "epoch":
                self.keys = header[1:]
            else:
                self.keys = sorted(logs or {})
        super().on_epoch_end(epoch, logs)


class _Checkpoint(keras.callbacks.Callback):
    """Saves `epoch_NNNN.keras` and then `state.json` pointing to it.

    The model is written before the state that names it (both atomically),
    so `state.json` always points to a complete checkpoint of the epoch it
    records. Older checkpoints beyond `keep` are deleted afterwards.
    """

    def __init__(self, directory, every=1, keep=1):
        super().__init__()
        self.directory = directory
        self.every = every
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.params.get("epochs"):
            return
        os.makedirs(self.directory, exist_ok=True)
        name = f"epoch_{done:04d}.keras"
        self.model.save(os.path.join(self.directory, name))
        _write_json(os.path.join(self.directory, STATE_FILE),
                    {"epoch": done, "checkpoint": name})
        old = sorted(
            (f for f in os.listdir(self.directory)
             if f.startswith("epoch_") and f.endswith(".keras") and f != name
             and f[6:-6].isdigit()),
            key=lambda f: int(f[6:-6]),
        )
        for f in old[: max(len(old) - (self.keep - 1), 0)]:
            os.remove(os.path.join(self.directory, f))


#: Panel order of `plot_training_curves`; other values follow, sorted.
_PANEL_ORDER = ("g_loss", "g_gan", "g_l1", "g_l2", "g_vgg", "g_fm", "d_loss",
                "d_real", "d_fake", "learning rate", "lambda_l1", "psnr",
                "ssim")


def plot_training_curves(csv_path, png_path, columns=3):
    """Draws every column of a `metrics.csv` into a PNG, one panel each.

    A value and its `val_` counterpart share a panel (train and validation
    lines; a panel with validation values only says so in its title);
    `g_lr` and `d_lr` share the "learning rate" panel. Losses come first
    (`g_loss`, `g_gan`, `g_l1`, ..., `d_loss`, `d_real`, `d_fake`). Drawn
    on matplotlib's Agg canvas (no pyplot state) and written atomically;
    each panel is 400×300 pixels.

    Args:
        csv_path: str. A CSV with an `epoch` column (0-based) and one column
            per logged value, as `keras.callbacks.CSVLogger` writes.
        png_path: str. The PNG to write.
        columns: int. Panels per row. Defaults to `3`.

    Returns:
        list of str. The panel titles, in order.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{csv_path} has no rows to plot")
    panels = {}
    for key in rows[0]:
        if key == "epoch":
            continue
        base = key[4:] if key.startswith("val_") else key
        title = "learning rate" if base in ("g_lr", "d_lr") else base
        panels.setdefault(title, []).append(key)
    order = sorted(panels, key=lambda t: (
        _PANEL_ORDER.index(t) if t in _PANEL_ORDER else len(_PANEL_ORDER), t))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    n_rows = math.ceil(len(order) / columns)
    fig = Figure(figsize=(4 * columns, 3 * n_rows), dpi=100)
    axes = fig.subplots(n_rows, columns, squeeze=False).ravel()
    titles = []
    for ax, title in zip(axes, order):
        series = sorted(panels[title], key=lambda k: k.startswith("val_"))
        for key in series:
            values = []
            for r in rows:
                try:
                    values.append(float(r[key]))
                except (TypeError, ValueError):
                    values.append(math.nan)
            if title == "learning rate":
                label = key
            else:
                label = "validation" if key.startswith("val_") else "train"
            ax.plot(epochs, values, marker="o", markersize=3, label=label)
        if all(k.startswith("val_") for k in series):
            title = f"{title} (validation)"
        titles.append(title)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    for ax in axes[len(order):]:
        ax.set_visible(False)
    fig.tight_layout()
    with atomic_path(png_path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=fig.dpi)
    return titles


def cmd_train(args):
    overrides = {o.name: getattr(args, o.name) for o in TRAIN_OPTIONS
                 if hasattr(args, o.name)}
    if args.resume:
        config, state = _resume_config(args, overrides)
    else:
        config, state = _new_run_config(args, overrides), None
    _check_dirs(config)
    for warning in schedule_warnings(config):
        print(f"{PROG} train: warning: {warning}", file=sys.stderr, flush=True)
    run_dir = config["output"]
    args.run_dir = run_dir  # for the hint after an interruption

    initial_epoch = state["epoch"] if state else 0
    # The run's seed also when resuming: tf.data combines it with the
    # pipeline's op seeds (see `_resume_point`); the model's dropout RNG
    # states come from the checkpoint.
    keras.utils.set_random_seed(config["seed"])
    train, val, samples = _datasets(config)
    if state:
        model = pk.Pix2Pix.load(state["checkpoint"])
        _truncate_metrics(os.path.join(run_dir, METRICS_FILE), initial_epoch)
        _say(args, f"Resuming {run_dir} at epoch {initial_epoch + 1} of "
             f"{config['epochs']} from {state['checkpoint']}")
    else:
        model = _build_model(config)
        _say(args, f"Training into {run_dir} (compute dtype "
             f"{model.generator.dtype_policy.compute_dtype})")
    os.makedirs(run_dir, exist_ok=True)
    _write_json(os.path.join(run_dir, CONFIG_FILE), config)
    train, steps = _resume_point(train, initial_epoch,
                                 config["steps_per_epoch"])
    metrics_path = os.path.join(run_dir, METRICS_FILE)
    try:
        with warnings.catch_warnings():
            # schedule_warnings said it above, naming the flags.
            warnings.filterwarnings("ignore", message=r"LinearDecay\(",
                                    category=UserWarning)
            model.fit(
                train,
                epochs=config["epochs"],
                initial_epoch=initial_epoch,
                steps_per_epoch=steps,
                validation_data=val,
                callbacks=_callbacks(config, run_dir, samples),
                verbose=args.verbose,
                shuffle=False,  # the dataset shuffles itself
            )
    finally:
        if os.path.isfile(metrics_path):
            try:
                plot_training_curves(
                    metrics_path, os.path.join(run_dir, CURVES_FILE))
            except (OSError, ValueError):
                pass  # nothing logged yet
    model_path = os.path.join(run_dir, MODEL_FILE)
    _write_final_model(model, run_dir, config["epochs"])
    _say(args, f"Wrote {model_path}")
    return EXIT_OK


def _write_final_model(model, run_dir, epochs):
    """Writes `model.keras`: a hard link to the last epoch's checkpoint.

    The checkpoint of the last epoch holds exactly the final model, so
    linking it saves a second write of the file (655 MB at 256×256) and its
    disk space. The link is made under a temporary name and renamed into
    place (atomic); where hard links are not possible, the model is saved.
    """
    path = os.path.join(run_dir, MODEL_FILE)
    state = _read_state(run_dir)
    if state is not None and state["epoch"] == epochs:
        try:
            with atomic_path(path, suffix=".keras") as tmp:
                os.remove(tmp)
                os.link(state["checkpoint"], tmp)
            return path
        except OSError:
            pass
    model.save(path)
    return path


# ----------------------------------------------------------------------
# evaluate, predict, export


def _say(args, message):
    if getattr(args, "verbose", 1):
        print(message, flush=True)


def _pretrained_file(name):
    """The converted .keras file of a pretrained name (downloaded once)."""
    try:
        return pretrained_lib.pretrained_path(name)
    except (ValueError, OSError) as e:
        raise _Failure(str(e)) from None


def _model_path(path):
    """The .keras file of a path (a file, a run folder or a pretrained
    name) and its run dir."""
    if path in pretrained_lib.PRETRAINED and not os.path.exists(path):
        return _pretrained_file(path), None
    path = os.path.abspath(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise UsageError(
                f"{path} is a SavedModel export (for serving), not a .keras "
                "model or a run folder"
            )
        final = os.path.join(path, MODEL_FILE)
        if os.path.isfile(final):
            return final, path
        state = _read_state(path)
        if state is not None:
            return state["checkpoint"], path
        raise UsageError(
            f"{path}: no {MODEL_FILE} and no checkpoint in this folder"
        )
    if not os.path.isfile(path):
        raise UsageError(f"no such model file: {path}")
    return path, None


def _load_model(path):
    file, run_dir = _model_path(path)
    return pk.Pix2Pix.load(file), run_dir


def _run_config(run_dir):
    if run_dir is None:
        return {}
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        return {}
    return read_config_file(path)


def _model_size(model):
    shape = model.generator.inputs[0].shape
    return shape[1], shape[2], shape[3], model.generator.outputs[0].shape[3]


def cmd_evaluate(args):
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, not {args.batch_size}")
    file, run_dir = _model_path(args.model)
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
    h, w, c_in, c_out = _model_size(model)
    dataset = pk.load_paired_dataset(
        data,
        layout=args.layout or run.get("layout", "auto"),
        direction=args.direction or run.get("direction", "AtoB"),
        image_size=(h, w), in_channels=c_in, out_channels=c_out,
        training=False, batch_size=args.batch_size,
    )
    total = int(dataset.cardinality())
    # The progress bar goes to stderr: stdout is the JSON report.
    with contextlib.redirect_stdout(sys.stderr):
        bar = keras.utils.Progbar(total if total > 0 else None,
                                  verbose=args.verbose, unit_name="batch")

        def batches():
            for batch in dataset:
                yield batch
                bar.add(1)

        report = pk.evaluate(model, batches(), metrics=args.metrics,
                             output_dir=args.output,
                             feature_extractor=args.fid_network)
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
        os.path.join(path, f) for f in os.listdir(path)
        if f.lower().endswith(IMAGE_EXTENSIONS)
        and fnmatch.fnmatch(f, pattern)
        and os.path.isfile(os.path.join(path, f))
    )
    if not files:
        raise UsageError(
            f"{path} has no images ({', '.join(IMAGE_EXTENSIONS)}) matching "
            f"{pattern!r}"
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
        for flag, value in (("--tile-size", args.tile_size),
                            ("--overlap", args.overlap)):
            if value is not None:
                raise UsageError(f"{flag} needs --tile")
        return None
    h, w = _model_size(model)[:2]
    if args.tile_size is not None and args.tile_size < 1:
        raise UsageError(f"--tile-size must be >= 1, not {args.tile_size}")
    tile = (h, w) if args.tile_size is None else (args.tile_size,) * 2
    overlap = (
        (tile[0] // 4, tile[1] // 4) if args.overlap is None else args.overlap
    )
    try:
        pk.tile_layout(*tile, tile, overlap=overlap,
                       align=tiling_lib._default_align(model.generator))
        generator = tiling_lib._at_size(model.generator, tile)
    except ValueError as e:
        raise UsageError(f"--tile: {e}") from None
    return generator, tile, overlap


def cmd_predict(args):
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, not {args.batch_size}")
    model_file, _ = _model_path(args.model)
    files = _input_files(args.input, args.glob)
    model = pk.Pix2Pix.load(model_file)
    h, w, c_in, c_out = _model_size(model)
    if c_in not in (1, 3, 4) or c_out not in (1, 3, 4):
        raise UsageError(
            f"the model maps {c_in} to {c_out} channels; predict reads and "
            "writes 1, 3 or 4 channel images"
        )
    tiling = _tiling_args(args, model)
    out_dir = os.path.abspath(args.output)
    os.makedirs(out_dir, exist_ok=True)
    targets = [
        os.path.join(out_dir,
                     os.path.splitext(os.path.basename(f))[0] + ".png")
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
        raise _Failure(
            f"{len(bad)} unreadable image(s); nothing was written "
            f"(--skip-bad skips them):\n  {lines}"
        )
    skip = {f for f, _ in bad}
    todo = [(f, t) for f, t in zip(files, targets) if f not in skip]
    bar = keras.utils.Progbar(len(todo), verbose=args.verbose,
                              unit_name="image")
    written = 0
    # With --tile, one image at a time (any size), `batch_size` tiles per
    # model call.
    step = 1 if tiling else args.batch_size
    for start in range(0, len(todo), step):
        chunk, batch, sizes = [], [], []
        for f, t in todo[start:start + step]:
            try:
                image = _read_image(f, c_in)
            except (ValueError, OSError) as e:
                if not args.skip_bad:
                    raise _Failure(
                        f"{e}; {written} of {len(todo)} image(s) were "
                        f"written to {out_dir}") from None
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
                generator, batch[0], tile_size=tile, overlap=overlap,
                batch_size=args.batch_size)[None]
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
        print(f"{PROG} predict: skipped {len(bad)} unreadable image(s):\n  "
              f"{lines}", file=sys.stderr)
    _say(args, f"Wrote {written} image(s) to {out_dir}")
    return EXIT_OK


def cmd_export(args):
    out = os.path.abspath(args.output)
    if os.path.exists(out) and not args.overwrite:
        raise UsageError(f"{out} exists: pass --overwrite to replace it")
    model, _ = _load_model(args.model)
    path = model.export(out)
    print(f"Exported the generator to {path} (endpoints: serve, "
          "serving_default)")
    return EXIT_OK


def cmd_serve(args):
    from pix2pix_keras import serve as serve_lib

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, not {args.port}")
    if args.host not in serve_lib.LOOPBACK and not args.allow_remote:
        raise UsageError(
            f"--host {args.host} is not a loopback address and the page has "
            "no login: pass --allow-remote to serve it to the network")
    if args.image_size is not None and args.image_size < 1:
        raise UsageError(f"--image-size must be >= 1, not {args.image_size}")
    if args.palette not in ("facades", "none") and not os.path.isfile(
            args.palette):
        raise UsageError(f"--palette: no such file: {args.palette}")
    if (args.model in pretrained_lib.PRETRAINED
            and not os.path.exists(args.model)):
        model = _pretrained_file(args.model)
    else:
        model = os.path.abspath(args.model)
    if not os.path.exists(model):
        raise UsageError(f"no such model file or folder: {model}")
    try:
        serve_lib.serve(model, host=args.host, port=args.port,
                        allow_remote=args.allow_remote,
                        image_size=args.image_size, palette=args.palette)
    except OSError as e:
        raise _Failure(str(e)) from None
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
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag} must be >= 1, not {value}")
    if not os.path.isfile(args.checkpoint):
        raise UsageError(f"no such checkpoint file: {args.checkpoint}")
    try:
        model = pytorch_lib.convert_pytorch(
            args.checkpoint, out, netG=args.netG, ngf=args.ngf,
            norm=args.norm, no_dropout=args.no_dropout,
            input_nc=args.input_nc, output_nc=args.output_nc,
            image_size=args.image_size,
            inference_statistics=args.inference_statistics,
        )
    except pytorch_lib.CheckpointError as e:
        raise _Failure(str(e)) from None
    except ValueError as e:  # e.g. an image size the U-Net cannot take
        raise UsageError(str(e)) from None
    h, w, c_in, c_out = _model_size(model)
    print(f"Wrote {out}: {args.netG} generator, {h}x{w}, {c_in} -> {c_out} "
          f"channels, {model.generator.count_params():,} parameters")
    return EXIT_OK


def cmd_presets(args):
    infos = pretrained_lib.list_pretrained()
    if args.json:
        print(json.dumps(
            {name: {"task": i.task, "dataset": i.dataset,
                    "direction": i.direction, "image_size": i.image_size,
                    "netG": i.netG, "origin": i.origin,
                    "file_hash": i.file_hash}
             for name, i in infos.items()}, indent=2))
        return EXIT_OK
    width = max(len(n) for n in infos)
    task = max(len(i.task) for i in infos.values())
    print(f"{'name':<{width}}  {'task':<{task}}  {'dataset':<11}  "
          "direction  input")
    for name, i in infos.items():
        print(f"{name:<{width}}  {i.task:<{task}}  {i.dataset:<11}  "
              f"{i.direction:<9}  {i.image_size}x{i.image_size}")
    return EXIT_OK


# ----------------------------------------------------------------------
# datasets


def cmd_datasets_list(args):
    infos = datasets_lib.list_datasets()
    if args.json:
        print(json.dumps(
            {name: {"origin": i.origin, "splits": list(i.splits),
                    "direction": i.direction, "size": i.size,
                    "description": i.description}
             for name, i in infos.items()}, indent=2))
        return EXIT_OK
    width = max(len(n) for n in infos)
    print(f"{'name':<{width}}  {'size':>7}  direction  splits")
    for name, info in infos.items():
        print(f"{name:<{width}}  {info.size:>7}  {info.direction:<9}  "
              f"{','.join(info.splits)}")
    return EXIT_OK


def cmd_datasets_download(args):
    infos = datasets_lib.list_datasets()
    if args.name not in infos:
        raise UsageError(
            f"unknown dataset {args.name!r}; available: {', '.join(infos)}"
        )
    root = datasets_lib.download(args.name, directory=args.directory,
                             origin=args.origin, file_hash=args.file_hash)
    print(root)
    return EXIT_OK


# ----------------------------------------------------------------------


class _Failure(Exception):
    """A runtime failure with a complete message: exit code 1."""


def main(argv=None):
    """Runs `pix2pix` with `argv` (default `sys.argv[1:]`).

    Returns:
        int. `0` success, `1` runtime failure, `2` usage or configuration
        error (argparse's own errors included).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and argparse errors
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if getattr(args, "func", None) is None:  # `pix2pix datasets`
        args.parser.print_help(sys.stderr)
        return EXIT_USAGE
    name = f"{PROG} {args.command}"
    try:
        return args.func(args)
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{name}: interrupted.{_resume_hint(args)}", file=sys.stderr)
        return 130
    except _Failure as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as e:  # noqa: BLE001 - reported, with exit code 1
        if args.traceback:
            traceback.print_exc()
        print(f"{name}: error: {type(e).__name__}: {e}{_resume_hint(args)}",
              file=sys.stderr)
        return EXIT_FAILURE


def _resume_hint(args):
    run_dir = getattr(args, "run_dir", None)
    try:
        if run_dir is None or _read_state(run_dir) is None:
            return ""
    except UsageError:
        return ""
    return f" Continue with: {PROG} train --resume {run_dir}"


if __name__ == "__main__":
    sys.exit(main())

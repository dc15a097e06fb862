"""The training configuration of `pix2pix train`: every key, its default,
type and range, the config files, and the learning-rate schedule checks.

A config is a dict of all the keys of `TRAIN_OPTIONS`; `read_config_file`
reads a partial one (JSON or YAML), `check_config` validates a complete
one (types, ranges and the rules between keys) and `schedule_warnings`
says what a valid but doubtful learning-rate schedule will do.
"""

import difflib
import json
import math
import os

import pix2pix_keras as pk
from pix2pix_keras.cli import options
from pix2pix_keras.cli.common import UsageError
from pix2pix_keras.cli.options import _PATH_KEYS
from pix2pix_keras.cli.options import DEFAULT_HALVING_EVERY as DEFAULT_HALVING_EVERY
from pix2pix_keras.cli.options import DEFAULT_LR_POLICY as DEFAULT_LR_POLICY
from pix2pix_keras.cli.options import LR_POLICIES as LR_POLICIES
from pix2pix_keras.cli.options import MIN_RATE_FRACTION as MIN_RATE_FRACTION
from pix2pix_keras.cli.options import MIXED_PRECISION as MIXED_PRECISION
from pix2pix_keras.cli.options import OPTIONS as OPTIONS
from pix2pix_keras.cli.options import RESUME_KEYS as RESUME_KEYS
from pix2pix_keras.cli.options import TRAIN_OPTIONS as TRAIN_OPTIONS
from pix2pix_keras.cli.options import Option as Option
from pix2pix_keras.utils import cpu_info

# The names of `options` re-exported here (all but `STRATEGIES`), then
# this module's own.
__all__ = [name for name in options.__all__ if name != "STRATEGIES"] + [
    "check_config",
    "compute_policy",
    "cpu_has_bf16",
    "default_config",
    "lr_schedule",
    "read_config_file",
    "schedule_warnings",
]


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
        raise UsageError(f"{path}: a config file must end in .json, .yaml or .yml")
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
                f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
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
    _check_generator_keys(out, where)
    if out["generator"] == "unet" and out["depth"] is not None:
        depth = out["depth"]
        if size[0] % 2**depth or size[1] % 2**depth:
            raise UsageError(
                f"{where}: `image_size` {list(size)} does not suit the U-Net "
                f"generator with depth {depth}: its sides must be divisible "
                f"by 2**depth = {2**depth}."
            )
    elif out["generator"] == "unet":
        depth = int(math.floor(math.log2(min(size))))
        if depth < 2 or size[0] % 2**depth or size[1] % 2**depth:
            raise UsageError(
                f"{where}: `image_size` {list(size)} does not suit the U-Net "
                "generator: its sides must be divisible by 2**depth, where "
                "depth = floor(log2(shorter side)) (e.g. 32, 64, 128, 256, "
                "or 256 512)."
            )
    else:
        factor = 2 ** out["resnet_downsampling"]
        if (
            size[0] % factor
            or size[1] % factor
            or min(size) // factor < 2
            or min(size) < 4
        ):
            raise UsageError(
                f"{where}: `image_size` {list(size)} must be divisible by "
                f"2**resnet_downsampling = {factor} and leave at least 2 "
                "pixels at the residual blocks for the resnet generator."
            )
    if out["load_size"] is not None and out["preprocess"] == "resize_and_crop":
        load = _pair(out["load_size"])
        if load[0] < size[0] or load[1] < size[1]:
            raise UsageError(
                f"{where}: `load_size` {list(load)} must be at least "
                f"`image_size` {list(size)} to crop from it."
            )
    if out["fid_every"] and out["val"] is None:
        raise UsageError(
            f"{where}: `fid_every` {out['fid_every']} needs validation pairs: "
            "set `val` (--val DIR), or fid_every 0."
        )
    if out["preprocess"] == "none" and out["batch_size"] != 1:
        raise UsageError(
            f"{where}: preprocess='none' gives images of different sizes; "
            "use `batch_size` 1."
        )
    _check_lambda_schedule(out, where)
    return _check_schedule(out, where)


#: Keys of one generator only, and their values that leave them unused.
_UNET_KEYS = {"depth": None, "attention": False, "residual_blocks": 0}
_RESNET_KEYS = {"resnet_downsampling": 2}


def _check_generator_keys(config, where):
    """A U-Net option set with the resnet generator, or the other way
    round, is refused (it would be ignored)."""
    other = _UNET_KEYS if config["generator"] == "resnet" else _RESNET_KEYS
    owner = "unet" if config["generator"] == "resnet" else "resnet"
    for key, unused in other.items():
        if config[key] != unused:
            given = OPTIONS[key].flag
            if config[key] is not True:
                given += f" {config[key]}"
            raise UsageError(
                f"{where}: `{key}` ({given}) is a "
                f"setting of the {owner} generator, but generator is "
                f"{config['generator']!r}: drop it or choose --generator "
                f"{owner}"
            )


def _check_lambda_schedule(config, where):
    """Checks the keys of the λ schedule and fills in its epochs
    (idempotent): `lambda_start_epoch` null is 0, `lambda_end_epoch` null
    the last epoch (`epochs`)."""
    keys = ("lambda_start_epoch", "lambda_end_epoch")
    if config["lambda_end"] is None:
        for key in keys:
            if config[key] is not None:
                raise UsageError(
                    f"{where}: `{key}` ({OPTIONS[key].flag} {config[key]}) "
                    "is a setting of the lambda schedule, which is off: set "
                    "`lambda_end` (--lambda-end X) too, or drop it"
                )
        return config
    start = config["lambda_start_epoch"]
    start = 0 if start is None else start
    end = config["lambda_end_epoch"]
    end = config["epochs"] if end is None else end
    if end <= start:
        raise UsageError(
            f"{where}: `lambda_end_epoch` must be greater than "
            f"`lambda_start_epoch` ({start}); null takes `epochs`. "
            f"Received: lambda_end_epoch={end}"
        )
    config["lambda_start_epoch"], config["lambda_end_epoch"] = start, end
    return config


def lambda_schedule(config):
    """The `LambdaSchedule` of a checked config (`None`: constant λ)."""
    if config["lambda_end"] is None:
        return None
    return pk.LambdaSchedule(
        end=config["lambda_end"],
        start_epoch=config["lambda_start_epoch"],
        end_epoch=config["lambda_end_epoch"],
    )


#: The keys of each learning-rate policy.
_POLICY_KEYS = {
    "linear": ("n_epochs", "n_epochs_decay"),
    "halving": ("lr_halving_every",),
    "constant": (),
}


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
        return pk.LinearDecay(
            n_epochs=config["n_epochs"], n_epochs_decay=config["n_epochs_decay"]
        )
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
                    "--lr-policy constant)"
                )
        elif n + decay > epochs:
            warnings.append(
                f"{flags} epochs is longer than the run (--epochs {epochs}): "
                "the decay is cut off and the last epoch trains at "
                f"{schedule.multiplier(epochs - 1):.3g} × the base rate "
                f"instead of 1/{decay + 1}; set --n-epochs-decay "
                f"{epochs - n} (or raise --epochs to {n + decay})"
            )
        elif n + decay < epochs:
            ended_early = True
            warnings.append(
                f"{flags} epochs is shorter than the run (--epochs "
                f"{epochs}): the rates are 0 from epoch {n + decay + 1} on, "
                f"so the last {epochs - n - decay} epoch(s) learn nothing; "
                f"set --n-epochs-decay {epochs - n}"
            )
    last = (9 * epochs + 9) // 10 - 1  # 0-based, the last of the first 90 %
    fraction = schedule.multiplier(last)
    if fraction < MIN_RATE_FRACTION and not ended_early:
        said = (
            f"drives the rates to {fraction:.2g} × the base rate by epoch "
            f"{last + 1} of {epochs}, below {MIN_RATE_FRACTION:g} × base "
            "before the last tenth of the run, so its later epochs "
            "learn almost nothing"
        )
        if config["lr_policy"] == "halving":
            every = config["lr_halving_every"]
            warnings.append(
                f"--lr-halving-every {every} with --epochs {epochs} {said}: "
                f"use --lr-policy linear, or --lr-halving-every "
                f"{last // 10 + 1} or more"
            )
        else:
            warnings.append(
                f"--lr-policy linear with --n-epochs {config['n_epochs']} "
                f"--n-epochs-decay {config['n_epochs_decay']} and --epochs "
                f"{epochs} {said}: let the decay end with the run"
            )
    return warnings


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


def _load_size(config):
    if config["load_size"] is not None:
        return _pair(config["load_size"])
    return pk.default_load_size(config["image_size"])


def cpu_has_bf16(flags=None):
    """Whether the CPU computes bfloat16 natively (AVX-512-bf16 or AMX).

    Args:
        flags: iterable of str or `None`. CPU flag names. Defaults to
            `None`, this machine's (`pix2pix_keras.utils.cpu_info`).

    Returns:
        bool.
    """
    if flags is None:
        flags = cpu_info().flags
    return bool(set(flags) & {"avx512_bf16", "amx_bf16"})


def compute_policy(mixed_precision):
    """The Keras dtype policy of a `mixed_precision` configuration value.

    Args:
        mixed_precision: str. `"off"`, `"bf16"`, `"float16"` or `"auto"`
            (bf16 on a GPU or on a CPU with native bfloat16, see
            `cpu_has_bf16`).

    Returns:
        str. `"float32"`, `"mixed_bfloat16"` or `"mixed_float16"`.
    """
    if mixed_precision == "float16":
        return "mixed_float16"
    if mixed_precision == "auto":
        import tensorflow as tf

        native = bool(tf.config.list_physical_devices("GPU"))
        mixed_precision = "bf16" if native or cpu_has_bf16() else "off"
    return "mixed_bfloat16" if mixed_precision == "bf16" else "float32"

"""`pix2pix`: the command line (train, evaluate, predict, export, serve,
convert-pytorch, presets, datasets).

`main(argv)` parses `argv` (default `sys.argv[1:]`), runs one subcommand
and returns its exit code: `0` success, `1` a runtime failure (unreadable
image, failed download, error during training), `2` a usage or
configuration error (unknown or invalid key or flag, missing file or
folder); the message names the key, flag or file. `pix2pix <command>
--help` describes each command, and `docs/cli.md` the whole interface.

`pix2pix train` writes one run folder (see `pix2pix_keras.runs`).

The modules: `parser` (the flags), `config` (the training configuration
and its checks), `reference` (the table of the configuration keys in
`docs/cli.md`), `train`, `inference` (evaluate, predict, export, serve,
convert-pytorch) and `listing` (presets, datasets). TensorFlow is imported
only by the commands that need it: `pix2pix --help`, `--version`,
`<command> --help`, `presets` and `datasets list` start without it.
"""

import importlib
import os
import sys
import traceback

from pix2pix_keras.cli.common import EXIT_FAILURE
from pix2pix_keras.cli.common import EXIT_OK
from pix2pix_keras.cli.common import EXIT_USAGE
from pix2pix_keras.cli.common import IMAGE_EXTENSIONS
from pix2pix_keras.cli.common import PROG
from pix2pix_keras.cli.common import Failure
from pix2pix_keras.cli.common import UsageError
from pix2pix_keras.cli.config import DEFAULT_HALVING_EVERY
from pix2pix_keras.cli.config import DEFAULT_LR_POLICY
from pix2pix_keras.cli.config import LR_POLICIES
from pix2pix_keras.cli.config import MIN_RATE_FRACTION
from pix2pix_keras.cli.config import OPTIONS
from pix2pix_keras.cli.config import RESUME_KEYS
from pix2pix_keras.cli.config import TRAIN_OPTIONS
from pix2pix_keras.cli.config import Option
from pix2pix_keras.cli.config import _infer_lr_policy
from pix2pix_keras.cli.config import check_config
from pix2pix_keras.cli.config import compute_policy
from pix2pix_keras.cli.config import cpu_has_bf16
from pix2pix_keras.cli.config import default_config
from pix2pix_keras.cli.config import lr_schedule
from pix2pix_keras.cli.config import read_config_file
from pix2pix_keras.cli.config import schedule_warnings
from pix2pix_keras.cli.parser import build_parser
from pix2pix_keras.runs import read_state

#: `128 + SIGPIPE`: the status a shell reports for a tool stopped by a
#: closed pipe (`pix2pix datasets list --json | head -1`).
EXIT_BROKEN_PIPE = 141

#: Names of the command modules, imported on first use (they import
#: TensorFlow).
_LAZY = {
    "plot_training_curves": "train",
    "cmd_train": "train",
    "cmd_evaluate": "inference",
    "cmd_predict": "inference",
    "cmd_export": "inference",
    "cmd_serve": "inference",
    "cmd_convert_pytorch": "inference",
    "cmd_presets": "listing",
    "cmd_datasets_list": "listing",
    "cmd_datasets_download": "listing",
}

__all__ = [
    "main",
    "build_parser",
    "UsageError",
    "Option",
    "TRAIN_OPTIONS",
    "OPTIONS",
    "RESUME_KEYS",
    "LR_POLICIES",
    "DEFAULT_LR_POLICY",
    "DEFAULT_HALVING_EVERY",
    "MIN_RATE_FRACTION",
    "default_config",
    "read_config_file",
    "check_config",
    "compute_policy",
    "cpu_has_bf16",
    "lr_schedule",
    "schedule_warnings",
    "plot_training_curves",
    "EXIT_OK",
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "EXIT_BROKEN_PIPE",
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command(func):
    """A parser's `func` default: a function, or `"module:function"` of
    this package (imported now)."""
    if isinstance(func, str):
        module, name = func.split(":")
        func = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return func


def main(argv=None):
    """Runs `pix2pix` with `argv` (default `sys.argv[1:]`).

    Output to a pipe that closes early (`pix2pix datasets list | head -1`)
    ends the command quietly with status 141, as Unix tools stopped by
    SIGPIPE do.

    Returns:
        int. `0` success, `1` runtime failure, `2` usage or configuration
        error (argparse's own errors included), `130` interrupted, `141`
        closed output pipe.
    """
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    return code


def _stdout_to_devnull():
    """Points stdout at /dev/null, so that the interpreter's final flush
    of the unwritable rest does not fail again (as the Python docs on
    SIGPIPE recommend)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass  # not a real file (captured output): nothing is flushed later


def _main(argv):
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
        return _command(args.func)(args)
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{name}: interrupted.{_resume_hint(args)}", file=sys.stderr)
        return 130
    except Failure as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        raise
    except Exception as e:  # noqa: BLE001 - reported, with exit code 1
        if args.traceback:
            traceback.print_exc()
        print(
            f"{name}: error: {type(e).__name__}: {e}{_resume_hint(args)}",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _resume_hint(args):
    run_dir = getattr(args, "run_dir", None)
    try:
        if run_dir is None or read_state(run_dir) is None:
            return ""
    except UsageError:
        return ""
    return f" Continue with: {PROG} train --resume {run_dir}"


if __name__ == "__main__":
    sys.exit(main())

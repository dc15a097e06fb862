"""What the commands of `pix2pix` share: exit codes, errors, messages and
the one range check of numeric flags."""

from pix2pix_keras.runs import Failure
from pix2pix_keras.runs import UsageError

__all__ = [
    "EXIT_OK",
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "PROG",
    "IMAGE_EXTENSIONS",
    "Failure",
    "UsageError",
    "say",
    "check_flag",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

PROG = "pix2pix"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def say(args, message):
    """Prints a progress message unless `--verbose 0`."""
    if getattr(args, "verbose", 1):
        print(message, flush=True)


def check_flag(flag, value, low=1, high=None):
    """Returns `value` if it is `None` or in `low..high`; else raises
    `UsageError` naming the flag (`--port must be in 0..65535, not -1`,
    `--batch-size must be >= 1, not 0`)."""
    if value is None:
        return value
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise UsageError(f"{flag} must be {bound}, not {value}")
    return value

"""Small helpers: atomic file writes."""

import contextlib
import os
import tempfile


def check_int(minimum=1, **values):
    """Raises a `ValueError` unless every keyword value is an int >= `minimum`.

    Booleans are rejected too. The message names the argument and its value.

    Example:
    >>> check_int(filters=64, depth=8)
    >>> check_int(filters=0)
    Traceback (most recent call last):
    ...
    ValueError: `filters` must be an int >= 1. Received: filters=0
    """
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(
                f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
            )


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside `path`; renames it over `path` on success.

    The temporary file is fsynced before the rename and the directory after
    it, so a crash leaves either the old file or the complete new one. On an
    exception the temporary file is removed and `path` is untouched.

    Args:
        path: str. Final file path.
        suffix: str. Suffix of the temporary name (some writers check the
            extension). Defaults to `""`.

    Example:

    ```python
    with atomic_path("metrics.json") as tmp:
        with open(tmp, "w") as f:
            json.dump(metrics, f)
    ```
    """
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.tmp-", suffix=suffix, dir=directory
    )
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

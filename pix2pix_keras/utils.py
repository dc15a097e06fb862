"""Small helpers: argument checks, atomic file writes, file checks, the CPU."""

import collections
import contextlib
import errno
import functools
import inspect
import math
import numbers
import os
import platform
import secrets
import socket
import stat
import zipfile

__all__ = [
    "BASE_CONFIG_KEYS",
    "CPUInfo",
    "atomic_path",
    "check_config_keys",
    "check_int",
    "check_keras_file",
    "check_number",
    "check_subset",
    "config_differences",
    "config_keys",
    "cpu_info",
    "lookup",
    "read_palette_lines",
    "remove_stale_temporaries",
]


def lookup(registry, name, what, available="Available"):
    """`registry[name]`, or a `ValueError` that lists the known names.

    Example:
    >>> lookup({"a": 1, "b": 2}, "c", "letter")
    Traceback (most recent call last):
    ...
    ValueError: Unknown letter 'c'. Available: a, b.
    """
    if name not in registry:
        raise ValueError(
            f"Unknown {what} {name!r}. {available}: {', '.join(registry)}."
        )
    return registry[name]


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


def check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    """Returns `value` as a float if it is a finite real number in bounds.

    Booleans, NaN and infinities are rejected; `low` / `high` are
    inclusive unless `low_open` / `high_open`. The message names the
    argument, the bounds and the value received.

    Example:
    >>> check_number("lambda_l1", 100)
    100.0
    >>> check_number("hue", 0.7, low=0.0, high=0.5)
    Traceback (most recent call last):
    ...
    ValueError: `hue` must be a finite number >= 0.0 and <= 0.5. Received: hue=0.7
    """
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (low is None or (value > low if low_open else value >= low))
        and (high is None or (value < high if high_open else value <= high))
    )
    if not ok:
        parts = []
        if low is not None:
            parts.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            parts.append(f"{'<' if high_open else '<='} {high}")
        bounds = f" {' and '.join(parts)}" if parts else ""
        raise ValueError(
            f"`{name}` must be a finite number{bounds}. Received: {name}={value!r}"
        )
    return float(value)


#: Config keys every Keras layer / model accepts besides its own arguments.
BASE_CONFIG_KEYS = ("name", "trainable", "dtype")


def check_subset(name, values, allowed, noun="list"):
    """Raises a `ValueError` unless `values` is non-empty and all `allowed`.

    Args:
        name: str. The argument's name, for the message.
        values: list or tuple. The values received.
        allowed: tuple. The values accepted.
        noun: str. What `values` must be, for the message. Defaults to
            `"list"`.

    Example:
    >>> check_subset("metrics", ["l1"], ("l1", "psnr"))
    >>> check_subset("metrics", ["fid"], ("l1", "psnr"))
    Traceback (most recent call last):
    ...
    ValueError: `metrics` must be a non-empty list of ('l1', 'psnr'). Received: metrics=['fid']
    """
    if not values or any(v not in allowed for v in values):
        raise ValueError(
            f"`{name}` must be a non-empty {noun} of {allowed}. "
            f"Received: {name}={values!r}"
        )


def config_keys(cls):
    """The keyword arguments `cls(**config)` understands.

    The named parameters of `__init__` of `cls` and of every base class it
    forwards `**kwargs` to, up to (not including) the Keras classes, plus
    `BASE_CONFIG_KEYS`. Meant for classes whose constructors name all their
    arguments (this package's): one that reads keys out of `**kwargs`
    itself would be under-counted.
    """
    keys = set(BASE_CONFIG_KEYS)
    for klass in cls.__mro__:
        module = getattr(klass, "__module__", "") or ""
        if module.startswith("keras") or klass is object:
            break
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(vars(klass)["__init__"]).parameters
        keys.update(
            name
            for name, p in params.items()
            if name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break  # nothing is forwarded further up
    return keys


def check_config_keys(cls, config, what=None):
    """Raises a `ValueError` naming the keys of `config` that `cls` ignores.

    Keras functional models accept (and silently drop) unknown keyword
    arguments, so a misspelt or foreign key in a saved config would
    otherwise be lost without a word.

    Args:
        cls: the class whose `from_config` / constructor gets `config`.
        config: dict. The config.
        what: str or `None`. How to name the config in the message.
            Defaults to the class name.

    Example:
    >>> class Net:
    ...     def __init__(self, filters=8, name=None): pass
    >>> check_config_keys(Net, {"filters": 8, "name": "n"})
    >>> check_config_keys(Net, {"filtres": 8})
    Traceback (most recent call last):
    ...
    ValueError: Unknown key(s) in the Net config: ['filtres']. Expected a
    subset of ['dtype', 'filters', 'name', 'trainable'].
    """
    keys = config_keys(cls)
    if not isinstance(config, dict):
        return
    unknown = sorted(set(config) - keys)
    if unknown:
        raise ValueError(
            f"Unknown key(s) in the {what or cls.__name__} config: {unknown}. "
            f"Expected a subset of {sorted(keys)}."
        )


#: Config entries that do not describe the architecture.
_NOT_ARCHITECTURE = (
    "name",
    "trainable",
    "module",
    "registered_name",
    "build_config",
    "compile_config",
)


def config_differences(saved, current, path=""):
    """Lists `(key path, saved value, current value)` where configs differ.

    Serialized sub-objects are compared through their `config` (their
    `class_name` counts); names and other entries that do not describe the
    architecture are ignored.

    Example:
    >>> config_differences({"filters": 16, "name": "a"},
    ...                    {"filters": 8, "name": "b"})
    [('filters', 16, 8)]
    """
    if isinstance(saved, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(saved) | set(current), key=str):
            if key in _NOT_ARCHITECTURE:
                continue
            if key == "config":  # a serialized object's own entries
                sub = path
            else:
                sub = f"{path}.{key}" if path else key
            if key not in saved or key not in current:
                out.append(
                    (sub, saved.get(key, "<absent>"), current.get(key, "<absent>"))
                )
            else:
                out += config_differences(saved[key], current[key], sub)
        return out
    if (
        isinstance(saved, (list, tuple))
        and isinstance(current, (list, tuple))
        and len(saved) == len(current)
    ):
        out = []
        for i, (a, b) in enumerate(zip(saved, current)):
            out += config_differences(a, b, f"{path}[{i}]")
        return out
    return [] if saved == current else [(path, saved, current)]


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


def _host():
    name = socket.gethostname() or "host"
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in name)


def _tmp_prefix(basename):
    return f".{basename}.tmp-"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_temporaries(path):
    """Deletes the temporaries `atomic_path` left for `path` when killed.

    A process killed while writing (SIGKILL, power loss) cannot remove its
    temporary file. Temporaries carry the writer's host and process id;
    this removes the ones of this host whose process no longer runs, so at
    most one stray temporary per killed writer exists until the next write
    of the same path. Other hosts' temporaries (shared file systems) and
    live writers' are left alone. POSIX only (a no-op elsewhere).

    Args:
        path: str. The final file path.

    Returns:
        list of str. The removed paths.
    """
    if os.name != "posix":
        return []
    path = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(path)
    prefix = _tmp_prefix(base)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    host = _host()
    for name in names:
        if not name.startswith(prefix):
            continue
        owner = name[len(prefix) :].rsplit("-", 1)[0]  # "<pid>@<host>"
        pid, _, owner_host = owner.partition("@")
        if owner_host != host or not pid.isdigit():
            continue
        pid = int(pid)
        if pid == os.getpid() or _pid_alive(pid):
            continue
        full = os.path.join(directory, name)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                continue
            os.remove(full)
            removed.append(full)
        except OSError:
            pass
    return removed


def _create_temporary(directory, base, suffix):
    """Creates an empty file beside the target; returns its path.

    Unlike `tempfile.mkstemp` (mode 0600), the file is created with mode
    0666 minus the umask, so the renamed result has the usual permissions.
    """
    prefix = f"{_tmp_prefix(base)}{os.getpid()}@{_host()}-"
    for _ in range(100):
        tmp = os.path.join(directory, f"{prefix}{secrets.token_hex(6)}{suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(
        errno.EEXIST, "No usable temporary file name found", directory
    )


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside `path`; renames it over `path` on success.

    The temporary file is fsynced before the rename and the directory after
    it, so a crash leaves either the old file or the complete new one. On an
    exception the temporary file is removed and `path` is untouched. A
    process killed mid-write cannot clean up: its temporary
    (`.<name>.tmp-<pid>@<host>-<random><suffix>`) is removed by the next
    write of the same path (see `remove_stale_temporaries`). The new file
    keeps the mode of the file it replaces (else 0666 minus the umask).

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
    directory, base = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _create_temporary(directory, base, suffix)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except OSError:
            pass  # no previous file
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_keras_file(path):
    """Checks that `path` is a complete `.keras` archive; returns its path.

    `keras.saving.load_model` reports a truncated file as "File not found"
    and a damaged one as `zipfile.BadZipFile` without the file's name.
    This reads every member of the archive and checks its CRC-32 (about as
    long as loading it), and names the file in its errors.

    Args:
        path: str or path-like. The `.keras` file.

    Returns:
        str. The absolute path.

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if it is not a complete, undamaged `.keras` archive.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(
            errno.ENOENT,
            "No .keras file here"
            + (" (it is a directory)" if os.path.isdir(path) else ""),
            path,
        )
    size = os.path.getsize(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(
            f"{path} is not a complete .keras file ({size} bytes; {e}): it "
            "is truncated (an interrupted copy or save?) or not a Keras "
            "archive. Use an earlier checkpoint."
        ) from e
    with archive:
        names = archive.namelist()
        try:
            bad = archive.testzip()
        except Exception as e:  # zlib.error, EOFError: a damaged stream
            bad = f"a member ({type(e).__name__}: {e})"
    if bad is not None:
        raise ValueError(
            f"{path} is damaged: {bad} fails its checksum. Use an earlier checkpoint."
        )
    missing = {"config.json", "metadata.json"} - set(names)
    if missing:
        raise ValueError(
            f"{path} is a zip file but not a .keras model: it lacks {sorted(missing)}."
        )
    return path


def read_palette_lines(path):
    """Reads a palette file of `id name r g b` lines (the CMP `palette.txt`).

    Blank lines, `#` comments and lines of fewer than five fields are
    skipped; a name may contain spaces.

    Returns:
        list of `(id, name, (r, g, b))`, in file order.

    Raises:
        ValueError: a line whose id or colour is not an integer, naming the
            file and line.
    """
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) < 5 or parts[0].startswith("#"):
                continue
            try:
                entries.append(
                    (
                        int(parts[0]),
                        " ".join(parts[1:-3]),
                        tuple(int(v) for v in parts[-3:]),
                    )
                )
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: expected `id name r g b` with "
                    f"integer id and colour, got {line.strip()!r}"
                ) from None
    return entries


#: The CPU's `model` name (str) and instruction-set `flags` (frozenset of
#: lower-case names such as `"avx512_bf16"`), as `cpu_info` returns them.
CPUInfo = collections.namedtuple("CPUInfo", ["model", "flags"])


@functools.lru_cache(maxsize=None)
def cpu_info():
    """This machine's CPU model and instruction-set flags (read once).

    The operating system's report, read by py-cpuinfo on Linux, macOS and
    Windows. Where it cannot tell, the model falls back to
    `platform.processor()` (or the machine type) and the flags are empty.

    Returns:
        A `CPUInfo` named tuple `(model, flags)`.

    Example:
    >>> info = cpu_info()
    >>> isinstance(info.model, str) and isinstance(info.flags, frozenset)
    True
    """
    import cpuinfo

    try:
        info = cpuinfo.get_cpu_info()
    except Exception:  # an unknown platform: no model, no flags
        info = {}
    model = info.get("brand_raw") or platform.processor() or platform.machine()
    return CPUInfo(model, frozenset(info.get("flags", ())))

"""Helpers shared by the test modules (`from tests._helpers import ...`).

Not a test module. The tiny models and data are in tests/conftest.py.
"""

import contextlib
import json
import os
import re
import socket
import subprocess
import time
from unittest import mock

import keras
import numpy as np
import pytest

# The sorted keys of fit()'s history for a Pix2Pix compiled with the
# defaults (no learning-rate callback, no validation data).
PIX2PIX_LOGS = ["d_fake", "d_loss", "d_real", "g_gan", "g_l1", "g_loss"]


ROOT = os.path.join(os.path.dirname(__file__), "..")
DOCS = os.path.join(ROOT, "docs")


def read_page(name, directory=DOCS):
    """The text of a docs page (or of a file `name` in `directory`)."""
    with open(os.path.join(directory, name)) as f:
        return f.read()


def python_blocks(name, directory=DOCS):
    """The ```python blocks of a page, in order."""
    return re.findall(r"```python\n(.*?)```", read_page(name, directory), flags=re.S)


def run_page(page, directory, monkeypatch, source_dir=DOCS):
    """Runs the ```python blocks of `page` in order, in one namespace, with
    `directory` as the working directory.

    Returns:
        `(blocks, namespace)`.
    """
    blocks = python_blocks(page, source_dir)
    monkeypatch.chdir(directory)
    namespace = {"__name__": f"docs_{page.replace('.', '_')}"}
    for block in blocks:
        exec(compile(block, page, "exec"), namespace)
    return blocks, namespace


def to_numpy(x):
    """A tensor, variable or array as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


def max_abs_diff(a, b):
    """The largest absolute difference between two tensors or arrays."""
    return float(np.max(np.abs(to_numpy(a) - to_numpy(b))))


def config_round_trip(model):
    """Rebuilds a model from its config sent through JSON.

    Asserts that the clone's config is JSON-equal to the model's.

    Args:
        model: a Keras model or layer with `get_config` and `from_config`.

    Returns:
        The clone, `type(model).from_config(...)`.
    """
    config = model.get_config()
    clone = type(model).from_config(json.loads(json.dumps(config)))
    assert json.dumps(clone.get_config(), sort_keys=True) == json.dumps(
        config, sort_keys=True
    )
    return clone


@contextlib.contextmanager
def disk_full(method, partial, into=None):
    """Context manager in which `keras.Model.<method>` runs out of disk.

    Inside the block, the method writes `partial` to the path it is given
    and raises `OSError("No space left on device")`, as a full disk would
    half-way through. The block must end with that error, which is caught.

    Args:
        method: the name of the `keras.Model` method, e.g. `"save"`.
        partial: the bytes written before the error.
        into: for a method that writes a folder (`"export"`), the name of
            the file written in a new folder at the path.

    Yields:
        The list of the paths that the method was called with.
    """
    targets = []

    def crashing(self, filepath, *args, **kwargs):
        targets.append(os.fspath(filepath))
        if into is not None:
            os.makedirs(filepath)
            filepath = os.path.join(filepath, into)
        with open(filepath, "wb") as f:
            f.write(partial)
        raise OSError("No space left on device")

    with mock.patch.object(keras.Model, method, crashing):
        with pytest.raises(OSError, match="No space left"):
            yield targets


def free_ports(n):
    """`n` free TCP ports on 127.0.0.1 (for a local TF_CONFIG cluster)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_logged(argv, log_path, **popen_kw):
    """`subprocess.Popen(argv, **popen_kw)` with no stdin and its output
    (stdout and stderr) written to `log_path`, which becomes the process's
    `log_path` attribute (what `wait_all` reads)."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **popen_kw,
        )
    proc.log_path = log_path
    return proc


def wait_all(procs, timeout):
    """Waits for all; returns {log name: error} for the failed ones.

    Each process has a `log_path` attribute. The first failure or the
    timeout (seconds, for all together) kills the others: a worker whose
    peer died would otherwise wait in a collective until the timeout.
    """
    errors = {}
    deadline = time.monotonic() + timeout
    try:
        running = list(procs)
        while running and not errors:
            for proc in list(running):
                code = proc.poll()
                if code is None:
                    continue
                running.remove(proc)
                if code != 0:
                    tail = proc.log_path.read_text()[-3000:]
                    errors[proc.log_path.name] = f"exit {code}:\n{tail}"
            if time.monotonic() > deadline:
                for proc in running:
                    errors[proc.log_path.name] = f"timeout after {timeout} s"
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return errors

"""Every module of the package imports on its own, as the first import."""

import subprocess
import sys

MODULES = [
    "pix2pix_keras.extensions.bicycle",
    "pix2pix_keras.extensions.encoder",
    "pix2pix_keras.extensions.growing",
    "pix2pix_keras.extensions.progressive",
    "pix2pix_keras.extensions.serve",
    "pix2pix_keras.extensions.tiling",
    "pix2pix_keras.models.blocks",
    "pix2pix_keras.models.progressive",
]


def test_each_module_imports_first_without_a_cycle():
    # A fresh interpreter per module (started together): an import cycle
    # only shows when the module is the first of the package loaded.
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", f"import {name}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in MODULES
    }
    failed = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failed[name] = err.strip().splitlines()[-1]
    assert failed == {}

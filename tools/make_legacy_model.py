#!/usr/bin/env python
"""Writes tests/data/legacy_pix2pix.keras and legacy_pix2pix.npz.

A tiny Pix2Pix (32×32, 8 filters) saved in the format of models made before
generators had the `inference_statistics` option (their batch norm always
used the moving averages at inference), its moving statistics set away
from their initial values (uncompiled, so no optimizer state), with inputs
and the
`predict()` output of that code. `tests/test_inference.py` checks that such
a model still loads and predicts the same.

Run it with the package of that version first on the path, e.g. from a
checkout of commit a130117:

    git worktree add /tmp/p2p-a130117 a130117
    PYTHONPATH=/tmp/p2p-a130117 .venv/bin/python tools/make_legacy_model.py
"""

import os
import sys

import keras
import numpy as np

import pix2pix_keras as pk

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data")


def main():
    if "inference_statistics" in pk.UNetGenerator()._config_keys:
        sys.exit(
            "This must run with the package from before the "
            "inference_statistics option (see the module docstring)."
        )
    keras.utils.set_random_seed(0)
    g = pk.UNetGenerator(image_size=32, filters=8, max_filters=32)
    d = pk.PatchDiscriminator(image_size=32, filters=8, max_filters=32, n_layers=2)
    model = pk.Pix2Pix(generator=g, discriminator=d, image_size=32)
    rng = np.random.default_rng(0)
    for layer in g._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.5, shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape))
    probe = rng.uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
    os.makedirs(OUT, exist_ok=True)
    model.save(os.path.join(OUT, "legacy_pix2pix.keras"))
    np.savez(
        os.path.join(OUT, "legacy_pix2pix.npz"),
        x=probe,
        predict=model.predict(probe, verbose=0),
    )
    print("wrote", os.path.abspath(OUT))


if __name__ == "__main__":
    main()

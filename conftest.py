"""Root conftest: names available to the doctests of the package."""

import numpy as np
import pytest

# Old module paths of the extensions: each is the extension module itself
# (`sys.modules` alias), whose doctests are collected at its new path.
collect_ignore = [
    "pix2pix_keras/models/bicycle.py",
    "pix2pix_keras/models/encoder.py",
    "pix2pix_keras/models/growing.py",
    "pix2pix_keras/models/progressive.py",
    "pix2pix_keras/serve.py",
    "pix2pix_keras/tiling.py",
]


@pytest.fixture(autouse=True)
def _doctest_names(request):
    if not isinstance(request.node, pytest.DoctestItem):
        return
    doctest_namespace = request.getfixturevalue("doctest_namespace")
    import keras
    import tensorflow as tf
    from keras import ops

    import pix2pix_keras

    keras.utils.set_random_seed(0)
    doctest_namespace.update(np=np, keras=keras, ops=ops, tf=tf)
    doctest_namespace.update(
        {k: getattr(pix2pix_keras, k) for k in pix2pix_keras.__all__}
        if hasattr(pix2pix_keras, "__all__")
        else {k: v for k, v in vars(pix2pix_keras).items() if not k.startswith("_")}
    )

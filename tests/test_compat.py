"""Private Keras / TensorFlow names are used in `pix2pix_keras._compat` only.

A private attribute can change or vanish in any release, and then breaks
silently. `_compat` holds each use with a note on what it works around;
this test fails when one appears anywhere else in the package. `cli.py`
and `serve.py` are left out here: they are checked on their own.
"""

import ast
import glob
import os

import keras
import pytest
import tensorflow as tf

from pix2pix_keras import _compat

PACKAGE = os.path.join(os.path.dirname(__file__), "..", "pix2pix_keras")
SKIPPED = {"_compat.py", "cli.py", "serve.py"}

# Private names that are not attributes of the objects below until some
# code path sets them (or that live on classes not instantiated here).
KNOWN = {
    "_flatten_layers",
    "_in_multi_worker_mode",
    "_distribute_strategy",
    "_dataset",
    "_initial_epoch",
    "_learning_rate",
    "_maybe_symbolic_build",
    "_save_model",
    "_weights_path",
    "_training_metadata_path",
    "_last_batch_seen",
    "_current_epoch",
    "_batches_seen_since_last_saving",
    "_layers",
    "_tracker",
    "_losses",
    "_metrics",
}


def _private(obj):
    return {
        name for name in dir(obj) if name.startswith("_") and not name.startswith("__")
    }


def _names(objects):
    names = set()
    for obj in objects:
        names |= _private(obj) | _private(type(obj))
    return names


def keras_private_names():
    """`(inherited, other)`: private names of the Keras classes the package
    subclasses (flagged on `self` too: using or overriding one touches
    Keras internals), and of other Keras / TF objects (flagged on any other
    receiver)."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    inherited = KNOWN | _names(
        [
            model,
            keras.layers.Dense(2),
            keras.layers.BatchNormalization(),
            optimizer,
            keras.metrics.Mean(),
            keras.callbacks.Callback(),
            keras.callbacks.BackupAndRestore("unused_backup_dir"),
        ]
    )
    other = inherited | _names(
        [
            keras.Variable(0.0),
            tf.distribute.get_strategy(),
            tf.distribute.get_strategy().extended,
            iter(tf.data.Dataset.range(1)),
            tf.data.Dataset.range(1),
        ]
    )
    return inherited, other


def package_files():
    paths = sorted(glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True))
    return [p for p in paths if os.path.basename(p) not in SKIPPED]


def private_uses(source, private):
    """(line, text) of each private Keras/TF use in `source`."""
    inherited, other = private
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            own = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            names = inherited if own else other
            if node.attr in names or node.attr in ("__internal__", "__dict__"):
                found.append((node.lineno, f".{node.attr}"))
            if (
                node.attr == "__setattr__"
                and isinstance(node.value, ast.Name)
                and node.value.id == "object"
            ):
                found.append((node.lineno, "object.__setattr__"))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in inherited:
                    found.append((item.lineno, f"def {item.name}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "vars")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in other
        ):
            found.append((node.lineno, f"{node.func.id}(..., {node.args[1].value!r})"))
    return found


@pytest.fixture(scope="module")
def private():
    return keras_private_names()


def test_private_names_are_known(private):
    # The scan below is only as good as this list.
    inherited, other = private
    for name in (
        "_flatten_layers",
        "_distribute_strategy",
        "_save_model",
        "_losses",
        "_tracker",
    ):
        assert name in inherited and name in other


def test_no_private_keras_or_tf_names_outside_compat(private):
    problems = []
    for path in package_files():
        with open(path, encoding="utf-8") as f:
            source = f.read()
        rel = os.path.relpath(path, PACKAGE)
        problems += [
            f"{rel}:{line}: {text}" for line, text in private_uses(source, private)
        ]
    assert not problems, (
        "Private Keras/TensorFlow names outside pix2pix_keras/_compat.py "
        "(move each behind a _compat helper with a note):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize(
    "code, what",
    [
        ("model._flatten_layers()", "._flatten_layers"),
        ("tf.__internal__.distribute", ".__internal__"),
        ("model.__dict__.get('x')", ".__dict__"),
        ("object.__setattr__(self, 'x', 1)", "object.__setattr__"),
        ("getattr(it, '_dataset', None)", "getattr(..., '_dataset')"),
        ("class A:\n    def _save_model(self):\n        pass", "def _save_model"),
    ],
)
def test_the_scan_finds_private_uses(code, what, private):
    assert [text for _, text in private_uses(code, private)] == [what]


def test_the_scan_allows_own_private_names(private):
    code = "self._resume = {}\nself._inference_dropout = True\n"
    assert private_uses(code, private) == []


def test_flatten_layers_includes_nested_layers():
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, keras.layers.Dense(2, name="d1")(inner_in))
    outer_in = keras.Input((3,))
    outer = keras.Model(outer_in, keras.layers.Dense(1, name="d2")(inner(outer_in)))
    names = [layer.name for layer in _compat.flatten_layers(outer)]
    assert names[0] == outer.name and "d1" in names and "d2" in names
    assert outer not in _compat.flatten_layers(outer, include_self=False)


def test_untracked_attributes_are_not_saved():
    layer = keras.layers.Dense(2)
    _compat.set_untracked(layer, "_helper", keras.layers.Dense(3))
    assert _compat.get_untracked(layer, "_helper").units == 3
    assert _compat.get_untracked(layer, "_missing", "x") == "x"
    layer.build((None, 4))
    assert len(layer.weights) == 2

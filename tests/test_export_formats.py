"""Tests of the ONNX and LiteRT exports of the generator.

Each export is run with its runtime (onnxruntime; LiteRT's interpreter
from `ai_edge_litert`, the `onnx` and `litert` extras, both in `dev`) and
compared with `predict()`. Measured with tensorflow 2.21.0, keras 3.15.1,
tf2onnx 1.17.0, onnxruntime 1.32.0 and ai-edge-litert 2.3.0: the largest
difference from `predict()` is about 4e-7 (ONNX) and 3e-7 (LiteRT) on
outputs in [-1, 1]; the tests allow 1e-5, the SavedModel tests' bound.
"""

import os

import keras
import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras.cli import main
from tests._helpers import disk_full
from tests._helpers import max_abs_diff as _max_diff
from tests.conftest import tiny_arrays
from tests.conftest import trained_tiny_pix2pix

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def trained():
    """A tiny model after one epoch (BN moving stats away from init, so
    per-image and moving statistics give different outputs)."""
    return trained_tiny_pix2pix()


def _onnx_runner(path):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["output_0"]
    return lambda x: session.run(None, {"image": x})[0]


def _litert_runner(path, **inputs):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    signatures = interpreter.get_signature_list()
    assert list(signatures) == ["serving_default"]
    assert signatures["serving_default"]["outputs"] == ["output_0"]
    runner = interpreter.get_signature_runner()
    return signatures["serving_default"]["inputs"], (
        lambda **feed: runner(**feed)["output_0"]
    )


def _check_computes_predict(model, run):
    """The exported file's outputs against `predict()`: a batch of 3, one
    image alone (per-image statistics: its output does not depend on the
    batch), and 64×64 images through the 32×32-trained U-Net."""
    x, _ = tiny_arrays(3, seed=2)
    want = model.predict(x, verbose=0)
    out = run(x)
    assert out.shape == (3, 32, 32, 3)
    assert _max_diff(out, want) < TOLERANCE
    assert _max_diff(run(x[:1]), want[:1]) < TOLERANCE

    # The moving statistics would give something else: the export really
    # normalizes each image by its own statistics, as predict() does.
    model.inference_statistics = "moving"
    try:
        moving = model.predict(x, verbose=0)
    finally:
        model.inference_statistics = "image"
    assert _max_diff(out, moving) > 1e-3

    big, _ = tiny_arrays(2, size=64, seed=4)
    config = {**model.generator.get_config(), "image_size": (64, 64)}
    g64 = pk.UNetGenerator.from_config(config)
    g64.set_weights(model.generator.get_weights())
    out = run(big)
    assert out.shape == (2, 64, 64, 3)
    assert _max_diff(out, g64.predict(big, verbose=0)) < TOLERANCE


def test_onnx_export_computes_predict(trained, tmp_path):
    path = os.fspath(tmp_path / "generator.onnx")
    assert trained.export(path, format="onnx") == path
    assert sorted(os.listdir(tmp_path)) == ["generator.onnx"]
    _check_computes_predict(trained, _onnx_runner(path))


def test_litert_export_computes_predict(trained, tmp_path):
    path = os.fspath(tmp_path / "generator.tflite")
    assert pk.export_generator(trained.generator, path, format="litert") == path
    assert sorted(os.listdir(tmp_path)) == ["generator.tflite"]
    inputs, run = _litert_runner(path)
    assert inputs == ["image"]
    _check_computes_predict(trained, lambda x: run(image=x))


def test_litert_export_of_a_noise_generator_takes_the_latent(tmp_path):
    keras.utils.set_random_seed(0)
    generator = pk.UNetGenerator(image_size=32, filters=8, max_filters=32, latent_dim=4)
    path = os.fspath(tmp_path / "noise.tflite")
    pk.export_generator(generator, path, format="litert")
    inputs, run = _litert_runner(path)
    assert sorted(inputs) == ["image", "latent"]
    x, _ = tiny_arrays(3, seed=2)
    z = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
    out = run(image=x, latent=z)
    assert _max_diff(out, generator.predict([x, z], verbose=0)) < TOLERANCE
    # The code matters: another z, another translation.
    assert _max_diff(run(image=x, latent=-z), out) > 1e-3


def test_bad_format_and_file_names(trained, tmp_path):
    target = tmp_path / "g.tflite"
    with pytest.raises(ValueError) as info:
        trained.export(target, format="tflite")
    assert str(info.value) == (
        "`format` must be one of 'tf_saved_model', 'onnx', 'litert'. "
        "Received: format='tflite'"
    )
    with pytest.raises(ValueError, match=r"must end in '\.tflite'"):
        trained.export(tmp_path / "g.lite", format="litert")
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        trained.export(tmp_path / "folder.onnx", format="onnx")
    with pytest.raises(ValueError, match="tf_saved_model' only"):
        pk.BicycleGAN.export(None, tmp_path / "b.onnx", format="onnx")
    assert sorted(os.listdir(tmp_path)) == ["folder.onnx"]


def test_inference_dropout_needs_a_saved_model(trained, tmp_path):
    trained.inference_dropout = True
    try:
        for name, format in (("g.onnx", "onnx"), ("g.tflite", "litert")):
            with pytest.raises(ValueError, match="has inference_dropout=True"):
                trained.export(tmp_path / name, format=format)
    finally:
        trained.inference_dropout = False
    assert os.listdir(tmp_path) == []


def test_missing_package_names_the_extra(trained, tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tf2onnx" else find_spec(name, *a),
    )
    with pytest.raises(ImportError) as info:
        trained.export(tmp_path / "g.onnx", format="onnx")
    assert str(info.value) == (
        "format='onnx' needs the package 'tf2onnx', which is not "
        'installed: pip install "pix2pix-keras[onnx]"'
    )
    assert os.listdir(tmp_path) == []


def test_interrupted_file_export_keeps_the_previous_file(trained, tmp_path):
    path = tmp_path / "g.tflite"
    path.write_bytes(b"the previous export")
    with disk_full("export", b"half a flatbuffer") as targets:
        trained.export(path, format="litert")
    assert len(targets) == 1 and targets[0] != os.fspath(path)
    assert targets[0].endswith(".tflite")
    assert os.path.dirname(targets[0]) == os.fspath(tmp_path)
    assert os.listdir(tmp_path) == ["g.tflite"]
    assert path.read_bytes() == b"the previous export"


@pytest.mark.parametrize("format", ["onnx", "litert"])
def test_cli_export_format(trained, tmp_path, capsys, format):
    model_file = os.fspath(tmp_path / "model.keras")
    trained.save(model_file)
    suffix = {"onnx": ".onnx", "litert": ".tflite"}[format]
    out = os.fspath(tmp_path / f"generator{suffix}")
    assert main(["export", model_file, out, "--format", format]) == 0
    printed = capsys.readouterr().out
    assert f"Exported the generator to {out}" in printed
    x, _ = tiny_arrays(2, seed=5)
    want = pk.Pix2Pix.load(model_file).predict(x, verbose=0)
    if format == "onnx":
        got = _onnx_runner(out)(x)
    else:
        got = _litert_runner(out)[1](image=x)
    assert _max_diff(got, want) < TOLERANCE

    assert main(["export", model_file, out, "--format", format]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    if format == "litert":
        assert (
            main(
                [
                    "export",
                    model_file,
                    os.fspath(tmp_path / "g.lite"),
                    "--format",
                    "litert",
                ]
            )
            == 2
        )
        assert "must end in .tflite" in capsys.readouterr().err


def test_cli_export_rejects_an_unknown_format(tmp_path, capsys):
    assert (
        main(["export", "model.keras", os.fspath(tmp_path / "g"), "--format", "tflite"])
        == 2
    )
    err = capsys.readouterr().err
    assert "invalid choice: 'tflite'" in err
    assert "savedmodel" in err and "onnx" in err and "litert" in err

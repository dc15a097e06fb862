"""`pix2pix train` options that reach the library, each checked for its
effect on a tiny run (32×32, 8 filters, 2 steps)."""

import json
import os

import keras
import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras import cli
from pix2pix_keras.cli import main
from pix2pix_keras.cli import train as train_lib

TRAIN = pk.sample_data_dir("train")
TINY = {
    "direction": "BtoA",
    "image_size": 32,
    "filters": 8,
    "d_layers": 2,
    "steps_per_epoch": 2,
    "batch_size": 2,
}


def train_argv(output, epochs=1, **config):
    """A quiet `pix2pix train` on the sample's train split, then the flags of
    the configuration keys `config`."""
    argv = [
        "train",
        "--data",
        TRAIN,
        "--epochs",
        str(epochs),
        "--output",
        str(output),
        "--verbose",
        "0",
    ]
    for key, value in config.items():
        argv += [cli.OPTIONS[key].flag, str(value)]
    return argv


def tiny_argv(output, *extra, epochs=1):
    return [
        *train_argv(output, epochs, sample_every=0, **TINY),
        "--no-tensorboard",
        *extra,
    ]


def _losses(run):
    with open(os.path.join(run, "metrics.csv")) as f:
        header, row = [line.strip().split(",") for line in f][:2]
    return {
        k: float(v) for k, v in zip(header, row) if k in ("g_loss", "d_loss", "g_l1")
    }


def test_mixed_precision_is_validated(tmp_path, capsys):
    assert cli.default_config()["mixed_precision"] == "off"
    assert main(tiny_argv(tmp_path / "a", "--mixed-precision", "fp8")) == 2
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"mixed_precision": "fp16"}))
    assert main(tiny_argv(tmp_path / "b", "--config", str(config))) == 2
    err = capsys.readouterr().err
    assert ("`mixed_precision` must be one of 'off', 'auto', 'bf16', 'float16'") in err


def test_mixed_precision_bf16_builds_bfloat16_layers():
    config = cli.check_config(
        {**cli.default_config(), **TINY, "data": TRAIN, "mixed_precision": "bf16"}
    )
    with train_lib.dtype_policy(config):
        model = train_lib._build_model(config)
    assert keras.mixed_precision.global_policy().name == "float32"
    convs = [
        layer
        for net in (model.generator, model.discriminator)
        for layer in net._flatten_layers()
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
    ]
    mixed = [layer for layer in convs if layer.dtype_policy.name == "mixed_bfloat16"]
    assert {layer.compute_dtype for layer in mixed} == {"bfloat16"}
    # All but the generator's output layer and the discriminator's logits.
    assert len(convs) >= 8 and len(mixed) >= len(convs) - 2
    assert {layer.dtype_policy.name for layer in convs if layer not in mixed} <= {
        "float32"
    }
    # float32 weights, float32 images out.
    assert {w.dtype for w in model.generator.weights} == {"float32"}
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3))
    y = model.generator(x.astype("float32"), training=False)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"


def test_mixed_precision_bf16_trains_with_other_rounding(tmp_path):
    run, plain = tmp_path / "bf16", tmp_path / "float32"
    assert main(tiny_argv(run, "--mixed-precision", "bf16")) == 0
    # The global policy is restored for whatever runs next.
    assert keras.mixed_precision.global_policy().name == "float32"
    with open(run / "config.json") as f:
        assert json.load(f)["mixed_precision"] == "bf16"
    assert main(tiny_argv(plain)) == 0
    bf16, float32 = _losses(str(run)), _losses(str(plain))
    assert all(np.isfinite(v) for v in bf16.values()), bf16
    # The same seed, data and steps: close losses, but not equal ones
    # (bfloat16 keeps 8 bits of mantissa).
    for key, value in float32.items():
        assert bf16[key] == pytest.approx(value, rel=0.1), key
    assert bf16 != float32


def _discriminator_outputs(model):
    x = np.zeros((1, 32, 32, 3), "float32")
    out = model.discriminator([x, x], training=False)
    out = out if isinstance(out, (list, tuple)) else [out]
    return [tuple(o.shape) for o in out]


@pytest.mark.parametrize(
    "flags, kind, shapes, spectral",
    [
        ([], pk.PatchDiscriminator, [(1, 6, 6, 1)], False),
        (["--discriminator", "pixel"], pk.PixelDiscriminator, [(1, 32, 32, 1)], False),
        (
            [
                "--discriminator",
                "multiscale",
                "--d-scales",
                "2",
                "--d-layers",
                "1",
                "--spectral-norm",
            ],
            pk.MultiScaleDiscriminator,
            [(1, 14, 14, 1), (1, 6, 6, 1)],
            True,
        ),
    ],
    ids=["patch", "pixel", "multiscale-spectral"],
)
def test_discriminator_choice(tmp_path, flags, kind, shapes, spectral):
    run = tmp_path / "run"
    assert main(tiny_argv(run, *flags)) == 0
    model = pk.Pix2Pix.load(str(run / "model.keras"))
    assert type(model.discriminator) is kind
    assert _discriminator_outputs(model) == shapes
    wrapped = [
        layer
        for layer in model.discriminator._flatten_layers()
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    assert bool(wrapped) is spectral
    assert all(np.isfinite(v) for v in _losses(str(run)).values())


def test_discriminator_too_small_for_its_scales(tmp_path, capsys):
    assert (
        main(
            tiny_argv(
                tmp_path / "run", "--discriminator", "multiscale", "--d-scales", "3"
            )
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "invalid model configuration" in err and "num_scales" in err

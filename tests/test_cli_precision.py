"""`pix2pix train --mixed-precision`: the compute dtype of a trained run."""

import json
import os

import keras
import numpy as np
import pytest

from pix2pix_keras import cli
from pix2pix_keras.cli import main
from pix2pix_keras.utils import cpu_info
from tests.test_cli import tiny_train


def test_bf16_run_computes_in_bfloat16_with_float32_outputs(tmp_path):
    run_dir = tmp_path / "bf16"
    assert main(tiny_train(run_dir, 1, mixed_precision="bf16")) == 0
    # The global policy is restored after the model is built.
    assert keras.config.dtype_policy().name == "float32"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["mixed_precision"] == "bf16"
    model = keras.saving.load_model(run_dir / "model.keras")
    policies = {
        layer.dtype_policy.name for layer in model.generator.layers if layer.weights
    }
    assert "mixed_bfloat16" in policies
    conv = [v for v in model.generator.weights if "kernel" in v.path][0]
    assert conv.dtype == "float32"  # the weights stay float32
    y = model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
    assert y.dtype == np.float32 and y.shape == (2, 32, 32, 3)
    assert np.all(np.abs(y) <= 1.0)
    with open(run_dir / "metrics.csv") as f:
        header, row = [line.strip().split(",") for line in f][:2]
    values = dict(zip(header, map(float, row)))
    for key in ("g_loss", "g_l1", "d_loss", "val_g_l1"):
        assert np.isfinite(values[key]) and values[key] > 0, key


def test_off_is_float32(tmp_path):
    run_dir = tmp_path / "off"
    assert main(tiny_train(run_dir, 1)) == 0
    model = keras.saving.load_model(run_dir / "model.keras")
    assert {
        layer.dtype_policy.name for layer in model.generator.layers if layer.weights
    } == {"float32"}


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu vme avx512f avx512_bf16", True),
        ("fpu vme amx_bf16 amx_tile", True),
        ("fpu vme avx2 avx512f", False),
    ],
)
def test_auto_follows_the_cpu_flags(monkeypatch, flags, expected):
    assert cli.cpu_has_bf16(flags.split()) is expected
    assert cli.cpu_has_bf16([]) is False
    from pix2pix_keras.cli import config as config_lib

    monkeypatch.setattr(config_lib, "cpu_has_bf16", lambda: expected)
    assert cli.compute_policy("auto") == ("mixed_bfloat16" if expected else "float32")
    assert cli.compute_policy("bf16") == "mixed_bfloat16"
    assert cli.compute_policy("off") == "float32"


def test_cpu_flags_are_this_machines():
    info = cpu_info()
    assert isinstance(info.model, str) and info.model
    assert cpu_info() is info  # read once
    assert cli.cpu_has_bf16() is bool(info.flags & {"avx512_bf16", "amx_bf16"})
    # On Linux the kernel's own listing gives the same model and flags.
    if os.path.isfile("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            fields = dict(
                (k.strip(), v.strip())
                for k, _, v in (line.partition(":") for line in f)
                if k.strip() in ("model name", "flags")
            )
        assert info.model == fields["model name"]
        wanted = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
        assert info.flags & wanted == set(fields["flags"].split()) & wanted


def test_bad_value_names_the_flag(tmp_path, capsys):
    assert main(tiny_train(tmp_path / "bad", 1, mixed_precision="fp8")) != 0
    err = capsys.readouterr().err
    assert "--mixed-precision" in err and "fp8" in err


def test_mixed_policy_survives_save_and_load(tmp_path):
    import pix2pix_keras as pk
    from pix2pix_keras.models.blocks import dtype_policy_scope

    with dtype_policy_scope("mixed_bfloat16"):
        model = pk.Pix2Pix(
            generator=pk.UNetGenerator(image_size=32, filters=8),
            discriminator=pk.PatchDiscriminator(image_size=32, filters=8, n_layers=2),
            image_size=32,
        )
    assert keras.config.dtype_policy().name == "float32"
    model.compile()
    assert model.generator.get_config()["dtype"] == "mixed_bfloat16"
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3))
    x = x.astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    for net in ("generator", "discriminator"):
        names = {
            layer.name: layer.dtype_policy.name for layer in getattr(model, net).layers
        }
        assert {
            layer.name: layer.dtype_policy.name for layer in getattr(loaded, net).layers
        } == names
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    # float32 networks keep the config they always had (no "dtype" key).
    assert "dtype" not in pk.UNetGenerator(image_size=32, filters=8).get_config()

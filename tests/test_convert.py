"""Converting PyTorch-reference checkpoints (pix2pix_keras.pytorch).

The fixtures in tests/data/pytorch/ were written by
tools/make_pytorch_fixtures.py with torch and the reference's network code:
small checkpoints and the reference's outputs on a fixed input in training
mode (batch norm on the image's statistics, dropout off) and eval mode
(running statistics). torch is not needed here.
"""

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras import cli
from pix2pix_keras import pytorch as pt

DATA = os.path.join(os.path.dirname(__file__), "data", "pytorch")

# name: (netG, ngf, norm, input_nc, output_nc, image_size)
FIXTURES = {
    "unet128_batch": ("unet_128", 2, "batch", 3, 1, 128),
    "unet128_instance": ("unet_128", 1, "instance", 3, 1, 128),
    "unet128_none": ("unet_128", 1, "none", 3, 1, 128),
    "resnet6_batch": ("resnet_6blocks", 2, "batch", 3, 3, 32),
}
CASES = [
    ("unet128_batch", "train"),
    ("unet128_batch", "eval"),
    ("unet128_instance", "train"),
    ("unet128_none", "train"),
    ("resnet6_batch", "train"),
    ("resnet6_batch", "eval"),
]


def _path(name):
    return os.path.join(DATA, name)


def _convert(name, checkpoint=None, **kwargs):
    net_g, ngf, norm, in_nc, out_nc, size = FIXTURES[name]
    return pk.convert_pytorch(
        checkpoint or _path(f"{name}.pth"),
        netG=net_g,
        ngf=ngf,
        norm=norm,
        input_nc=in_nc,
        output_nc=out_nc,
        image_size=size,
        **kwargs,
    )


def _reference(name):
    data = np.load(_path(f"{name}.npz"))
    x = data["input"].astype("float32") / 127.5 - 1.0
    return x, data


@pytest.mark.parametrize("name,mode", CASES)
def test_outputs_equal_the_reference(name, mode):
    # train: the reference's test.py (batch norm on the test image's own
    # statistics at batch 1) = inference_statistics="image";
    # eval: running statistics = inference_statistics="moving".
    x, data = _reference(name)
    statistics = "image" if mode == "train" else "moving"
    model = _convert(name, inference_statistics=statistics)
    y = model.generator.predict(x, verbose=0)
    assert y.shape == data[mode].shape
    assert np.abs(y - data[mode]).max() < 1e-5
    if "eval" in data.files:  # the two modes really differ
        assert np.abs(data["train"] - data["eval"]).max() > 1e-2


def test_legacy_format_and_dataparallel_prefix_read_as_zip():
    zipped = pk.load_pytorch_checkpoint(_path("resnet6_batch.pth"))
    legacy = pk.load_pytorch_checkpoint(_path("resnet6_batch_legacy.pth"))
    assert list(legacy) == list(zipped)  # `module.` prefix removed
    assert len(zipped) == 87 + 17  # + 17 num_batches_tracked
    for key, value in zipped.items():
        assert legacy[key].dtype == value.dtype
        np.testing.assert_array_equal(legacy[key], value)
    assert zipped["model.2.num_batches_tracked"].dtype == np.int64
    x, data = _reference("resnet6_batch")
    model = _convert("resnet6_batch", _path("resnet6_batch_legacy.pth"))
    y = model.generator.predict(x, verbose=0)
    assert np.abs(y - data["train"]).max() < 1e-5


def test_keys_of_the_published_architectures():
    # Key names and shapes of the reference's networks at ngf=64 (batch
    # norm, dropout), as torch lists them.
    with open(_path("reference_keys.json")) as f:
        reference = json.load(f)
    assert sorted(reference) == sorted(pt.NET_G)
    for net_g, keys in reference.items():
        expected = [
            (k, tuple(s)) for k, s in keys if not k.endswith("num_batches_tracked")
        ]
        assert pt.reference_keys(net_g) == expected, net_g
    assert len(pt.reference_keys("unet_256")) == 69


@pytest.mark.parametrize(
    "net_g,params", [("unet_256", 54_413_955), ("resnet_9blocks", 11_383_427)]
)
def test_reference_generators_have_the_reference_parameter_count(net_g, params):
    # The reference's trainable parameters (torch's count) at the defaults.
    g = pt.build_reference_generator(net_g)
    trainable = sum(int(np.prod(w.shape)) for w in g.trainable_weights)
    assert trainable == params
    # The default networks of the package have the same count.
    if net_g == "unet_256":
        default = pk.UNetGenerator()
    else:
        default = pk.ResnetGenerator(norm="batch")
    assert default.count_params() == g.count_params()


def test_pytorch_layout_round_trips_through_config_and_save(tmp_path):
    x, data = _reference("resnet6_batch")
    model = _convert("resnet6_batch")
    config = model.generator.get_config()
    assert config["pytorch_layout"] is True
    rebuilt = pk.ResnetGenerator.from_config(config)
    assert rebuilt.count_params() == model.generator.count_params()
    model.save(tmp_path / "m.keras")
    loaded = pk.Pix2Pix.load(tmp_path / "m.keras")
    assert loaded.generator.pytorch_layout is True
    y = loaded.generator.predict(x, verbose=0)
    assert np.abs(y - data["train"]).max() < 1e-5
    unet = _convert("unet128_none").generator
    assert (
        pk.UNetGenerator.from_config(unet.get_config()).count_params()
        == unet.count_params()
    )


def test_pytorch_layout_refuses_options_it_cannot_honour():
    with pytest.raises(ValueError, match="attention"):
        pk.UNetGenerator(image_size=32, pytorch_layout=True, attention=True)
    with pytest.raises(ValueError, match="pytorch_layout"):
        pk.ResnetGenerator(image_size=32, pytorch_layout="yes")


def test_inference_dropout_gives_the_reference_noise():
    x, data = _reference("unet128_batch")
    model = _convert("unet128_batch", inference_dropout=True)
    a = model.generator.predict(x, verbose=0)
    b = model.generator.predict(x, verbose=0)
    assert np.abs(a - b).max() > 1e-3  # random
    assert np.abs(a - data["train"]).max() > 1e-3
    model.generator.inference_dropout = False
    c = model.generator.predict(x, verbose=0)
    assert np.abs(c - data["train"]).max() < 1e-5


# ----------------------------------------------------------------------
# checkpoints that do not fit


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(netG="resnet_6blocks"), "missing key 'model.1.weight'"),
        (
            dict(netG="unet_256"),
            "missing key 'model.model.1.model.3.model.3.model.3.model.3.model.3."
            "model.2.weight' (expected shape (16,))",
        ),
        (
            dict(ngf=4),
            "'model.model.0.weight' has shape (2, 3, 4, 4), expected (4, 3, 4, 4)",
        ),
        (
            dict(output_nc=3),
            "'model.model.3.weight' has shape (4, 1, 4, 4), expected (4, 3, 4, 4)",
        ),
        (dict(norm="none"), "unexpected key 'model.model.1.model.2.weight'"),
        (dict(norm="instance"), "missing key 'model.model.0.bias'"),
    ],
)
def test_wrong_architecture_names_the_first_difference(kwargs, message):
    args = dict(netG="unet_128", ngf=2, norm="batch", output_nc=1)
    args.update(kwargs)
    with pytest.raises(pt.CheckpointError) as info:
        pk.convert_pytorch(_path("unet128_batch.pth"), **args)
    text = str(info.value)
    assert message in text
    assert "unet128_batch.pth" in text and "--netG" in text


def test_instance_norm_running_stats_and_counters_are_ignored():
    # Reference versions of 2018 saved instance norm with running stats;
    # its loader drops them.
    state = pk.load_pytorch_checkpoint(_path("unet128_instance.pth"))
    state["model.model.1.model.2.running_mean"] = np.zeros(2, "float32")
    state["model.model.1.model.2.running_var"] = np.ones(2, "float32")
    state["model.model.1.model.2.num_batches_tracked"] = np.zeros((), "int64")
    pt.check_state_dict(state, "unet_128", ngf=1, norm="instance", output_nc=1)


def _legacy_bytes():
    with open(_path("resnet6_batch_legacy.pth"), "rb") as f:
        return f.read()


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"not a checkpoint at all\n", "not a readable PyTorch checkpoint"),
        ("truncated_zip", "not a readable PyTorch checkpoint"),
        ("truncated_legacy", "ends"),
        ("list", "does not hold a state_dict"),
    ],
)
def test_a_bad_file_is_named(tmp_path, content, reason):
    path = tmp_path / "bad.pth"
    if content == "truncated_zip":
        with open(_path("resnet6_batch.pth"), "rb") as f:
            content = f.read()[:20000]
    elif content == "truncated_legacy":
        content = _legacy_bytes()[:-500]
    elif content == "list":
        content = _zip_with_pickle(pickle.dumps([1, 2, 3], protocol=2))
    path.write_bytes(content)
    with pytest.raises(pt.CheckpointError) as info:
        pk.load_pytorch_checkpoint(path)
    assert str(path) in str(info.value)
    assert reason in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        pk.load_pytorch_checkpoint(tmp_path / "missing.pth")


def _zip_with_pickle(data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/version", "3\n")
    return buffer.getvalue()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def test_unpickling_refuses_other_globals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    path.write_bytes(_zip_with_pickle(pickle.dumps({"w": _Evil()})))
    with pytest.raises(pt.CheckpointError) as info:
        pk.load_pytorch_checkpoint(path)
    assert "system" in str(info.value) and "refusing" in str(info.value)
    assert not (tmp_path / "pwned.txt").exists()
    # The legacy format: code in the first pickle (the magic number).
    path = tmp_path / "evil_legacy.pth"
    path.write_bytes(pickle.dumps(_Evil(), protocol=2) + _legacy_bytes())
    with pytest.raises(pt.CheckpointError, match="refusing"):
        pk.load_pytorch_checkpoint(path)
    assert not (tmp_path / "pwned.txt").exists()


# ----------------------------------------------------------------------
# command line


def assert_predict_gives_reference(model, data, tmp_path):
    """`pix2pix predict MODEL` of the reference's input image writes the
    reference's output (train mode) to within one grey level."""
    from PIL import Image

    Image.fromarray(data["input"][0]).save(tmp_path / "in.png")
    argv = ["predict", str(model), str(tmp_path / "in.png"), str(tmp_path / "pred")]
    assert cli.main(argv + ["--verbose", "0"]) == 0
    written = np.asarray(Image.open(tmp_path / "pred" / "in.png"))
    expected = np.round((data["train"][0] + 1) * 127.5)
    assert np.abs(written.astype(float) - expected).max() <= 1


def test_cli_convert_predict_and_errors(tmp_path, capsys):
    out = tmp_path / "converted.keras"
    argv = [
        "convert-pytorch",
        _path("resnet6_batch.pth"),
        str(out),
        "--netG",
        "resnet_6blocks",
        "--ngf",
        "2",
        "--image-size",
        "32",
    ]
    assert cli.main(argv) == 0
    assert "resnet_6blocks generator, 32x32, 3 -> 3 channels" in (
        capsys.readouterr().out
    )
    assert cli.main(argv) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err

    assert_predict_gives_reference(out, _reference("resnet6_batch")[1], tmp_path)

    assert (
        cli.main(
            [
                "convert-pytorch",
                _path("resnet6_batch.pth"),
                str(tmp_path / "x.keras"),
                "--netG",
                "unet_64",
            ]
        )
        == 2
    )
    assert "invalid choice: 'unet_64'" in capsys.readouterr().err
    assert (
        cli.main(
            ["convert-pytorch", _path("resnet6_batch.pth"), str(tmp_path / "x.keras")]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "resnet6_batch.pth does not fit --netG unet_256" in err
    assert "missing key 'model.model.0.weight'" in err
    assert not (tmp_path / "x.keras").exists()

"""Pretrained presets: download, hash check, caches, CLI, docs page.

A local HTTP server on 127.0.0.1 stands in for the pix2pix server
(`PIX2PIX_PRETRAINED_URL`), and the registry entry is pointed at a small
fixture checkpoint (resnet_6blocks, ngf=2, 32×32) of the same format.
"""

import dataclasses
import functools
import hashlib
import http.server
import json
import os
import shutil
import threading
import warnings

import numpy as np
import pytest

import pix2pix_keras as pk
from pix2pix_keras import cli
from pix2pix_keras import pretrained
from tests._helpers import run_page
from tests.test_convert import assert_predict_gives_reference

DATA = os.path.join(os.path.dirname(__file__), "data", "pytorch")
FIXTURE = os.path.join(DATA, "resnet6_batch.pth")
NAME = "facades_label2photo"


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serves tmp_path/www; `requests` lists the paths asked for."""
    www = tmp_path / "www"
    www.mkdir()
    shutil.copy(FIXTURE, www / f"{NAME}.pth")
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(www))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        pretrained.ORIGIN_ENV, f"http://127.0.0.1:{httpd.server_address[1]}/"
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    info = pretrained.PRETRAINED[NAME]
    monkeypatch.setitem(
        pretrained.PRETRAINED,
        NAME,
        dataclasses.replace(info, netG="resnet_6blocks", ngf=2, image_size=32),
    )
    try:
        yield requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _reference():
    data = np.load(os.path.join(DATA, "resnet6_batch.npz"))
    return data["input"].astype("float32") / 127.5 - 1.0, data


def test_registry_matches_the_reference_script():
    assert list(pretrained.PRETRAINED) == [
        "facades_label2photo",
        "sat2map",
        "map2sat",
        "edges2shoes",
        "day2night",
    ]
    for name, info in pretrained.PRETRAINED.items():
        assert info.origin == (
            f"http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{name}.pth"
        )
        assert (info.netG, info.ngf, info.image_size) == ("unet_256", 64, 256)
        assert info.file_hash is None  # none is published


def test_from_preset_downloads_converts_and_caches(server, tmp_path):
    x, data = _reference()
    model = pk.Pix2Pix.from_preset(NAME)
    assert server == [f"/{NAME}.pth"]
    y = model.generator.predict(x, verbose=0)
    assert np.abs(y - data["train"]).max() < 1e-5
    assert model.generator.inference_statistics == "image"
    assert model.generator.inference_dropout is False

    cache = tmp_path / "keras_home" / "pix2pix" / "pretrained"
    assert sorted(os.listdir(cache)) == [
        f"{NAME}.keras",
        f"{NAME}.keras.json",
        f"{NAME}.pth",
    ]
    converted = os.stat(cache / f"{NAME}.keras").st_mtime_ns

    # Second call: no request, no conversion.
    again = pk.Pix2Pix.from_preset(NAME, inference_statistics="moving")
    assert server == [f"/{NAME}.pth"]
    assert os.stat(cache / f"{NAME}.keras").st_mtime_ns == converted
    y = again.generator.predict(x, verbose=0)
    assert np.abs(y - data["eval"]).max() < 1e-5


def test_file_hash_is_verified_and_a_bad_download_removed(server, tmp_path):
    cached = tmp_path / "keras_home" / "pix2pix" / "pretrained" / f"{NAME}.pth"
    with pytest.raises(ValueError) as info:
        pk.load_pretrained(NAME, file_hash="0" * 64)
    message = str(info.value)
    assert NAME in message and "127.0.0.1" in message
    assert "hash" in message.lower()
    assert not cached.exists()

    with open(FIXTURE, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    model = pk.load_pretrained(NAME, file_hash=sha256)
    assert model.generator.output_shape == (None, 32, 32, 3)
    assert cached.is_file()


def test_a_damaged_download_is_removed(server, tmp_path):
    www = tmp_path / "www" / f"{NAME}.pth"
    www.write_bytes(www.read_bytes()[:5000])
    cached = tmp_path / "keras_home" / "pix2pix" / "pretrained" / f"{NAME}.pth"
    with pytest.raises(ValueError) as info:
        pk.load_pretrained(NAME)
    assert "removed from the cache" in str(info.value)
    assert not cached.exists()


def test_unknown_and_renamed_presets():
    with pytest.raises(ValueError) as info:
        pk.Pix2Pix.from_preset("facades")
    message = str(info.value)
    assert "'facades'" in message
    for name in list(pretrained.PRETRAINED) + ["untrained_unet_256"]:
        assert name in message
    with pytest.raises(ValueError, match="day2night"):
        pk.load_pretrained("night2day")

    model = pk.Pix2Pix.from_preset("untrained_unet_128")
    assert model.generator.input_shape == (None, 128, 128, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = pk.Pix2Pix.from_preset("unet_128")
    assert old.generator.count_params() == model.generator.count_params()
    assert any(
        issubclass(w.category, DeprecationWarning)
        and "untrained_unet_128" in str(w.message)
        for w in caught
    )


def test_cli_presets_predict_and_serve_take_a_name(
    server, tmp_path, capsys, monkeypatch
):
    from pix2pix_keras import serve as serve_lib

    assert cli.main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "task", "dataset", "direction", "input"]
    assert len(lines) == 6
    assert lines[2].split()[0] == "sat2map" and "AtoB" in lines[2]
    assert cli.main(["presets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["day2night"]["direction"] == "BtoA"
    assert listed["day2night"]["image_size"] == 256
    assert listed["day2night"]["file_hash"] is None

    assert_predict_gives_reference(NAME, _reference()[1], tmp_path)
    assert server == [f"/{NAME}.pth"]

    served = {}
    monkeypatch.setattr(
        serve_lib, "serve", lambda model, **kw: served.setdefault("model", model)
    )
    assert cli.main(["serve", "--model", NAME]) == 0
    assert served["model"].endswith(os.path.join("pretrained", f"{NAME}.keras"))
    assert server == [f"/{NAME}.pth"]


def test_docs_page_runs(server, tmp_path, monkeypatch):
    # docs/pretrained.md's Python blocks, with the fixture as the user's
    # checkpoint and the local server as the pix2pix server.
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(FIXTURE, work / "latest_net_G.pth")
    blocks, ns = run_page("pretrained.md", work, monkeypatch)
    assert len(blocks) >= 3
    assert (work / "converted.keras").is_file()
    assert ns["deterministic"].shape == (1, 32, 32, 3)
    assert np.abs(ns["deterministic"] - ns["again"]).max() == 0
    assert np.abs(ns["noisy"] - ns["deterministic"]).max() > 1e-3

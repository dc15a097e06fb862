"""`pix2pix serve`: the translate function, the CLI checks, and the page
end to end in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; `make test` installs both)."""

import glob
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from pix2pix_keras import cli
from pix2pix_keras import serve
from tests.conftest import SHARED_DATA
from tests.conftest import tiny_pix2pix

CHROMIUM = "/usr/bin/chromium"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCREENSHOT = os.environ.get("PIX2PIX_SCREENSHOT")


def _label_map():
    """A real CMP label map (shared data, else the bundled sample)."""
    files = sorted(glob.glob(os.path.join(SHARED_DATA, "val", "*.png")))
    if not files:
        import pix2pix_keras as pk

        files = sorted(glob.glob(os.path.join(pk.sample_data_dir("val"), "*.png")))
    return os.path.abspath(files[0])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("serve") / "model.keras"
    model = tiny_pix2pix()
    model.compile()
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def translator(model_file):
    return serve.Translator(model_file)


def _png(shape, mode="RGB"):
    buf = io.BytesIO()
    data = np.random.default_rng(0).integers(0, 256, shape, dtype="uint8")
    Image.fromarray(data, mode).save(buf, format="PNG")
    return buf.getvalue()


def test_translate_sizes_and_dtype(translator):
    assert (translator.height, translator.width) == (32, 32)
    for h, w in ((32, 32), (50, 70), (200, 120)):
        png, size, ms = translator.translate(_png((h, w, 3)), "x.png")
        assert size == (w, h)
        assert ms > 0
        with Image.open(io.BytesIO(png)) as im:
            assert im.format == "PNG" and im.mode == "RGB"
            assert im.size == (w, h)
    out, _ = translator.translate_array(np.zeros((40, 24, 3), "uint8"))
    assert out.shape == (40, 24, 3) and out.dtype == np.uint8
    # Grey input is converted to the model's 3 channels.
    _, size, _ = translator.translate(_png((20, 30), "L"), "grey.png")
    assert size == (30, 20)


def test_translate_real_label_map(translator):
    path = _label_map()
    with open(path, "rb") as f:
        png, size, _ = translator.translate(f.read(), os.path.basename(path))
    with Image.open(path) as im:
        assert size == im.size
    with Image.open(io.BytesIO(png)) as out:
        assert out.size == size


@pytest.mark.parametrize(
    "data,name,message",
    [
        (
            b"hello",
            "notes.txt",
            "notes.txt: wrong file type '.txt'; upload a JPEG, PNG or BMP image",
        ),
        (
            os.urandom(2000),
            "corrupt.png",
            "corrupt.png: unreadable image (not a "
            "JPEG, PNG or BMP, or a corrupt header)",
        ),
        (b"", "empty.png", "empty.png: empty file (0 bytes)"),
        (
            _png((16, 16, 3))[:60],
            "cut.png",
            "cut.png: unreadable image (corrupt or truncated",
        ),
    ],
)
def test_translate_errors(translator, data, name, message):
    with pytest.raises(serve.TranslateError) as info:
        translator.translate(data, name)
    assert str(info.value).startswith(message)


def test_translate_with_a_savedmodel(model_file, tmp_path):
    import pix2pix_keras as pk

    model = pk.Pix2Pix.load(model_file)
    exported = str(tmp_path / "savedmodel")
    model.export(exported)
    sm = serve.Translator(exported, image_size=32)
    assert (sm.height, sm.width, sm.in_channels, sm.out_channels) == (32, 32, 3, 3)
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), "uint8")
    out, _ = sm.translate_array(image)
    expected, _ = serve.Translator(model_file).translate_array(image)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_palette_is_the_12_cmp_classes():
    palette = serve.facades_palette()
    assert len(palette) == 12
    assert palette[0] == ("background", "#0000aa")
    assert palette[-1] == ("shop", "#aa0000")


def test_cli_refuses_remote_host_and_bad_port(model_file, capsys):
    assert cli.main(["serve", "--model", model_file, "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert cli.main(["serve", "--model", model_file, "--port", "70000"]) == 2
    assert cli.main(["serve", "--model", "/nonexistent.keras"]) == 2
    assert (
        cli.main(["serve", "--model", model_file, "--palette", "/nonexistent.txt"]) == 2
    )
    capsys.readouterr()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--model", model_file, "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def server(model_file):
    port = _free_port()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pix2pix_keras",
            "serve",
            "--model",
            model_file,
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read()}")
        try:
            with urllib.request.urlopen(url + "info", timeout=1) as r:
                info = json.load(r)
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)
    yield url, port, info
    proc.terminate()
    proc.wait(timeout=20)
    assert not _port_open(port)


def test_page_in_headless_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, port, info = server
    assert info["size"] == [32, 32] and len(info["palette"]) == 12
    label = _label_map()
    with Image.open(label) as im:
        label_size = list(im.size)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(os.urandom(3000))
    text = tmp_path / "notes.txt"
    text.write_text("not an image")

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_selector("#palette .swatch")
            assert page.locator("#palette .swatch").count() == 12

            def upload(path):
                page.evaluate(
                    "document.getElementById('output').removeAttribute('src')"
                )
                page.set_input_files("#file", str(path))

            def wait_output():
                page.wait_for_function(
                    "() => {const i = document.getElementById('output');"
                    " return i.src && i.complete && i.naturalWidth > 0}",
                    timeout=20000,
                )
                return page.evaluate(
                    "() => {const i = document.getElementById('output');"
                    " return [i.naturalWidth, i.naturalHeight]}"
                )

            def latency():
                text = page.inner_text("#latency")
                m = re.fullmatch(r"translated in (\d+) ms \((\d+)x(\d+)\)", text)
                assert m, text
                return int(m.group(1))

            upload(label)
            assert wait_output() == label_size
            assert latency() >= 0
            assert page.inner_text("#error") == ""
            assert page.get_attribute("#download", "hidden") is None
            assert page.evaluate("document.getElementById('download').href").startswith(
                "blob:"
            )

            upload(corrupt)
            page.wait_for_function(
                "document.getElementById('error').textContent.length > 0"
            )
            assert page.inner_text("#error") == (
                "corrupt.png: unreadable image (not a JPEG, PNG or BMP, or "
                "a corrupt header)"
            )

            upload(text)
            page.wait_for_function(
                "document.getElementById('error').textContent.includes('notes.txt')"
            )
            assert page.inner_text("#error") == (
                "notes.txt: wrong file type '.txt'; upload a JPEG, PNG or BMP image"
            )

            # Draw with a palette colour and the eraser, then translate
            # the 256×256 canvas: the server kept running after the errors.
            box = page.locator("#canvas").bounding_box()
            page.locator("#palette .swatch").nth(3).click()
            page.mouse.move(box["x"] + 40, box["y"] + 40)
            page.mouse.down()
            page.mouse.move(box["x"] + 250, box["y"] + 200, steps=8)
            page.mouse.up()
            page.click("#eraser")
            page.mouse.move(box["x"] + 100, box["y"] + 100)
            page.mouse.down()
            page.mouse.move(box["x"] + 140, box["y"] + 120, steps=4)
            page.mouse.up()
            colours = page.evaluate(
                "() => {const c = document.getElementById('canvas')"
                ".getContext('2d'); const px = (x, y) => Array.from("
                "c.getImageData(x, y, 1, 1).data.slice(0, 3));"
                " return [px(2, 2), px(128, 112)]}"
            )
            assert colours[0] == [0, 0, 170]  # untouched: background
            page.evaluate("document.getElementById('output').removeAttribute('src')")
            page.click("#go")
            assert wait_output() == [256, 256]
            assert page.inner_text("#error") == ""

            # A good upload again after the errors.
            upload(label)
            assert wait_output() == label_size
            latency()
            if SCREENSHOT:
                page.screenshot(path=SCREENSHOT)
        finally:
            browser.close()
    assert _port_open(port)

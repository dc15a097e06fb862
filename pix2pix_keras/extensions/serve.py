"""`pix2pix serve`: a local browser demo of a trained generator.

`pix2pix serve --model runs/demo/model.keras` loads the model once and
serves one page on http://127.0.0.1:7860/: upload an image, or draw a
label map on a canvas (pen, eraser, a palette of the model's classes), and
see input | output side by side, with the inference time and a download
link. See `docs/serve.md`.

The server is the standard library's `ThreadingHTTPServer` and one static
page, not Gradio: Gradio caps Pillow below 13 (4.44.1: `pillow<11`,
5.50.0: `<12`, 6.31.0: `<13`) and this package pins `pillow==13.0.0`
(`requirements/constraints.txt`), so `pip install gradio` with the pins
cannot be resolved. The page needs three routes, so the demo adds no
dependency at all.

Routes:

- `GET /`: the page.
- `GET /info`: JSON `{"model", "size", "palette", "background"}`.
- `POST /translate`: the raw bytes of a JPEG, PNG or BMP image (header
  `X-Filename` gives its name); answers `image/png` of the input's size,
  with the milliseconds of the model call in `X-Latency-Ms`, or status 400
  and JSON `{"error": message}`.
"""

import html
import http.server
import io
import json
import os
import threading
import time

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError

from pix2pix_keras.utils import read_palette_lines

__all__ = [
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "LOOPBACK",
    "MAX_UPLOAD",
    "PAGE",
    "TranslateError",
    "Translator",
    "build_server",
    "facades_palette",
    "read_palette_file",
    "serve",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
FORMATS = ("JPEG", "PNG", "BMP")
MAX_UPLOAD = 32 * 2**20
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class TranslateError(ValueError):
    """A bad upload: the message is shown in the page."""


def facades_palette():
    """The 12 CMP facade classes: list of `(name, "#rrggbb")`."""
    from pix2pix_keras.data import _SAMPLE_ROOT

    return read_palette_file(os.path.join(_SAMPLE_ROOT, "palette.txt"))


def read_palette_file(path):
    """Reads `id name r g b` lines into a list of `(name, "#rrggbb")`."""
    colours = [
        (name, f"#{r:02x}{g:02x}{b:02x}")
        for _, name, (r, g, b) in read_palette_lines(path)
    ]
    if not colours:
        raise ValueError(f"{path}: no `id name r g b` lines")
    return colours


class Translator:
    """A generator loaded once, translating encoded images to PNG bytes.

    Args:
        model_path: str. A `.keras` file, a run folder, or a SavedModel
            folder written by `pix2pix export`.
        image_size: int or `None`. Resolution of a SavedModel (its
            signature has free height and width). Defaults to `256` for
            a SavedModel; a `.keras` model uses its own size.
        resample_in, resample_out: str. As in `pix2pix predict`: nearest
            to the model's size, bicubic back to the input's size.
    """

    def __init__(
        self, model_path, image_size=None, resample_in="nearest", resample_out="bicubic"
    ):
        path = os.path.abspath(os.fspath(model_path))
        self.model_path = path
        self.resample_in = getattr(Image.Resampling, resample_in.upper())
        self.resample_out = getattr(Image.Resampling, resample_out.upper())
        self._lock = threading.Lock()
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            import tensorflow as tf

            loaded = tf.saved_model.load(path)
            fn = loaded.signatures.get("serving_default") or loaded.serve
            spec = list(fn.structured_input_signature[1].values())[0]
            size = 256 if image_size is None else int(image_size)
            self.height = self.width = size
            self.in_channels = int(spec.shape[-1])
            name = list(fn.structured_input_signature[1])[0]

            def call(x):
                out = fn(**{name: tf.constant(x)})
                return np.asarray(list(out.values())[0])

            self._call = call
            probe = call(np.zeros((1, size, size, self.in_channels), "float32"))
            self.out_channels = int(probe.shape[-1])
        else:
            from pix2pix_keras.runs import load_model
            from pix2pix_keras.runs import model_size

            model, _ = load_model(path)
            h, w, c_in, c_out = model_size(model)
            if image_size is not None and image_size != h:
                raise ValueError(f"--image-size is for SavedModels; {path} is {h}x{w}")
            self.height, self.width = int(h), int(w)
            self.in_channels, self.out_channels = int(c_in), int(c_out)
            generator = model.generator
            self._call = lambda x: np.asarray(generator.predict_on_batch(x))
            self._call(
                np.zeros((1, self.height, self.width, self.in_channels), "float32")
            )
        for c in (self.in_channels, self.out_channels):
            if c not in (1, 3, 4):
                raise ValueError(
                    f"the model maps {self.in_channels} to "
                    f"{self.out_channels} channels; serve reads and writes "
                    "1, 3 or 4 channel images"
                )

    def decode(self, data, filename="upload"):
        """Encoded bytes → uint8 `(h, w, in_channels)`; `TranslateError`."""
        ext = os.path.splitext(filename)[1].lower()
        if ext and ext not in IMAGE_EXTENSIONS:
            raise TranslateError(
                f"{filename}: wrong file type {ext!r}; upload a JPEG, PNG or BMP image"
            )
        if not data:
            raise TranslateError(f"{filename}: empty file (0 bytes)")
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[self.in_channels]
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.format not in FORMATS:
                    raise TranslateError(
                        f"{filename}: unsupported format {im.format}; "
                        "upload a JPEG, PNG or BMP image"
                    )
                image = np.asarray(im.convert(mode))
        except UnidentifiedImageError:
            raise TranslateError(
                f"{filename}: unreadable image (not a JPEG, PNG or BMP, or "
                "a corrupt header)"
            ) from None
        except (OSError, SyntaxError, ValueError) as e:
            if isinstance(e, TranslateError):
                raise
            raise TranslateError(
                f"{filename}: unreadable image (corrupt or truncated: {e})"
            ) from None
        return image.reshape(image.shape[0], image.shape[1], self.in_channels)

    def translate_array(self, image):
        """uint8 `(h, w, c_in)` → `(uint8 (h, w, c_out), milliseconds)`.

        Resized to the model's size and back, as `pix2pix predict` does.
        """
        h, w = image.shape[:2]
        small = Image.fromarray(image.squeeze(-1) if self.in_channels == 1 else image)
        small = small.resize((self.width, self.height), self.resample_in)
        x = (
            np.asarray(small, "float32").reshape(
                1, self.height, self.width, self.in_channels
            )
            / 127.5
            - 1.0
        )
        with self._lock:
            start = time.perf_counter()
            fake = self._call(x)
            ms = (time.perf_counter() - start) * 1000.0
        fake = np.clip(np.round((fake[0] + 1.0) * 127.5), 0, 255)
        fake = fake.astype("uint8")
        out = Image.fromarray(fake.squeeze(-1) if self.out_channels == 1 else fake)
        if out.size != (w, h):
            out = out.resize((w, h), self.resample_out)
        out = np.asarray(out).reshape(h, w, self.out_channels)
        return out, ms

    def translate(self, data, filename="upload"):
        """Encoded image bytes → `(png_bytes, (width, height), ms)`.

        Raises:
            TranslateError: wrong file type or unreadable image.
        """
        image = self.decode(data, filename)
        out, ms = self.translate_array(image)
        buf = io.BytesIO()
        Image.fromarray(out.squeeze(-1) if self.out_channels == 1 else out).save(
            buf, format="PNG"
        )
        return buf.getvalue(), (image.shape[1], image.shape[0]), ms


def build_server(translator, host="127.0.0.1", port=7860, palette=None, quiet=True):
    """A `ThreadingHTTPServer` serving the page for `translator`.

    Args:
        translator: `Translator`.
        host, port: where to listen (`port=0`: a free port).
        palette: list of `(name, "#rrggbb")` or `None` (free colours).
        quiet: bool. Do not log each request. Defaults to `True`.

    Returns:
        `http.server.ThreadingHTTPServer`; `serve_forever()` runs it.
    """
    background = palette[0][1] if palette else "#ffffff"
    info = json.dumps(
        {
            "model": os.path.basename(translator.model_path),
            "size": [translator.height, translator.width],
            "palette": [{"name": n, "colour": c} for n, c in palette or []],
            "background": background,
        }
    ).encode()
    page = PAGE.replace(
        "{{title}}", html.escape(os.path.basename(translator.model_path))
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "pix2pix-serve"

        def log_message(self, *args):
            if not quiet:
                super().log_message(*args)

        def _send(self, status, body, ctype, headers=()):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status, message):
            self._send(
                status, json.dumps({"error": message}).encode(), "application/json"
            )

        def do_GET(self):
            if self.path in ("/", "/index.html"):
                self._send(200, page, "text/html; charset=utf-8")
            elif self.path == "/info":
                self._send(200, info, "application/json")
            else:
                self._error(404, f"no such page: {self.path}")

        def do_POST(self):
            if self.path != "/translate":
                return self._error(404, f"no such page: {self.path}")
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_UPLOAD:
                return self._error(413, f"uploads are limited to {MAX_UPLOAD >> 20} MB")
            data = self.rfile.read(length)
            filename = os.path.basename(self.headers.get("X-Filename") or "upload")
            try:
                png, (w, h), ms = translator.translate(data, filename)
            except TranslateError as e:
                return self._error(400, str(e))
            except Exception as e:  # noqa: BLE001 - shown; server goes on
                return self._error(500, f"{type(e).__name__}: {e}")
            self._send(
                200,
                png,
                "image/png",
                (
                    ("X-Latency-Ms", f"{ms:.1f}"),
                    ("X-Image-Size", f"{w}x{h}"),
                ),
            )

    return http.server.ThreadingHTTPServer((host, port), Handler)


def serve(
    model_path,
    host="127.0.0.1",
    port=7860,
    allow_remote=False,
    image_size=None,
    palette="facades",
    quiet=True,
):
    """Loads the model once and serves the page until interrupted.

    Args:
        palette: `"facades"` (the 12 CMP classes), `"none"` (free colour
            picker), or the path of an `id name r g b` file.
    """
    if host not in LOOPBACK and not allow_remote:
        raise ValueError(
            f"refusing to listen on {host!r}: the demo has no "
            "authentication; use a loopback host (127.0.0.1) or pass "
            "--allow-remote"
        )
    if palette == "facades":
        colours = facades_palette()
    elif palette in (None, "none"):
        colours = None
    else:
        colours = read_palette_file(palette)
    translator = Translator(model_path, image_size=image_size)
    try:
        server = build_server(translator, host, port, colours, quiet=quiet)
    except OSError as e:
        raise OSError(f"cannot listen on {host}:{port}: {e}") from None
    print(
        f"Serving {translator.model_path} "
        f"({translator.height}x{translator.width}) on "
        f"http://{host}:{server.server_address[1]}/ (Ctrl+C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>pix2pix: {{title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:16px 24px;color:#222}
h1{font-size:20px;margin:0 0 8px}
.row{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
.panel{display:flex;flex-direction:column;gap:6px}
.panel h2{font-size:15px;margin:4px 0}
canvas,img.view{width:320px;height:320px;border:1px solid #999;
 object-fit:contain;background:#f4f4f4;image-rendering:pixelated}
canvas{cursor:crosshair}
.tools{display:flex;gap:6px;flex-wrap:wrap;align-items:center;max-width:330px}
.swatch{width:26px;height:26px;border:2px solid #fff;outline:1px solid #888;
 cursor:pointer;padding:0}
.swatch.on{outline:3px solid #000}
button.tool.on{background:#333;color:#fff}
#error{color:#b00020;font-weight:600;min-height:1.3em}
#latency{font-weight:600;min-height:1.3em}
</style></head><body>
<h1>pix2pix &mdash; {{title}}</h1>
<p>Upload a JPEG, PNG or BMP image, or draw on the canvas and press
<b>Translate drawing</b>. The image is resized to the model's size
(<span id="msize"></span>), translated, and resized back.</p>
<div class="row">
 <div class="panel"><h2>Draw</h2>
  <canvas id="canvas" width="256" height="256"></canvas>
  <div class="tools">
   <button class="tool on" id="pen" type="button">Pen</button>
   <button class="tool" id="eraser" type="button">Eraser</button>
   <label>size <input id="brush" type="range" min="2" max="64"
     value="16"></label>
   <button id="clear" type="button">Clear</button>
  </div>
  <div class="tools" id="palette"></div>
  <button id="go" type="button">Translate drawing</button>
  <label>or upload: <input id="file" type="file"
    accept=".png,.jpg,.jpeg,.bmp,image/png,image/jpeg,image/bmp"></label>
 </div>
 <div class="panel"><h2>Input</h2><img id="input" class="view" alt="input">
 </div>
 <div class="panel"><h2>Output</h2><img id="output" class="view"
   alt="output">
  <a id="download" download="pix2pix.png" hidden>Download the result</a>
 </div>
</div>
<p id="latency"></p>
<p id="error" role="alert"></p>
<script>
const $ = id => document.getElementById(id);
const cv = $("canvas"), ctx = cv.getContext("2d");
let colour = "#000000", background = "#ffffff", tool = "pen", down = false;
let last = null, outUrl = null, inUrl = null;
function clearCanvas(){ctx.fillStyle = background;
 ctx.fillRect(0, 0, cv.width, cv.height);}
function pick(c, el){colour = c; setTool("pen");
 document.querySelectorAll(".swatch").forEach(s => s.classList.remove("on"));
 if (el) el.classList.add("on");}
function setTool(t){tool = t; $("pen").classList.toggle("on", t == "pen");
 $("eraser").classList.toggle("on", t == "eraser");}
fetch("info").then(r => r.json()).then(info => {
 background = info.background; $("msize").textContent =
  info.size[1] + "\u00d7" + info.size[0];
 const pal = $("palette");
 if (info.palette.length) {
  info.palette.forEach((p, i) => {const b = document.createElement("button");
   b.type = "button"; b.className = "swatch"; b.title = p.name;
   b.style.background = p.colour; b.onclick = () => pick(p.colour, b);
   pal.appendChild(b); if (i == 2) pick(p.colour, b);});
 } else {const c = document.createElement("input"); c.type = "color";
  c.oninput = () => pick(c.value, null); pal.appendChild(c);}
 clearCanvas();
});
function pos(e){const r = cv.getBoundingClientRect();
 return [(e.clientX - r.left) * cv.width / r.width,
         (e.clientY - r.top) * cv.height / r.height];}
function stroke(p){ctx.strokeStyle = tool == "eraser" ? background : colour;
 ctx.lineWidth = +$("brush").value; ctx.lineCap = "square";
 ctx.beginPath(); ctx.moveTo(...(last || p)); ctx.lineTo(...p); ctx.stroke();
 last = p;}
cv.onpointerdown = e => {down = true; last = null; stroke(pos(e));};
cv.onpointermove = e => {if (down) stroke(pos(e));};
window.onpointerup = () => {down = false; last = null;};
$("pen").onclick = () => setTool("pen");
$("eraser").onclick = () => setTool("eraser");
$("clear").onclick = clearCanvas;
async function translate(blob, name){
 $("error").textContent = ""; $("latency").textContent = "translating\u2026";
 let r;
 try {r = await fetch("translate", {method: "POST", body: blob,
   headers: {"X-Filename": name}});}
 catch (e) {$("latency").textContent = "";
  $("error").textContent = "The server did not answer: " + e; return;}
 if (!r.ok) {let msg = "Error " + r.status;
  try {msg = (await r.json()).error;} catch (e) {}
  $("latency").textContent = ""; $("error").textContent = msg; return;}
 if (inUrl) URL.revokeObjectURL(inUrl);
 if (outUrl) URL.revokeObjectURL(outUrl);
 inUrl = URL.createObjectURL(blob); $("input").src = inUrl;
 outUrl = URL.createObjectURL(await r.blob()); $("output").src = outUrl;
 const a = $("download"); a.href = outUrl; a.hidden = false;
 a.download = name.replace(/\.[^.]*$/, "") + "_pix2pix.png";
 $("latency").textContent = "translated in " +
  Math.round(+r.headers.get("X-Latency-Ms")) + " ms (" +
  r.headers.get("X-Image-Size") + ")";
}
$("file").onchange = () => {const f = $("file").files[0];
 if (f) translate(f, f.name); $("file").value = "";};
$("go").onclick = () => cv.toBlob(
 b => translate(b, "drawing.png"), "image/png");
</script></body></html>
"""

"""Makes the documentation's figures in docs/images/.

Each figure has a name and a function; `--only NAME` makes one of them.

    python tools/make_figures.py --only architecture
    python tools/make_figures.py --only augmentations
    python tools/make_figures.py --only bicycle
    python tools/make_figures.py --only tiling --model PATH/model.keras
    python tools/make_figures.py --only tensorboard --run PATH/run_folder

`tiling` needs a trained `.keras` Pix2Pix model (`--model`) and
`tensorboard` the output folder of a `pix2pix train --tensorboard` run
(`--run`); both are skipped, with a message, when their argument is missing.
`tensorboard` also needs Playwright and a Chromium (`--chromium`, default
`/usr/bin/chromium`). Everything else uses the bundled facades sample.
"""

import argparse
import os
import socket
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "images")

FIGURES = {
    "architecture": "architecture.png",
    "augmentations": "augmentations.jpg",
    "bicycle": "bicycle_samples.jpg",
    "tiling": "tiling.jpg",
    "tensorboard": "tensorboard.png",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, dpi):
    plt = _plt()
    kwargs = {"pil_kwargs": {"quality": 85}} if path.endswith(".jpg") else {}
    fig.savefig(path, dpi=dpi, bbox_inches="tight", **kwargs)
    plt.close(fig)


def _to_uint8(x):
    return np.clip((np.asarray(x) + 1.0) * 127.5, 0, 255).round().astype("uint8")


def _sample_pairs(split, image_size, n=None, directory=None):
    """Facades pairs (label map, photo) as float arrays in [-1, 1]: the
    bundled sample's `split`, or the pairs in `directory` if given."""
    import pix2pix_keras as pk

    ds = pk.load_paired_dataset(
        directory or pk.sample_data_dir(split),
        direction="BtoA",
        image_size=image_size,
        load_size=image_size,
        labels=pk.facades_labels(),
        training=False,
        batch_size=1,
        cache=False,
    )
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy()[0])
        ys.append(y.numpy()[0])
        if n is not None and len(xs) == n:
            break
    return np.stack(xs), np.stack(ys)


# ---------------------------------------------------------------------------
# 1. Architecture


def _blocks(model, pattern):
    """Groups a functional model's layers into blocks by layer name.

    Returns `[(key, [layers])]` in layer order; `pattern` is a regex whose
    first group is the block key (layers that do not match are their own
    block).
    """
    import re

    blocks = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        m = re.search(pattern, layer.name)
        key = m.group(1) if m else layer.name
        if blocks and blocks[-1][0] == key:
            blocks[-1][1].append(layer)
        else:
            blocks.append((key, [layer]))
    return blocks


def _describe(layers):
    """'Conv2D 4×4/2 → BatchNorm → LeakyReLU' and the last output shape."""
    short = {
        "BatchNormalization": "BatchNorm",
        "Conv2DTranspose": "ConvT",
        "NoiseDropout": "Dropout",
        "ZeroPadding2D": "Pad",
        "Concatenate": "Concat",
    }
    parts = []
    for layer in layers:
        name = type(layer).__name__
        text = short.get(name, name)
        if name in ("Conv2D", "Conv2DTranspose"):
            k = layer.kernel_size[0]
            st = layer.strides[0]
            text += f" {k}×{k}/{st}"
            act = getattr(layer.activation, "__name__", "linear")
            if act != "linear":
                text += f" → {act}"
        parts.append(text)
    shape = tuple(layers[-1].output.shape[1:])
    return " → ".join(parts), shape


def _shape_text(shape):
    return "×".join(str(s) for s in shape)


def architecture(out, image_size=256, dpi=100):
    """U-Net generator and PatchGAN discriminator of `Pix2Pix(image_size)`."""
    import math

    import pix2pix_keras as pk

    plt = _plt()
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.patches import FancyBboxPatch

    model = pk.Pix2Pix(image_size=image_size)
    g, d = model.generator, model.discriminator
    g_blocks = _blocks(g, r"_((?:down|up|skip)\d+)_?")
    downs = [(k, ls) for k, ls in g_blocks if k.startswith("down")]
    ups = [(k, ls) for k, ls in g_blocks if k.startswith("up")]
    skips = {k: ls[0] for k, ls in g_blocks if k.startswith("skip")}
    tail = [ls for k, ls in g_blocks if not k.startswith(("down", "up", "skip"))]
    if not downs or not ups:
        raise RuntimeError(f"unexpected generator layers: {g_blocks}")

    def level(shape):  # rows by resolution: the input on top
        return math.log2(shape[0])

    top = level(g.inputs[0].shape[1:])
    fig = plt.figure(figsize=(13, 10.5))
    ax = fig.add_axes([0.0, 0.27, 1.0, 0.73])
    ax.set_xlim(0, 13)
    ax.set_ylim(-0.8, top + 1.3)
    ax.axis("off")

    def box(axis, x, y, w, h, text, color, fontsize=7.5):
        axis.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                fc=color,
                ec="0.3",
                lw=0.8,
            )
        )
        axis.text(x, y, text, ha="center", va="center", fontsize=fontsize)

    def arrow(axis, p, q, **kw):
        kw.setdefault("arrowstyle", "-|>")
        kw.setdefault("mutation_scale", 9)
        kw.setdefault("lw", 0.8)
        kw.setdefault("color", "0.2")
        axis.add_patch(FancyArrowPatch(p, q, **kw))

    w, h = 3.3, 0.62
    xl, xr = 2.4, 10.6
    ax.text(
        6.5,
        top + 1.0,
        f"U-Net generator ({type(g).__name__}), "
        f"{g.count_params() / 1e6:.1f} M parameters",
        ha="center",
        fontsize=13,
        weight="bold",
    )
    in_shape = tuple(g.inputs[0].shape[1:])
    box(ax, xl, top, w, h, f"input image\n{_shape_text(in_shape)}", "#eeeeee")
    prev = (xl, top)
    pos = {}
    for key, layers in downs:
        text, shape = _describe(layers)
        y = level(shape)
        box(ax, xl, y, w, h, f"{key}: {text}\n{_shape_text(shape)}", "#cfe2f3")
        arrow(ax, (prev[0], prev[1] - h / 2), (xl, y + h / 2))
        prev = (xl, y)
        pos[key] = (xl, y, shape)
    for i, (key, layers) in enumerate(ups):
        text, shape = _describe(layers)
        y = level(shape)
        box(ax, xr, y, w, h, f"{key}: {text}\n{_shape_text(shape)}", "#fce5cd")
        if i == 0:
            arrow(
                ax,
                (prev[0] + w / 2, prev[1]),
                (xr - w / 2, y - 0.15),
                connectionstyle="arc3,rad=0.1",
            )
        else:
            arrow(ax, (xr, prev[1] + h / 2), (xr, y - h / 2))
        prev = (xr, y)
    # Skip connections: each Concatenate joins an up block's output with the
    # down block at its resolution.
    for name, layer in skips.items():
        sources = [t._keras_history[0].name for t in layer.input]
        for key, (x0, y0, shape) in pos.items():
            if any(f"_{key}_" in s for s in sources):
                arrow(
                    ax,
                    (x0 + w / 2, y0),
                    (xr - w / 2, y0),
                    color="#3d85c6",
                    ls="--",
                    lw=1.0,
                )
                ax.text(
                    6.5,
                    y0 + 0.08,
                    f"skip: concat, {layer.output.shape[-1]} channels",
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    color="#3d85c6",
                )
    for layers in tail:
        text, shape = _describe(layers)
        y = level(shape)
        box(
            ax,
            xr,
            y,
            w,
            h,
            f"{layers[0].name.split('_')[-1]}: {text}\n{_shape_text(shape)}",
            "#d9ead3",
        )
        arrow(ax, (xr, prev[1] + h / 2), (xr, y - h / 2))
        prev = (xr, y)
    ax.text(
        6.5,
        -0.65,
        "blue dashed arrows: skip connections (the down "
        "block's output is concatenated to the up block's output at "
        "the same resolution); k×k/s = kernel size / stride",
        ha="center",
        fontsize=8.5,
        color="#3d85c6",
    )

    # Discriminator: one row of blocks.
    bx = fig.add_axes([0.0, 0.0, 1.0, 0.25])
    bx.set_xlim(0, 13)
    bx.set_ylim(0, 2.3)
    bx.axis("off")
    bx.text(
        6.5,
        2.05,
        f"PatchGAN discriminator ({type(d).__name__}), "
        f"{d.count_params() / 1e6:.2f} M parameters",
        ha="center",
        fontsize=13,
        weight="bold",
    )
    d_blocks = _blocks(d, r"_[a-z]+(\d+)$")
    ins = " + ".join(f"{t.name} {_shape_text(t.shape[1:])}" for t in d.inputs)
    items = [("inputs", ins.replace(" + ", " +\n"), "#eeeeee")]
    for key, layers in d_blocks:
        text, shape = _describe(layers)
        label = key if key.isdigit() else layers[0].name.split("_", 1)[-1]
        label = f"block {label}" if key.isdigit() else label
        items.append(
            (label, f"{text.replace(' → ', chr(10))}\n{_shape_text(shape)}", "#ead1dc")
        )
    k = len(items)
    step = 12.6 / k
    for i, (label, text, color) in enumerate(items):
        x = 0.2 + step * (i + 0.5)
        box(bx, x, 0.95, step * 0.9, 1.5, f"{label}\n{text}", color, fontsize=7)
        if i:
            arrow(bx, (x - step * 0.55, 0.95), (x - step * 0.45, 0.95))
    out_shape = _shape_text(tuple(d.outputs[0].shape[1:]))
    bx.text(
        6.5,
        0.0,
        f"output {out_shape}: one real/fake logit per "
        "overlapping patch of the (source, image) pair",
        ha="center",
        fontsize=8.5,
    )
    _save(fig, out, dpi)
    return out


# ---------------------------------------------------------------------------
# 2. Augmentations


def augmentations(out, image_size=128, dpi=90):
    """One bundled pair under the package's augmentations, column by setting."""
    import pix2pix_keras as pk
    from pix2pix_keras.augment import Augment

    plt = _plt()
    data = pk.sample_data_dir("train")
    load = image_size * 286 // 256
    # Colour jitter on the photo (the target) only.
    photo_jitter = dict(
        color_jitter={
            "brightness": 0.3,
            "contrast": 0.3,
            "saturation": 0.3,
            "hue": 0.1,
        },
        color_jitter_side="target",
    )
    settings = [
        ("no augmentation\n(evaluation pipeline)", None),
        (
            "random jitter\n(resize to %d, crop %d) + flip" % (load, image_size),
            dict(load_size=load),
        ),
        (
            "elastic deformation\n(alpha 34, sigma 4)",
            dict(load_size=image_size, flip=False, augment=Augment(elastic=True)),
        ),
        (
            "colour jitter on the photo\n(brightness, contrast, saturation, hue)",
            dict(
                load_size=image_size,
                flip=False,
                augment=Augment(**photo_jitter),
            ),
        ),
        (
            "all of them",
            dict(
                load_size=load,
                augment=Augment(elastic=True, **photo_jitter),
            ),
        ),
    ]
    seeds = [1, 2, 3]
    index = 3
    rows = []  # one row per setting: (label map, photo) for each seed
    for title, kwargs in settings:
        pairs = []
        for s in seeds:
            if kwargs is None:
                x, y = _sample_pairs("train", image_size, n=index + 1)
                pairs.append((x[index], y[index]))
                break
            ds = pk.load_paired_dataset(
                data,
                direction="BtoA",
                image_size=image_size,
                labels=pk.facades_labels(),
                training=True,
                shuffle=False,
                seed=s,
                cache=False,
                **kwargs,
            )
            x, y = next(iter(ds.unbatch().skip(index).take(1)))
            pairs.append((x.numpy(), y.numpy()))
        rows.append((title, pairs))
    n_cols = 2 * len(seeds)
    fig, axes = plt.subplots(
        len(rows), n_cols, figsize=(1.2 * n_cols + 2.6, 1.3 * len(rows))
    )
    for r, (title, pairs) in enumerate(rows):
        for c in range(n_cols):
            a = axes[r, c]
            a.set_xticks([])
            a.set_yticks([])
            if c // 2 >= len(pairs):
                a.axis("off")
                continue
            a.imshow(_to_uint8(pairs[c // 2][c % 2]))
        axes[r, 0].set_ylabel(title, fontsize=7.5, rotation=0, ha="right", va="center")
    axes[0, 0].set_title("label map", fontsize=8)
    axes[0, 1].set_title("photo", fontsize=8)
    for i, s in enumerate(seeds):
        axes[1, 2 * i].set_title(f"seed {s}: label map", fontsize=8)
        axes[1, 2 * i + 1].set_title("photo", fontsize=8)
    fig.subplots_adjust(left=0.27, right=0.99, wspace=0.03, hspace=0.25)
    _save(fig, out, dpi)
    return out


# ---------------------------------------------------------------------------
# 3. BicycleGAN


def code_diversity(samples, photos):
    """How much the codes change the outputs, against the error to the photo.

    Args:
        samples: array `(batch, n_codes, h, w, c)` in [-1, 1], the outputs
            of `n_codes` codes for each input.
        photos: array `(batch, h, w, c)`, the real photos.

    Returns:
        `(pairwise, to_photo)`: the mean L1 between the outputs of two
        different codes for the same input (over all pairs of codes), and
        the mean L1 between an output and its photo.
    """
    samples = np.asarray(samples, dtype="float64")
    n = samples.shape[1]
    pairs = [(j, k) for j in range(n) for k in range(j + 1, n)]
    pairwise = np.mean([np.abs(samples[:, j] - samples[:, k]).mean() for j, k in pairs])
    to_photo = np.abs(samples - np.asarray(photos)[:, None]).mean()
    return float(pairwise), float(to_photo)


def _bicycle_model(image_size, seed, latent=8):
    """The figure's BicycleGAN: a 32-filter U-Net with `z` in every block."""
    import pix2pix_keras as pk

    return pk.BicycleGAN(
        generator=pk.UNetGenerator(
            image_size=image_size,
            filters=32,
            max_filters=256,
            latent_dim=latent,
            latent_injection="all",
            norm="instance",
            dropout=0.0,
        ),
        discriminator=pk.PatchDiscriminator(
            image_size=image_size, filters=32, max_filters=256, n_layers=3
        ),
        encoder=pk.LatentEncoder(image_size=image_size, filters=32, latent_dim=latent),
        latent_dim=latent,
        image_size=image_size,
        seed=seed,
    )


def _bicycle_progress(x_val, y_val, start, save):
    """A callback: every 5 epochs and after the last, the losses, the codes'
    diversity on `x_val` and (with `save`) the model so far."""
    import keras

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % 5 and epoch + 1 != self.params["epochs"]:
                return
            pairwise, to_photo = code_diversity(
                self.model.sample(x_val, n=5, seed=1), y_val
            )
            print(
                f"bicycle: epoch {epoch + 1}, {(time.time() - start) / 60:.1f} min, "
                f"z_l1 {logs['z_l1']:.3f}, g_l1 {logs['g_l1']:.3f}, "
                f"between codes {pairwise:.3f}, to the photo {to_photo:.3f}",
                flush=True,
            )
            if save:
                self.model.save(save)

    return Progress()


def bicycle(
    out,
    image_size=64,
    epochs=40,
    lambda_z=0.5,
    data=None,
    model_path=None,
    save=None,
    n_rows=4,
    n_codes=5,
    seed=0,
    dpi=90,
):
    """A small BicycleGAN trained on facades; rows: label map, codes, photo.

    `data` is a folder of training pairs (any layout `load_paired_dataset`
    reads; the bundled sample's training split by default), shuffled and
    randomly flipped every epoch, in batches of 2 as in the reference.
    `lambda_z` weighs the latent regression (the reference's 0.5 by
    default): a larger weight pushes the generator to make the code
    visible. `model_path` draws the figure with a saved model instead of
    training one; `save` keeps the trained model (written every 5 epochs
    and after the last).
    """
    import keras
    import tensorflow as tf

    plt = _plt()
    keras.utils.set_random_seed(seed)
    x_val, y_val = _sample_pairs("val", image_size, n=n_rows)
    start = time.time()
    if model_path:
        model = keras.saving.load_model(model_path)
        n_train = None
    else:
        x_train, y_train = _sample_pairs("train", image_size, directory=data)
        n_train = len(x_train)
        model = _bicycle_model(image_size, seed)
        model.compile(lambda_z=lambda_z)

        def flip(x, y):
            both = tf.concat([x, y], axis=-1)
            both = tf.image.random_flip_left_right(both)
            return both[..., : x.shape[-1]], both[..., x.shape[-1] :]

        train = (
            tf.data.Dataset.from_tensor_slices((x_train, y_train))
            .shuffle(n_train, seed=seed, reshuffle_each_iteration=True)
            .map(flip)
            .batch(2, drop_remainder=True)
        )
        model.fit(
            train,
            epochs=epochs,
            verbose=0,
            callbacks=[_bicycle_progress(x_val, y_val, start, save)],
        )
    samples = model.sample(x_val, n=n_codes, seed=seed + 1)
    cols = n_codes + 2
    fig, axes = plt.subplots(n_rows, cols, figsize=(1.5 * cols, 1.5 * n_rows))
    for r in range(n_rows):
        panels = [x_val[r], *samples[r], y_val[r]]
        for c, p in enumerate(panels):
            axes[r, c].imshow(_to_uint8(p))
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
    axes[0, 0].set_title("label map", fontsize=9)
    for c in range(n_codes):
        axes[0, c + 1].set_title(f"z{c + 1}", fontsize=9)
    axes[0, -1].set_title("photo", fontsize=9)
    fig.suptitle(
        f"BicycleGAN, {image_size}×{image_size}: held-out label maps, "
        "one column per random code z",
        fontsize=9,
    )
    fig.subplots_adjust(wspace=0.04, hspace=0.04, top=0.9)
    _save(fig, out, dpi)
    if n_train:
        minutes = (time.time() - start) / 60
        print(
            f"bicycle: trained {epochs} epochs on {n_train} pairs "
            f"(lambda_z {lambda_z}) in {minutes:.1f} min"
        )
    pairwise, to_photo = code_diversity(samples, y_val[:n_rows])
    print(
        f"bicycle: mean L1 between the outputs of two codes {pairwise:.3f}, "
        f"from an output to the photo {to_photo:.3f} (images in [-1, 1])"
    )
    return out


# ---------------------------------------------------------------------------
# 4. Tiled vs resized


def tiling(out, model_path, grid=(2, 3), dpi=100):
    """`translate_tiled` on a large map vs. resize to the model size and back."""
    import tensorflow as tf

    import pix2pix_keras as pk

    plt = _plt()
    import keras

    model = keras.saving.load_model(model_path, compile=False)
    g = model.generator if hasattr(model, "generator") else model
    size = int(g.inputs[0].shape[1])
    # Several bundled 256×256 label maps side by side: a large input.
    xs, _ = _sample_pairs("val", 256, n=grid[0] * grid[1])
    rows = [
        np.concatenate(list(xs[r * grid[1] : (r + 1) * grid[1]]), axis=1)
        for r in range(grid[0])
    ]
    big = np.concatenate(rows, axis=0)
    h, w = big.shape[:2]
    start = time.time()
    tiled = np.asarray(pk.translate_tiled(model, big))
    t_tiled = time.time() - start
    small = tf.image.resize(big[None], (size, size), method="nearest")
    y = g(small, training=False)
    resized = tf.image.resize(y, (h, w), method="bilinear")[0].numpy()
    panels = [
        ("input label map (%d×%d)" % (w, h), big),
        ("resized to %d×%d, translated, resized back" % (size, size), resized),
        ("translate_tiled: %d×%d tiles, blended" % (size, size), tiled),
    ]
    print(f"tiling: translate_tiled took {t_tiled:.1f} s")
    crop = (slice(0, 256), slice(256, 512))  # one bundled map, full size
    fig, axes = plt.subplots(
        2,
        3,
        figsize=(15, 5 * h / w + 5 + 0.8),
        gridspec_kw={"height_ratios": [h / w, 1.0]},
    )
    for c, (title, p) in enumerate(panels):
        axes[0, c].imshow(_to_uint8(p))
        axes[0, c].set_title(title, fontsize=10)
        axes[1, c].imshow(_to_uint8(p[crop]), interpolation="nearest")
        axes[1, c].set_title("detail: the 256×256 region in the white box", fontsize=9)
        for a in axes[:, c]:
            a.axis("off")
    axes[0, 0].add_patch(
        plt.Rectangle((256, 0), 256, 256, fill=False, ec="white", lw=1.5)
    )
    fig.subplots_adjust(wspace=0.03, hspace=0.08)
    _save(fig, out, dpi)
    return out


# ---------------------------------------------------------------------------
# 5. TensorBoard


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tensorboard(
    out,
    run,
    chromium="/usr/bin/chromium",
    width=1280,
    height=960,
    timeout=120,
    tags="epoch_(g_l1|g_gan|d_loss|g_lr)$",
):
    """Screenshot of TensorBoard's scalars for `<run>/tensorboard`."""
    import urllib.request

    from playwright.sync_api import sync_playwright

    logdir = os.path.join(run, "tensorboard")
    if not os.path.isdir(logdir):
        raise FileNotFoundError(f"no tensorboard folder in {run}")
    port = _free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "tensorboard.main"]
    server = subprocess.Popen(
        cmd + ["--logdir", logdir, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(url + "data/runs", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError("tensorboard did not start")
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            try:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(url + "#timeseries", timeout=timeout * 1000)
                page.wait_for_selector(
                    "canvas, svg .line, path.line", timeout=timeout * 1000
                )
                page.wait_for_timeout(2000)
                # Close the settings pane and show a few key scalars.
                settings = page.locator("button:has-text('Settings')")
                if settings.count() and page.locator("text=Horizontal Axis").count():
                    settings.first.click()
                page.fill("input[placeholder='Filter tags (regex)']", tags)
                page.keyboard.press("Escape")  # close the autocomplete list
                page.mouse.click(width - 5, height - 5)
                page.wait_for_timeout(6000)  # let the charts finish drawing
                page.screenshot(path=out)
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return out


# ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Makes the documentation's figures in docs/images/. "
        "Figures: " + ", ".join(f"{k} ({v})" for k, v in FIGURES.items()) + "."
    )
    parser.add_argument(
        "--only",
        choices=sorted(FIGURES),
        action="append",
        help="make only this figure (repeatable): " + ", ".join(FIGURES),
    )
    parser.add_argument(
        "--out", default=OUT, help="output folder (default: docs/images)"
    )
    parser.add_argument(
        "--model", help="trained Pix2Pix .keras model for the tiling figure"
    )
    parser.add_argument(
        "--run",
        help="output folder of a `pix2pix train "
        "--tensorboard` run, for the tensorboard figure",
    )
    parser.add_argument(
        "--chromium",
        default="/usr/bin/chromium",
        help="Chromium executable used by Playwright",
    )
    parser.add_argument(
        "--bicycle-epochs",
        type=int,
        default=40,
        help="training epochs of the bicycle figure",
    )
    parser.add_argument(
        "--bicycle-lambda-z",
        type=float,
        default=0.5,
        help="weight of the latent regression of the bicycle figure's model",
    )
    parser.add_argument(
        "--bicycle-data",
        help="folder of facades training pairs for the bicycle figure "
        "(default: the bundled sample's training split)",
    )
    parser.add_argument(
        "--bicycle-save", help="where to save the bicycle figure's trained model"
    )
    parser.add_argument(
        "--bicycle-model",
        help="draw the bicycle figure with this saved BicycleGAN instead of training",
    )
    args = parser.parse_args(argv)
    if args.bicycle_model:
        training = {
            "--bicycle-data": args.bicycle_data,
            "--bicycle-save": args.bicycle_save,
            "--bicycle-epochs": args.bicycle_epochs
            != parser.get_default("bicycle_epochs"),
            "--bicycle-lambda-z": args.bicycle_lambda_z
            != parser.get_default("bicycle_lambda_z"),
        }
        given = [flag for flag, value in training.items() if value]
        if given:
            parser.error(
                f"--bicycle-model draws with a trained model: {', '.join(given)} "
                "only apply when the figure's model is trained here"
            )
    os.makedirs(args.out, exist_ok=True)
    names = args.only or list(FIGURES)
    for name in names:
        path = os.path.join(args.out, FIGURES[name])
        start = time.time()
        if name == "architecture":
            architecture(path)
        elif name == "augmentations":
            augmentations(path)
        elif name == "bicycle":
            bicycle(
                path,
                epochs=args.bicycle_epochs,
                lambda_z=args.bicycle_lambda_z,
                data=args.bicycle_data,
                model_path=args.bicycle_model,
                save=args.bicycle_save,
            )
        elif name == "tiling":
            if not args.model:
                print("tiling: skipped (needs --model PATH)")
                continue
            tiling(path, args.model)
        elif name == "tensorboard":
            if not args.run:
                print("tensorboard: skipped (needs --run PATH)")
                continue
            tensorboard(path, args.run, chromium=args.chromium)
        size = os.path.getsize(path) / 1024
        print(
            f"wrote {os.path.relpath(path)} ({size:.0f} KB, "
            f"{time.time() - start:.0f} s)"
        )


if __name__ == "__main__":
    main()

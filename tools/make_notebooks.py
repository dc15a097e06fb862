"""Writes notebooks/*.ipynb from the cell lists below, and runs them.

The notebooks are committed with their outputs (figures and printed
numbers), so GitHub and the documentation site show them. Run from the
repository root:

    .venv/bin/python tools/make_notebooks.py            # write and execute all
    .venv/bin/python tools/make_notebooks.py quickstart # only some
    .venv/bin/python tools/make_notebooks.py --no-execute  # Markdown edits
    .venv/bin/python tools/make_notebooks.py --check    # exit 1 if stale

Execution runs the normal (not `PIX2PIX_FAST`) mode, in notebooks/ as the
working directory, with this interpreter's `python3` kernel. The cells of
data_augmentation.ipynb are in tools/make_data_notebook.py.
"""

import argparse
import os
import re
import sys
import time

import nbformat
from nbformat.v4 import new_code_cell
from nbformat.v4 import new_markdown_cell
from nbformat.v4 import new_notebook

QUICKSTART = [
    new_markdown_cell(
        "# Pix2Pix quickstart: CMP facades, label map → photo\n\n"
        "Trains the classic Pix2Pix (U-Net generator, 70×70 PatchGAN, LSGAN + "
        "100·L1) on the 24 facade pairs bundled with the package, shows the "
        "translations of 6 held-out pairs, then saves, reloads and exports "
        "the model.\n\n"
        "The outputs shown come from a normal run: 256×256, 8 epochs, a few "
        "minutes on a CPU. Set `PIX2PIX_FAST=1` in the environment for a "
        "64×64, one-epoch run in seconds (the test suite does); its figures "
        "show little more than noise.\n\n"
        "The first cell installs the package where it is missing (Colab); "
        "the second imports it and fixes the seeds."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import os\n"
        "\n"
        "import keras\n"
        "import numpy as np\n"
        "from matplotlib.figure import Figure  # shows in any backend\n"
        "\n"
        "import pix2pix_keras as pk\n"
        "\n"
        'FAST = os.environ.get("PIX2PIX_FAST") == "1"\n'
        "SIZE, EPOCHS = (64, 1) if FAST else (256, 8)\n"
        "keras.utils.set_random_seed(0)"
    ),
    new_markdown_cell(
        "## Data\n\n"
        "Each pair is `cmp_bNNNN.png` (label map, the input) and "
        "`cmp_bNNNN.jpg` (photo, the target). Training batches get the "
        "classic jitter: resize to 286 (scaled with `SIZE`), the same random "
        "crop and flip for both images; validation batches are only resized."
    ),
    new_code_cell(
        "load = SIZE * 286 // 256\n"
        "# A = photo (.jpg), B = label map (.png): label -> photo is BtoA.\n"
        'train = pk.load_paired_dataset(pk.sample_data_dir("train"), direction="BtoA",\n'
        "                               image_size=SIZE, load_size=load, batch_size=1, seed=0)\n"
        'val = pk.load_paired_dataset(pk.sample_data_dir("val"), direction="BtoA",\n'
        "                             image_size=SIZE, training=False, batch_size=6)\n"
        "labels, photos = next(iter(val))\n"
        "labels.shape, photos.shape"
    ),
    new_markdown_cell(
        "## Model and training\n\n"
        '`from_preset("untrained_unet_256")` builds the paper\'s networks: '
        "a U-Net generator with skip connections and a 70×70 PatchGAN "
        "discriminator that judges overlapping patches of (label map, photo) "
        "pairs. `compile()` with no arguments uses the paper's settings. "
        "`LinearDecay` keeps the learning rate for the first half of the "
        "epochs and decays it linearly to zero in the second; `SampleGrid` "
        "writes a grid of the validation translations to `runs/quickstart/` "
        "after every epoch. `verbose=2` prints one line per epoch: the "
        "generator's losses (`g_*`), the discriminator's (`d_*`), and the "
        "validation scores (`val_*`, with PSNR and SSIM)."
    ),
    new_code_cell(
        'model = pk.Pix2Pix.from_preset("untrained_unet_256", image_size=SIZE)\n'
        "model.compile()  # Adam(2e-4, beta_1=0.5) for G and D, LSGAN, lambda_l1=100\n"
        'print(f"generator: {model.generator.count_params():,} parameters, "\n'
        '      f"discriminator: {model.discriminator.count_params():,}")\n'
        "history = model.fit(\n"
        "    train,\n"
        "    epochs=EPOCHS,\n"
        "    validation_data=val,\n"
        "    callbacks=[pk.LinearDecay(n_epochs=EPOCHS - EPOCHS // 2,\n"
        "                              n_epochs_decay=EPOCHS // 2),\n"
        '               pk.SampleGrid((labels, photos), "runs/quickstart")],\n'
        "    verbose=2,\n"
        ")"
    ),
    new_code_cell(
        "fig = Figure(figsize=(10, 3))\n"
        "ax = fig.subplots(1, 2)\n"
        'for key in ("g_l1", "val_g_l1"):\n'
        '    ax[0].plot(history.history[key], marker="o", label=key)\n'
        'for key in ("d_real", "d_fake"):\n'
        '    ax[1].plot(history.history[key], marker="o", label=key)\n'
        "for a in ax:\n"
        '    a.set_xlabel("epoch")\n'
        "    a.legend()\n"
        "fig"
    ),
    new_markdown_cell(
        "The curves above: the L1 distance falls on the training pairs and, "
        "more slowly, on the held-out ones; `d_real` and `d_fake` are the "
        "discriminator's mean outputs on real and generated pairs (LSGAN "
        "targets 1 and 0). Both settle near 0.5, a little apart: neither "
        "network wins, the balance a GAN's training keeps.\n\n"
        "## Translations\n\n"
        "Each row below is one held-out pair: the label map the generator "
        "sees, its translation, and the real photo. After 8 epochs on 24 "
        "pairs the translations have the layout of a facade (walls, "
        "windows, doors where the label map puts them) but blurry, greyish "
        "textures; the paper trains on 400 pairs for 200 epochs."
    ),
    new_code_cell(
        "generated = model.predict(labels, verbose=0)\n"
        "grid = pk.make_grid(labels, generated, photos)\n"
        "fig = Figure(figsize=(6, 12))\n"
        "ax = fig.subplots()\n"
        "ax.imshow(grid)\n"
        'ax.axis("off")\n'
        "fig"
    ),
    new_markdown_cell(
        "## Save, reload, export\n\n"
        "`model.save` keeps both networks and both optimizers, so "
        "`fit` continues exactly where it stopped: the reloaded model "
        "translates exactly as before, and its optimizers have counted one "
        "step per training pair and epoch (24 × 8). `model.export` writes the "
        "generator as a TensorFlow SavedModel for serving, which gives the "
        "same images as `predict`."
    ),
    new_code_cell(
        'model.save("runs/quickstart/model.keras")\n'
        'restored = keras.saving.load_model("runs/quickstart/model.keras")\n'
        "diff = float(np.abs(restored.predict(labels, verbose=0) - generated).max())\n"
        'print("max difference after reload:", diff)\n'
        'print("optimizer steps:", int(restored.g_optimizer.iterations),\n'
        "      int(restored.d_optimizer.iterations))\n"
        "\n"
        'model.export("runs/quickstart/generator_savedmodel")\n'
        "import tensorflow as tf\n"
        'served = tf.saved_model.load("runs/quickstart/generator_savedmodel")\n'
        "served_diff = float(np.abs(served.serve(labels).numpy() - generated).max())\n"
        'print("served vs predict:", served_diff)\n'
        "assert served_diff < 1e-5  # the one check of this notebook"
    ),
]


SUBCLASSING = [
    new_markdown_cell(
        "# Subclassing: residual blocks in the U-Net\n"
        "\n"
        "`UNetGenerator` builds its encoder and decoder by calling two methods, `down_block()` and `up_block()`. This notebook overrides `up_block()` so that every decoder block ends in a residual block (`pk.ResidualBlock`, the block of pix2pixHD), wraps the new generator in a `Pix2Pix` subclass, trains it on the bundled CMP facades (label map → photo), saves it, and loads it back as the subclass. `docs/subclassing.md` has the rules for block overrides.\n"
        "\n"
        "With `PIX2PIX_FAST=1` (set by `make test`) it trains narrow networks at 64×64 for one epoch and runs in seconds; otherwise the paper's widths at 256×256 for 8 epochs (a few minutes on a CPU). The outputs shown come from such a normal run."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import os\n"
        "import tempfile\n"
        "\n"
        "import keras\n"
        "import numpy as np\n"
        "from matplotlib.figure import Figure  # shows in any backend\n"
        "\n"
        "import pix2pix_keras as pk\n"
        "from pix2pix_keras.models.blocks import apply_upsample\n"
        "\n"
        'FAST = os.environ.get("PIX2PIX_FAST") == "1"\n'
        "SIZE, FILTERS, EPOCHS = (64, 16, 1) if FAST else (256, 64, 8)\n"
        "keras.utils.set_random_seed(0)"
    ),
    new_markdown_cell(
        "## The generator subclass\n"
        "\n"
        "The override keeps the hook's signature and returns a tensor with `filters` channels at twice the resolution of `x`; layer names are built from `name`, because they must be unique in the model. The constructor is unchanged, so `get_config()` and `from_config()` are inherited. The decorator registers the class for loading: without it `load_model` cannot find it."
    ),
    new_code_cell(
        '@keras.saving.register_keras_serializable(package="notebook")\n'
        "class ResidualUNet(pk.UNetGenerator):\n"
        '    """U-Net whose decoder blocks end in a residual block."""\n'
        "\n"
        "    def up_block(self, x, filters, *, norm, dropout, name):\n"
        "        x = apply_upsample(x, filters, norm=norm, dropout=dropout, name=name)\n"
        '        return pk.ResidualBlock(norm=norm, name=f"{name}_res")(x)\n'
        "\n"
        "\n"
        "generator = ResidualUNet(image_size=SIZE, filters=FILTERS)\n"
        "plain = pk.UNetGenerator(image_size=SIZE, filters=FILTERS)\n"
        'residual = [layer for layer in generator.layers if layer.name.endswith("_res")]\n'
        "for layer in residual:\n"
        '    print(f"{layer.name:22s} {tuple(layer.output.shape)}")\n'
        'print(f"{plain.count_params():,} -> {generator.count_params():,} parameters")\n'
        "\n"
        "# One residual block per decoder block (depth - 1 of them), each adding two\n"
        "# bias-free 3x3 convolutions and two batch norms (4 numbers per channel).\n"
        "widths = [layer.output.shape[-1] for layer in residual]\n"
        'print(len(residual), "residual blocks add",\n'
        '      f"{sum(2 * 9 * f * f + 2 * 4 * f for f in widths):,} parameters")'
    ),
    new_markdown_cell(
        "## A `Pix2Pix` subclass\n"
        "\n"
        "`Pix2Pix` takes any generator, so `pk.Pix2Pix(generator=ResidualUNet(...))` is enough. A subclass makes the new generator the default; `from_config()` passes the saved networks back in, so the subclass needs no `get_config()` of its own."
    ),
    new_code_cell(
        '@keras.saving.register_keras_serializable(package="notebook")\n'
        "class ResidualPix2Pix(pk.Pix2Pix):\n"
        '    """Pix2Pix with a ResidualUNet generator by default."""\n'
        "\n"
        "    def __init__(self, generator=None, discriminator=None,\n"
        "                 image_size=(256, 256), filters=64, **kwargs):\n"
        "        if generator is None:\n"
        "            generator = ResidualUNet(image_size=image_size, filters=filters)\n"
        "        if discriminator is None:\n"
        "            discriminator = pk.PatchDiscriminator(image_size=image_size,\n"
        "                                                  filters=filters)\n"
        "        super().__init__(generator=generator, discriminator=discriminator,\n"
        "                         image_size=image_size, **kwargs)\n"
        "\n"
        "\n"
        "model = ResidualPix2Pix(image_size=SIZE, filters=FILTERS)\n"
        "model.compile()  # Adam(2e-4, beta_1=0.5) for G and D, LSGAN, lambda_l1=100\n"
        "print(type(model.generator).__name__)"
    ),
    new_markdown_cell(
        "## Train on the facades\n"
        "\n"
        'The bundled sample: 24 training and 6 held-out pairs, `cmp_bNNNN.png` (label map, side B) → `cmp_bNNNN.jpg` (photo, side A), so `direction="BtoA"`. `verbose=2` prints one line per epoch with the losses and the validation PSNR and SSIM. The figure shows each held-out pair as label map | translation | photo: the subclass trains like the plain U-Net, and after 8 epochs on 24 pairs its translations have the layout of the label map with blurry textures.'
    ),
    new_code_cell(
        'train = pk.load_paired_dataset(pk.sample_data_dir("train"), direction="BtoA",\n'
        "                               image_size=SIZE, load_size=SIZE * 286 // 256,\n"
        "                               batch_size=1, seed=0)\n"
        'val = pk.load_paired_dataset(pk.sample_data_dir("val"), direction="BtoA",\n'
        "                             image_size=SIZE, training=False, batch_size=6)\n"
        "labels, photos = next(iter(val))\n"
        "\n"
        "history = model.fit(train, epochs=EPOCHS, validation_data=val, verbose=2)\n"
        "\n"
        "generated = model.predict(labels, verbose=0)\n"
        "fig = Figure(figsize=(6, 12))\n"
        "ax = fig.subplots()\n"
        "ax.imshow(pk.make_grid(labels, generated, photos))\n"
        'ax.set_title("label map | generated | photo")\n'
        'ax.axis("off")\n'
        "fig"
    ),
    new_markdown_cell(
        "## Save, load, continue training\n"
        "\n"
        "`model.save()` writes both networks, both optimizers and the training state to one `.keras` file. `load_model` rebuilds the subclasses by their registered names (`notebook>ResidualPix2Pix`, `notebook>ResidualUNet`): in another program, import the module that defines them first."
    ),
    new_code_cell(
        'path = os.path.join(tempfile.mkdtemp(), "residual_pix2pix.keras")\n'
        "model.save(path)\n"
        "restored = keras.saving.load_model(path)\n"
        "print(type(restored).__name__, type(restored.generator).__name__)\n"
        "\n"
        "diff = np.abs(restored.predict(labels, verbose=0) - generated).max()\n"
        'print("max difference after loading:", diff)\n'
        "assert diff == 0.0  # the one check of this notebook\n"
        'print("optimizer steps:", int(restored.g_optimizer.iterations))\n'
        "\n"
        "# Training resumes where it stopped: one more epoch, 24 more steps.\n"
        "restored.fit(train, initial_epoch=EPOCHS, epochs=EPOCHS + 1, verbose=0)\n"
        'print("optimizer steps after one more epoch:", int(restored.g_optimizer.iterations))'
    ),
    new_markdown_cell(
        "## Without registration\n"
        "\n"
        'The registration is what `load_model` looks classes up by. A subclass without the decorator saves, but loading it fails with an error that ends in "Could not locate class ...". Registering it, or passing `custom_objects`, fixes that.'
    ),
    new_code_cell(
        "class Unregistered(pk.UNetGenerator):\n"
        "    pass\n"
        "\n"
        "\n"
        "tiny = pk.Pix2Pix(generator=Unregistered(image_size=32, filters=8),\n"
        "                  discriminator=pk.PatchDiscriminator(image_size=32, filters=8),\n"
        "                  image_size=32)\n"
        'tiny_path = os.path.join(tempfile.mkdtemp(), "unregistered.keras")\n'
        "tiny.save(tiny_path)\n"
        "try:\n"
        "    keras.saving.load_model(tiny_path)\n"
        '    raise AssertionError("loading an unregistered subclass should fail")\n'
        "except TypeError as e:\n"
        "    message = str(e)\n"
        'print(message[message.index("Could not locate"):][:120], "...")\n'
        "\n"
        "loaded = keras.saving.load_model(\n"
        '    tiny_path, custom_objects={"Unregistered": Unregistered})\n'
        'print("with custom_objects:", type(loaded.generator).__name__)'
    ),
]


EVALUATION = [
    new_markdown_cell(
        "# Evaluation: SSIM, PSNR, FID, KID and mIoU\n"
        "\n"
        "How good are a generator's translations? This notebook scores a Pix2Pix model on the 6 held-out CMP facade pairs bundled with the package (label map → photo) with every measure of `pix2pix_keras`:\n"
        "\n"
        "| measure | compares | where |\n"
        "|---|---|---|\n"
        "| L1, PSNR, SSIM | each generated photo with its real photo, pixel by pixel | `pk.metrics.l1 / psnr / ssim`, `val_psnr` / `val_ssim` in `fit`, `pk.evaluate` |\n"
        "| FID, KID | the *set* of generated photos with the set of real ones, through InceptionV3 features | `pk.FrechetInceptionDistance`, `pk.KernelInceptionDistance` |\n"
        '| mIoU ("FCN score") | a segmentation of the generated photos with the label maps they came from | `pk.fcn_score`, `pk.SegmentationScore` |\n'
        "\n"
        "The model is `runs/demo/model.keras` if `make demo` has been run, else one trained here for a few epochs. With `PIX2PIX_FAST=1` (set by `make test`) everything is small: a narrow model trained for one epoch at 64×64, and a one-convolution stand-in for InceptionV3, so FID and KID only demonstrate the API there. The outputs shown come from a normal run (a model trained here for 8 epochs at 256×256), which scores FID and KID with the package's FID proxy, an InceptionV3 with fixed random weights that needs no download (see the FID section). See `docs/evaluation.md` for the definitions."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import json\n"
        "import os\n"
        "import tempfile\n"
        "\n"
        "import keras\n"
        "import matplotlib.image\n"
        "import numpy as np\n"
        "from matplotlib.figure import Figure  # shows in any backend\n"
        "\n"
        "import pix2pix_keras as pk\n"
        "\n"
        'FAST = os.environ.get("PIX2PIX_FAST") == "1"\n'
        "SIZE, FILTERS, EPOCHS = (64, 16, 1) if FAST else (256, 64, 8)\n"
        'DEMO_MODEL = os.path.join("..", "runs", "demo", "model.keras")\n'
        "keras.utils.set_random_seed(0)"
    ),
    new_markdown_cell(
        "## Data: photos, label maps and class ids\n"
        "\n"
        '`labels=pk.facades_labels("color")` reads the label PNGs as the class ids 1–12 and feeds them as their palette colours, exactly what the plain loader gives; `with_label_ids=True` adds the ids as a third element, for the segmentation score.'
    ),
    new_code_cell(
        'val = pk.load_paired_dataset(pk.sample_data_dir("val"), direction="BtoA",\n'
        '                             labels=pk.facades_labels("color"), with_label_ids=True,\n'
        "                             image_size=SIZE, training=False, batch_size=6)\n"
        "source, target, ids = (t.numpy() for t in next(iter(val)))\n"
        'print(source.shape, target.shape, ids.shape, "class ids:", np.unique(ids))\n'
        "\n"
        'plain = pk.load_paired_dataset(pk.sample_data_dir("val"), direction="BtoA",\n'
        "                               image_size=SIZE, training=False, batch_size=6)\n"
        "plain_source, plain_target = next(iter(plain))\n"
        'print("same model input as the plain loader:", np.allclose(source, plain_source, atol=1e-6))'
    ),
    new_markdown_cell(
        "## The model\n"
        "\n"
        "The demo's model if it exists (256×256, not in fast mode), else a fresh one trained briefly on the 24 training pairs."
    ),
    new_code_cell(
        "if not FAST and os.path.exists(DEMO_MODEL):\n"
        "    model = keras.saving.load_model(DEMO_MODEL)\n"
        '    print("loaded", DEMO_MODEL)\n'
        "else:\n"
        '    train = pk.load_paired_dataset(pk.sample_data_dir("train"), direction="BtoA",\n'
        "                                   image_size=SIZE, load_size=SIZE * 286 // 256,\n"
        "                                   batch_size=1, seed=0)\n"
        "    model = pk.Pix2Pix(\n"
        "        generator=pk.UNetGenerator(image_size=SIZE, filters=FILTERS),\n"
        "        discriminator=pk.PatchDiscriminator(image_size=SIZE, filters=FILTERS),\n"
        "        image_size=SIZE)\n"
        "    model.compile()\n"
        "    model.fit(train, epochs=EPOCHS, verbose=0)\n"
        '    print(f"trained {EPOCHS} epoch(s) on 24 pairs")\n'
        "generated = model.predict(source, verbose=0)\n"
    ),
    new_markdown_cell(
        "## Per image: L1, PSNR, SSIM\n"
        "\n"
        "All three take images in [-1, 1] (a dynamic range of 2). PSNR is `10·log10(4 / MSE)`; SSIM uses an 11×11 Gaussian window (σ = 1.5), the settings of `tf.image.ssim` and of scikit-image with `gaussian_weights=True`. Identical images score PSNR = ∞ and SSIM = 1."
    ),
    new_code_cell(
        "l1 = np.asarray(pk.metrics.l1(target, generated))\n"
        "psnr = np.asarray(pk.metrics.psnr(target, generated))\n"
        "ssim = np.asarray(pk.metrics.ssim(target, generated))\n"
        'print("image    L1    PSNR   SSIM")\n'
        "for i in range(len(l1)):\n"
        '    print(f"{i:5d} {l1[i]:.3f} {psnr[i]:6.2f} {ssim[i]:6.3f}")\n'
        'print(f" mean {l1.mean():.3f} {psnr.mean():6.2f} {ssim.mean():6.3f}")\n'
        "\n"
        "\n"
        "# The same SSIM as scikit-image:\n"
        "from skimage.metrics import structural_similarity\n"
        "\n"
        "reference = [structural_similarity(t, g, data_range=2.0, channel_axis=-1,\n"
        "                                   gaussian_weights=True, sigma=1.5,\n"
        "                                   use_sample_covariance=False)\n"
        "             for t, g in zip(target, generated)]\n"
        'print("largest difference to scikit-image\'s SSIM:", np.abs(ssim - reference).max())'
    ),
    new_markdown_cell(
        "## During training: `val_psnr` and `val_ssim`\n"
        "\n"
        "`Pix2Pix.evaluate()` (and `fit(validation_data=...)`) reports the same PSNR and SSIM as streaming means over images, next to the losses. It takes `(source, target)` batches, so the ids are dropped here."
    ),
    new_code_cell(
        "pairs = val.map(lambda s, t, i: (s, t))\n"
        "scores = model.evaluate(pairs, return_dict=True, verbose=0)\n"
        "print({k: round(float(v), 4) for k, v in scores.items()})\n"
    ),
    new_markdown_cell(
        "## A report: `pk.evaluate`\n"
        "\n"
        "`pk.evaluate(model, dataset, metrics=[...], output_dir=...)` translates the whole dataset, returns the scores and writes `report.json` and `best_worst.png`: the best and the worst translations by L1, each row `source | generated | target`."
    ),
    new_code_cell(
        "out = tempfile.mkdtemp()\n"
        'report = pk.evaluate(model, val, metrics=["l1", "psnr", "ssim"], output_dir=out,\n'
        "                     num_examples=2)\n"
        "print({k: round(float(v), 4) for k, v in report.items()})\n"
        'with open(os.path.join(out, "report.json")) as f:\n'
        '    examples = json.load(f)["examples"]\n'
        'print("best:", [e["index"] for e in examples["best"]],\n'
        '      "worst:", [e["index"] for e in examples["worst"]])\n'
        "\n"
        "fig = Figure(figsize=(6, 8))\n"
        "ax = fig.subplots()\n"
        'ax.imshow(matplotlib.image.imread(os.path.join(out, "best_worst.png")))\n'
        'ax.set_title("best 2, then worst 2 by L1: label map | generated | photo")\n'
        'ax.axis("off")\n'
        "fig"
    ),
    new_markdown_cell(
        "## FID and KID\n"
        "\n"
        "Both compare the distribution of Inception pool features (2048 numbers per image, at 299×299) of the real and the generated photos: FID as the Fréchet distance between two Gaussian fits, KID as an unbiased kernel MMD, which behaves better on small sets.\n"
        "\n"
        "**The network here is an FID proxy.** `pk.metrics.random_inception_extractor()` is InceptionV3 with fixed random weights (drawn from seed 0, the same network on every machine; `pix2pix evaluate --fid-network random_inception_v3`), which needs no download. Its distances fall as the generated photos get closer to the real ones in colour, texture and layout, so they follow a model's progress and compare models scored on the same images, but they are **not comparable with published FIDs**. Six images also make a rank-deficient covariance, while published FIDs use thousands of images.\n"
        "\n"
        'Published FIDs use the trained 2015 Inception graph of the original FID code, the default network of `FrechetInceptionDistance`, `KernelInceptionDistance` and `pk.evaluate` (`"fid_inception_2015"`; `pix2pix evaluate --fid-network fid_inception_2015`). It is downloaded once (89 MB) into `~/.keras/models/`; where it can be, build it with `pk.fid_inception.fid_inception_extractor()` and pass it in place of `extractor` below. (`pk.metrics.inception_extractor(weights="imagenet")`, Keras\'s ImageNet InceptionV3, gives yet other values.)\n'
        "\n"
        "Any Keras model that maps images to `(batch, features)` can take the extractor's place: fast mode uses a one-convolution stand-in with 64 random features, which runs in a blink (a 64×64 covariance instead of 2048×2048)."
    ),
    new_code_cell(
        "if FAST:  # a stand-in for InceptionV3: the API runs, the values mean nothing\n"
        "    extractor = keras.Sequential([\n"
        "        keras.Input((None, None, 3)),\n"
        '        keras.layers.Conv2D(64, 3, strides=2, activation="relu"),\n'
        "        keras.layers.GlobalAveragePooling2D(),\n"
        '    ], name="stand_in")\n'
        "else:  # the FID proxy; pk.fid_inception.fid_inception_extractor() for published FIDs\n"
        "    extractor = pk.metrics.random_inception_extractor(seed=0)\n"
        "\n"
        "fid = pk.FrechetInceptionDistance(extractor)  # images resized to 299x299\n"
        "fid.update_state(real=target, fake=generated)\n"
        "kid = pk.KernelInceptionDistance(extractor, subset_size=6)\n"
        "kid.update_state(real=target, fake=generated)\n"
        "fid_value = fid.result()\n"
        "kid_mean, kid_std = kid.result(return_std=True)\n"
        'print(f"FID proxy {fid_value:.3g}   KID proxy {kid_mean:.3g} ± {kid_std:.2g}   "\n'
        '      f"({fid.num_real} real, {fid.num_fake} generated images)")\n'
        "\n"
        "# Real against real: the same Gaussian twice. keep_real=True keeps the real\n"
        "# statistics, so only the new fake set goes through the network.\n"
        "fid.reset_state(keep_real=True)\n"
        "fid.update_state(fake=target)\n"
        'print(f"FID of the real photos against themselves: {fid.result():.2e}")\n'
        "assert abs(fid.result()) < 1e-6 * max(1.0, fid_value)  # the one check of this notebook"
    ),
    new_markdown_cell(
        '## mIoU: the "FCN score"\n'
        "\n"
        "The paper segments the generated photos with a network trained on real photos (FCN-8s) and compares the segmentation with the input label maps: if the generated facade has windows where the label map has windows, a segmenter finds them. The package ships no facade segmenter, so a small one is trained here on the 24 real training photos and their ids (id 0 does not occur in the facades and is ignored). Its score on the real held-out photos is the ceiling that a perfect generator would reach.\n"
        "\n"
        "The bar chart shows the IoU of each class on the real and on the generated photos: the gap between the two bars of a class is what the segmenter no longer finds in the translations. A class missing from the six held-out label maps has no bar."
    ),
    new_code_cell(
        "seg_train = pk.load_paired_dataset(\n"
        '    pk.sample_data_dir("train"), direction="AtoB",  # photo -> label map\n'
        '    labels=pk.facades_labels("color", side="target"), with_label_ids=True,\n'
        "    image_size=SIZE, load_size=SIZE * 286 // 256, batch_size=4, seed=0,\n"
        ").map(lambda photo, label, label_ids: (photo, label_ids))\n"
        "segmenter = keras.Sequential([\n"
        "    keras.Input((SIZE, SIZE, 3)),\n"
        '    keras.layers.Conv2D(32, 3, padding="same", activation="relu"),\n'
        '    keras.layers.Conv2D(32, 3, padding="same", dilation_rate=2, activation="relu"),\n'
        '    keras.layers.Conv2D(32, 3, padding="same", dilation_rate=4, activation="relu"),\n'
        "    keras.layers.Conv2D(13, 1),  # logits for the 13 ids\n"
        '], name="facade_segmenter")\n'
        "segmenter.compile(keras.optimizers.Adam(3e-3),\n"
        "                  keras.losses.SparseCategoricalCrossentropy(from_logits=True,\n"
        "                                                             ignore_class=0))\n"
        "segmenter.fit(seg_train, epochs=20 if FAST else 60, verbose=0)\n"
        "\n"
        "score = dict(num_classes=13, ignore_label=0)\n"
        "real_scores = pk.fcn_score(segmenter, [(target, ids)], **score)\n"
        "fake_scores = pk.fcn_score(segmenter, [(generated, ids)], **score)\n"
        'for name, s in (("real photos", real_scores), ("generated", fake_scores)):\n'
        "    print(f\"{name:12s} mIoU {s['miou']:.3f}  \"\n"
        "          f\"pixel accuracy {s['pixel_accuracy']:.3f}  \"\n"
        "          f\"class accuracy {s['class_accuracy']:.3f}\")\n"
        "\n"
        '# A check of the plumbing: a "segmenter" that reads the ids back from the\n'
        "# label-map colours scores exactly 1 on the label maps themselves.\n"
        'table = pk.facades_labels("color").colour_table()\n'
        "oracle = lambda images: ((images[..., None, :] - table) ** 2).sum(-1).argmin(-1)\n"
        'print("mIoU of the label maps read back by their colours:",\n'
        '      pk.fcn_score(oracle, [(source, ids)], **score)["miou"])\n'
        "\n"
        'sample = os.path.dirname(pk.sample_data_dir("train"))\n'
        'with open(os.path.join(sample, "label_names.txt")) as f:\n'
        "    names = {int(row.split()[0]): row.split()[1] for row in f if row.strip()}\n"
        "classes = sorted(names)\n"
        "width = 0.4\n"
        'fig = Figure(figsize=(9, 3), layout="constrained")\n'
        "ax = fig.subplots()\n"
        "pos = np.arange(len(classes))\n"
        'ax.bar(pos - width / 2, [real_scores["per_class_iou"][k] for k in classes], width,\n'
        '       label="real photos")\n'
        'ax.bar(pos + width / 2, [fake_scores["per_class_iou"][k] for k in classes], width,\n'
        '       label="generated")\n'
        "ax.set_xticks(range(len(classes)), [names[k] for k in classes], rotation=45)\n"
        'ax.set_ylabel("IoU per class")\n'
        "ax.legend()\n"
        "fig"
    ),
    new_markdown_cell(
        "## Everything in one call\n"
        "\n"
        "`pk.evaluate` computes all of it in one pass over the data, with the same extractor and segmenter, and gives the same numbers."
    ),
    new_code_cell(
        'full = pk.evaluate(model, val, metrics=["l1", "psnr", "ssim", "fid", "kid", "miou"],\n'
        "                   feature_extractor=extractor, segmenter=segmenter, num_classes=13,\n"
        "                   ignore_label=0, kid_subset_size=6)\n"
        'print({k: float(f"{v:.4g}") for k, v in full.items() if k != "per_class_iou"})\n'
    ),
]


MULTIMODAL_AND_TILING = [
    new_markdown_cell(
        "# One input, many outputs; images larger than the training size\n"
        "\n"
        "Two extensions of pix2pix:\n"
        "\n"
        "1. a **noise input**: `UNetGenerator(latent_dim=8)` takes a latent code `z` besides the label map, so one label map can give several photos;\n"
        "2. **tiled inference**: `pk.translate_tiled` translates an image larger than the training size at full resolution, tile by tile, with blended seams.\n"
        "\n"
        "It trains on the 24 facade pairs bundled with the package (label map → photo). Set `PIX2PIX_FAST=1` for a 32×32, one-epoch run with narrow networks (CI does); otherwise it trains at 128×128 for a few minutes on a CPU, as for the outputs shown."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import os\n"
        "\n"
        "import keras\n"
        "import numpy as np\n"
        "from matplotlib.figure import Figure  # shows in any backend\n"
        "\n"
        "import pix2pix_keras as pk\n"
        "\n"
        'FAST = os.environ.get("PIX2PIX_FAST") == "1"\n'
        "SIZE, EPOCHS, FILTERS = (32, 1, 16) if FAST else (128, 8, 64)\n"
        "keras.utils.set_random_seed(0)\n"
        "\n"
        "\n"
        "def show(images, titles, width=2.2):\n"
        "    fig = Figure(figsize=(width * len(images), width + 0.4))\n"
        "    for ax, image, title in zip(fig.subplots(1, len(images)), images, titles):\n"
        "        ax.imshow(np.clip((np.asarray(image) + 1) / 2, 0, 1))\n"
        "        ax.set_title(title)\n"
        '        ax.axis("off")\n'
        "    return fig"
    ),
    new_markdown_cell(
        "## A generator with a noise input\n"
        "\n"
        "`latent_dim=8, latent_injection=\"all\"` tiles an 8-number code `z` over the image plane and concatenates it to the input of every down block of the U-Net (BicycleGAN's *add_to_all*). The model's inputs are `[image, latent]`; called with the image alone, as `Pix2Pix.fit` and `predict()` call it, it draws `z ~ N(0, I)` itself, so training needs no change."
    ),
    new_code_cell(
        'train = pk.load_paired_dataset(pk.sample_data_dir("train"), direction="BtoA",\n'
        "                               image_size=SIZE, load_size=SIZE * 286 // 256,\n"
        "                               batch_size=1, seed=0)\n"
        'val = pk.load_paired_dataset(pk.sample_data_dir("val"), direction="BtoA",\n'
        "                             image_size=SIZE, training=False, batch_size=6)\n"
        "labels, photos = next(iter(val))\n"
        "\n"
        "generator = pk.UNetGenerator(image_size=SIZE, filters=FILTERS, latent_dim=8,\n"
        '                             latent_injection="all")\n'
        "model = pk.Pix2Pix(\n"
        "    generator=generator,\n"
        "    discriminator=pk.PatchDiscriminator(image_size=SIZE, filters=FILTERS,\n"
        "                                        n_layers=2 if FAST else 3),\n"
        "    image_size=SIZE,\n"
        ")\n"
        'print([t.name for t in generator.inputs], f"{generator.count_params():,} parameters")\n'
        "model.compile()\n"
        "history = model.fit(train, epochs=EPOCHS, verbose=0)\n"
        "{key: round(values[-1], 3) for key, values in history.history.items()}"
    ),
    new_markdown_cell(
        "## Several photos for one label map\n"
        "\n"
        "Four codes for the same label map give four translations; the same code always gives the same one. The pix2pix losses alone (GAN + 100·L1) reward a single answer, so over a long training a generator tends to learn to ignore `z` (the paper's observation); after this short training the codes still change the output. A latent encoder with latent regression (BicycleGAN) keeps the codes in use and makes them meaningful."
    ),
    new_code_cell(
        "source = np.repeat(np.asarray(labels[:1]), 4, axis=0)\n"
        "codes = keras.ops.convert_to_numpy(generator.sample_latent(4))  # z ~ N(0, I)\n"
        "outputs = keras.ops.convert_to_numpy(generator([source, codes]))\n"
        "again = keras.ops.convert_to_numpy(generator.translate(source, codes))\n"
        'print("the same code gives the same output:", (outputs == again).all())\n'
        "spread = np.abs(outputs[1:] - outputs[:1]).mean(axis=(1, 2, 3))\n"
        'print("mean |difference| to the first output:", spread.round(4))\n'
        "show([labels[0], photos[0], *outputs],\n"
        '     ["label map", "photo", "z1", "z2", "z3", "z4"])'
    ),
    new_markdown_cell("Between two codes the output changes smoothly:"),
    new_code_cell(
        'steps = np.linspace(0, 1, 5, dtype="float32")[:, None]\n'
        "path = (1 - steps) * codes[:1] + steps * codes[1:2]\n"
        "frames = keras.ops.convert_to_numpy(generator([source[:1].repeat(5, 0), path]))\n"
        'show(frames, [f"t = {t:.2f}" for t in steps[:, 0]])'
    ),
    new_markdown_cell(
        "## An image larger than the training size\n"
        "\n"
        "`predict()` takes images of the model's size, so a larger image is usually resized down, translated and resized back up, losing detail. `pk.translate_tiled` cuts it into overlapping tiles of the model's size instead, translates them a batch at a time and averages the overlaps with a cosine window, so no seam shows. Here the label map is loaded at twice the training size (4× the pixels); all tiles share one code `z`."
    ),
    new_code_cell(
        'big_val = pk.load_paired_dataset(pk.sample_data_dir("val"), direction="BtoA",\n'
        "                                 image_size=2 * SIZE, training=False, batch_size=1)\n"
        "big_label, big_photo = (np.asarray(t[0]) for t in next(iter(big_val)))\n"
        "z = generator.sample_latent(1)\n"
        "\n"
        "tiled = pk.translate_tiled(model, big_label, overlap=SIZE // 4, z=z)\n"
        "layout = pk.tile_layout(*big_label.shape[:2], SIZE, overlap=SIZE // 4)\n"
        'print(f"{big_label.shape[0]}×{big_label.shape[1]} image, "\n'
        '      f"{len(layout.tops) * len(layout.lefts)} tiles of {SIZE}×{SIZE}")\n'
        "\n"
        "# The usual route for comparison: resize down, translate, resize up.\n"
        'small = keras.ops.image.resize(big_label[None], (SIZE, SIZE), interpolation="nearest")\n'
        "resized = keras.ops.convert_to_numpy(keras.ops.image.resize(\n"
        '    generator([small, z]), big_label.shape[:2], interpolation="bicubic"))[0]\n'
        "show([big_label, resized, tiled, big_photo],\n"
        '     ["label map", "resized route", "tiled", "photo"], width=3)'
    ),
    new_markdown_cell(
        "The weight of each tile is 1 inside and falls to 0 over the overlap at its inner edges; the weights of all tiles sum to 1 at every pixel:"
    ),
    new_code_cell(
        "total = np.zeros(layout.padded_size)\n"
        "for i, top in enumerate(layout.tops):\n"
        "    for j, left in enumerate(layout.lefts):\n"
        "        window = layout.row_windows[i][:, None] * layout.col_windows[j][None]\n"
        "        total[top:top + SIZE, left:left + SIZE] += window\n"
        "weights = total / (layout.row_sums[:, None] * layout.col_sums[None])\n"
        'print("sum of the weights: min", weights.min().round(6), "max", weights.max().round(6))\n'
        "one = np.zeros(layout.padded_size)\n"
        "one[layout.tops[1]:layout.tops[1] + SIZE, layout.lefts[1]:layout.lefts[1] + SIZE] = (\n"
        "    layout.row_windows[1][:, None] * layout.col_windows[1][None])\n"
        "fig = Figure(figsize=(7, 3))\n"
        "ax1, ax2 = fig.subplots(1, 2)\n"
        'ax1.imshow(one / (layout.row_sums[:, None] * layout.col_sums[None]), cmap="gray")\n'
        'ax1.set_title("weight of one tile")\n'
        'ax2.imshow(weights, cmap="gray", vmin=0, vmax=1.2)\n'
        'ax2.set_title("sum over all tiles")\n'
        "fig"
    ),
    new_markdown_cell(
        "## Exact for a fully convolutional network\n"
        "\n"
        "A `ResnetGenerator` with batch norm computes each output pixel from a neighbourhood of radius 18 + 8·`n_blocks` pixels. With that radius as `margin` (no weight for the pixels that saw a tile's edge) and an overlap of at least twice the margin, the tiles reproduce a full-image pass of the same weights exactly. (Instance norm and the U-Net's 1×1 bottleneck see the whole tile, so for them the tiles are separate translations that the blending joins; see `docs/inference.md`.)"
    ),
    new_code_cell(
        'net = pk.ResnetGenerator(image_size=64, filters=4, n_blocks=1, norm="batch",\n'
        '                         inference_statistics="moving")\n'
        'scan = np.random.default_rng(2).uniform(-1, 1, (1, 96, 128, 3)).astype("float32")\n'
        "whole = pk.ResnetGenerator(image_size=(96, 128), filters=4, n_blocks=1,\n"
        '                           norm="batch", inference_statistics="moving")\n'
        "whole.set_weights(net.get_weights())\n"
        "exact = pk.translate_tiled(net, scan, overlap=56, margin=26)  # radius 18 + 8 = 26\n"
        "plain = pk.translate_tiled(net, scan, overlap=16)\n"
        "reference = whole.predict_on_batch(scan)\n"
        "scale = np.abs(reference).max()  # an untrained network's outputs are small\n"
        "err_exact = float(np.abs(exact - reference).max() / scale)\n"
        "err_plain = float(np.abs(plain - reference).max() / scale)\n"
        'print(f"largest |tiled - full image| / largest |output|: margin 26: "\n'
        '      f"{err_exact:.1e}, no margin: {err_plain:.1e}")\n'
        "assert err_exact < 1e-5  # the one check of this notebook"
    ),
]


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_data_notebook  # noqa: E402  (the cells of data_augmentation)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
REPOSITORY = "pix2pix-keras/pix2pix-keras"  # setup.cfg's url
NOTEBOOKS = {
    "quickstart": QUICKSTART,
    "data_augmentation": make_data_notebook.CELLS,
    "subclassing": SUBCLASSING,
    "evaluation": EVALUATION,
    "multimodal_and_tiling": MULTIMODAL_AND_TILING,
}

INSTALL = new_code_cell(
    "# In Colab (or any environment without the package): install it.\n"
    "try:\n"
    "    import pix2pix_keras\n"
    "except ImportError:\n"
    "    %pip install -q pix2pix-keras"
)


def colab_badge(name):
    url = (
        "https://colab.research.google.com/github/"
        f"{REPOSITORY}/blob/main/notebooks/{name}.ipynb"
    )
    return (
        f"[![Open in Colab](https://colab.research.google.com/assets/"
        f"colab-badge.svg)]({url})\n\n"
    )


def build(name):
    """The notebook `name` without outputs: the Colab badge on its title
    cell, the install cell, then the cells above."""
    cells = [nbformat.from_dict(dict(c)) for c in NOTEBOOKS[name]]
    title = cells[0]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    title.source = colab_badge(name) + title.source
    cells.insert(1, nbformat.from_dict(dict(INSTALL)))
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i}"  # stable ids: diffs show only real changes
        cell.source = cell.source.rstrip("\n")
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def code_sources(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


def path_of(name):
    return os.path.join(ROOT, "notebooks", name + ".ipynb")


# Noise of the environment, not of the notebook: TensorFlow's C++ start-up
# lines (oneDNN, CUDA) and its INFO log lines (which name this machine's
# folders), and warnings raised inside installed packages (a Python warning
# line naming site-packages, and the source line after it).
NOISE = re.compile(
    r"^(?:[IWE]\d{4} [\d:.]+\s+\d+ \S+:\d+\].*\n?"
    r"|WARNING: All log messages before absl::InitializeLog\(\).*\n?"
    r"|(?:INFO|WARNING):tensorflow:.*\n?"
    r"|\S*site-packages\S*:\d+: \w*Warning: .*\n?(?:  .*\n?)?)",
    re.M,
)


def clean(nb):
    """Drops the NOISE lines and joins consecutive stream outputs of a
    cell (as Jupyter shows them)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.outputs:
            if out.output_type == "stream":
                out.text = NOISE.sub("", out.text)
                if not out.text.strip():
                    continue
                if (
                    outputs
                    and outputs[-1].output_type == "stream"
                    and outputs[-1].name == out.name
                ):
                    outputs[-1].text += out.text
                    continue
            outputs.append(out)
        cell.outputs = outputs
    return nb


def execute(nb, timeout=3600):
    """Runs `nb` in place in notebooks/ (normal mode) and drops the
    metadata that changes on every run."""
    from nbclient import NotebookClient

    env_fast = os.environ.pop("PIX2PIX_FAST", None)
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}},
        ).execute()
    finally:
        if env_fast is not None:
            os.environ["PIX2PIX_FAST"] = env_fast
    nb.metadata.pop("widgets", None)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return clean(nb)


def keep_outputs(nb, path):
    """Copies the outputs of the notebook at `path` into `nb` if their code
    cells are the same (a change of the Markdown cells only)."""
    if not os.path.exists(path):
        return
    old = nbformat.read(path, as_version=4)
    if code_sources(old) != code_sources(nb):
        print(f"{os.path.basename(path)}: code changed, outputs dropped")
        return
    new_code = [c for c in nb.cells if c.cell_type == "code"]
    for cell, done in zip(new_code, (c for c in old.cells if c.cell_type == "code")):
        cell.outputs = done.outputs
        cell.execution_count = done.execution_count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        help=f"notebooks to write (default: all): {', '.join(NOTEBOOKS)}",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="write the cells without running them (the outputs "
        "are kept if no code cell changed)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only compare the committed code cells with these",
    )
    args = parser.parse_args(argv)
    names = args.names or list(NOTEBOOKS)
    unknown = sorted(set(names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebooks: {unknown}")
    if args.check:
        stale = [
            n
            for n in names
            if code_sources(nbformat.read(path_of(n), as_version=4))
            != code_sources(build(n))
        ]
        for n in stale:
            print(f"{n}.ipynb differs from tools/make_notebooks.py: regenerate it")
        return 1 if stale else 0
    for name in names:
        nb = build(name)
        if args.no_execute:
            keep_outputs(nb, path_of(name))
        else:
            start = time.time()
            execute(nb)
            print(f"{name}: executed in {time.time() - start:.0f} s")
        nbformat.write(nb, path_of(name))
        print(
            f"wrote notebooks/{name}.ipynb "
            f"({os.path.getsize(path_of(name)) / 1e6:.2f} MB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writes notebooks/*.ipynb from the cell lists below (outputs stripped).

Run: .venv/bin/python tools/make_notebooks.py
"""

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
        "Set `PIX2PIX_FAST=1` in the environment for a 64×64, one-epoch run "
        "(CI does); otherwise it trains at 256×256 for a few minutes on a CPU."
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
    new_markdown_cell("## Model and training"),
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
        'assert len(history.history["g_l1"]) == EPOCHS\n'
        "fig"
    ),
    new_markdown_cell("## Translations: label map | generated | photo"),
    new_code_cell(
        "generated = model.predict(labels, verbose=0)\n"
        "assert generated.shape == (6, SIZE, SIZE, 3)\n"
        "assert -1.0 <= generated.min() and generated.max() <= 1.0\n"
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
        "`fit` continues exactly where it stopped. `model.export` writes the "
        "generator as a TensorFlow SavedModel for serving."
    ),
    new_code_cell(
        'model.save("runs/quickstart/model.keras")\n'
        'restored = keras.saving.load_model("runs/quickstart/model.keras")\n'
        "diff = float(np.abs(restored.predict(labels, verbose=0) - generated).max())\n"
        'print("max difference after reload:", diff)\n'
        "assert diff == 0.0\n"
        'print("optimizer steps:", int(restored.g_optimizer.iterations),\n'
        "      int(restored.d_optimizer.iterations))\n"
        "assert int(restored.g_optimizer.iterations) == 24 * EPOCHS  # 24 pairs, batch 1\n"
        "\n"
        'model.export("runs/quickstart/generator_savedmodel")\n'
        "import tensorflow as tf\n"
        'served = tf.saved_model.load("runs/quickstart/generator_savedmodel")\n'
        "served_diff = float(np.abs(served.serve(labels).numpy() - generated).max())\n"
        'print("served vs predict:", served_diff)\n'
        "assert served_diff < 1e-5"
    ),
]


def write(path, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)


if __name__ == "__main__":
    write("notebooks/quickstart.ipynb", QUICKSTART)

"""The cells of notebooks/data_augmentation.ipynb.

tools/make_notebooks.py writes the notebook and runs it; running this file
does the same for this notebook only (it takes make_notebooks.py's options).
"""

import os
import sys

from nbformat.v4 import new_code_cell
from nbformat.v4 import new_markdown_cell

PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "notebooks",
    "data_augmentation.ipynb",
)

CELLS = [
    new_markdown_cell(
        "# Data and augmentation gallery\n\n"
        "A tour of `pix2pix_keras.load_paired_dataset` on the 24 CMP facade "
        'pairs bundled with the package (`pk.sample_data_dir("train")`): '
        "the three folder layouts, label maps (colour, one-hot, class ids), "
        "the preprocessing modes, and the small-data augmentations (elastic "
        "deformation, colour jitter) shown with `show_pairs` and "
        "`show_augmentations`. See `docs/data.md` for the reference.\n\n"
        'Each pair is `cmp_bNNNN.jpg` (photo, "A") and `cmp_bNNNN.png` '
        '(label map, "B"); label map → photo is `direction="BtoA"`. '
        "The notebook runs in seconds; `PIX2PIX_FAST=1` (set in CI) halves "
        "the image size. The outputs shown come from a normal run (256×256)."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import os\n"
        "\n"
        'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # fewer TensorFlow log lines\n'
        "import shutil\n"
        "import tempfile\n"
        "import warnings\n"
        "\n"
        "import numpy as np\n"
        "import tensorflow as tf\n"
        "\n"
        "import pix2pix_keras as pk\n"
        "from pix2pix_keras.augment import Augment\n"
        "from pix2pix_keras.plotting import show_augmentations, show_pairs\n"
        "\n"
        'FAST = os.environ.get("PIX2PIX_FAST") == "1"\n'
        "SIZE = 128 if FAST else 256\n"
        "LOAD = SIZE * 286 // 256  # the paper's 286/256 jitter margin\n"
        'TRAIN = pk.sample_data_dir("train")\n'
        'print(len(os.listdir(TRAIN)), "files in the bundled training folder")'
    ),
    new_markdown_cell(
        "## Three layouts\n\n"
        "| layout | on disk | A / B |\n"
        "|---|---|---|\n"
        '| `"stems"` | `train/cmp_b0001.jpg`, `train/cmp_b0001.png` | '
        'suffixes `(".jpg", ".png")` |\n'
        '| `"folders"` | `train/A/cmp_b0001.jpg`, `train/B/cmp_b0001.png` | '
        "matched by stem |\n"
        '| `"ab"` | `train/cmp_b0001.png` (A left half, B right half) | '
        "the public pix2pix archives |\n\n"
        '`layout="auto"` (the default) picks `"folders"` if `A/` and `B/` '
        'exist, `"stems"` if some stem has both suffixes, else `"ab"`. '
        "The bundled sample uses stems; below, the same four pairs are "
        "written in the two other layouts (lossless PNG), and all three give "
        "identical tensors."
    ),
    new_code_cell(
        'root = tempfile.mkdtemp(prefix="layouts_")\n'
        "layout, a_paths, b_paths = pk.find_pairs(TRAIN)\n"
        "print(layout, os.path.basename(a_paths[0]), os.path.basename(b_paths[0]))\n"
        'stems = os.path.join(root, "stems")\n'
        'os.makedirs(os.path.join(root, "folders", "A"))\n'
        'os.makedirs(os.path.join(root, "folders", "B"))\n'
        'os.makedirs(os.path.join(root, "ab"))\n'
        "os.makedirs(stems)\n"
        "for a, b in zip(a_paths[:4], b_paths[:4]):\n"
        "    stem = os.path.splitext(os.path.basename(a))[0]\n"
        "    shutil.copy(a, stems)\n"
        "    shutil.copy(b, stems)\n"
        "    # Decoded as the pipeline decodes them, then stored losslessly.\n"
        "    photo = tf.io.decode_image(tf.io.read_file(a), channels=3)\n"
        "    label = tf.io.decode_image(tf.io.read_file(b), channels=3)  # palette colours\n"
        '    for path, image in ((("folders", "A", stem + ".png"), photo),\n'
        '                        (("folders", "B", stem + ".png"), label),\n'
        '                        (("ab", stem + ".png"), tf.concat([photo, label], axis=1))):\n'
        "        tf.io.write_file(os.path.join(root, *path), tf.io.encode_png(image))\n"
        "\n"
        "batches = {}\n"
        'for name in ("stems", "folders", "ab"):\n'
        "    folder = os.path.join(root, name)\n"
        '    print(f"{name:8s} detected as {pk.data.detect_layout(folder)!r}")\n'
        '    ds = pk.load_paired_dataset(folder, direction="BtoA", image_size=SIZE,\n'
        "                                training=False, batch_size=4)\n"
        "    batches[name] = next(iter(ds))\n"
        'for name in ("folders", "ab"):\n'
        '    identical = all(np.array_equal(x, y) for x, y in zip(batches[name], batches["stems"]))\n'
        '    print(f"{name:8s} gives the same tensors as stems: {identical}")\n'
        'show_pairs(batches["ab"], n=2, title="layout \'ab\', BtoA: label map → photo")'
    ),
    new_markdown_cell(
        "## Label maps: colour, one-hot, class ids\n\n"
        "The label PNGs store class ids 1–12 as palette colours. "
        "`pk.facades_labels(mode)` returns a `LabelMaps` that maps the colours "
        "back to ids (exactly: nearest-neighbour resizing, no blending) and "
        'feeds them as 3 palette colours (`"color"`) or 13 one-hot channels '
        '(`"onehot"`). `with_label_ids=True` adds the int32 ids as a third '
        "element, e.g. for mIoU of a segmentation model run on the outputs."
    ),
    new_code_cell(
        'common = dict(direction="BtoA", image_size=SIZE, training=False, batch_size=4)\n'
        'color = pk.load_paired_dataset(TRAIN, labels=pk.facades_labels("color"),\n'
        "                               with_label_ids=True, **common)\n"
        'onehot = pk.load_paired_dataset(TRAIN, labels=pk.facades_labels("onehot"),\n'
        "                                with_label_ids=True, **common)\n"
        "c_src, c_tgt, ids = next(iter(color))\n"
        "o_src, o_tgt, o_ids = next(iter(onehot))\n"
        'print("colour:", c_src.shape, "one-hot:", o_src.shape, "ids:", ids.shape, ids.dtype)\n'
        'print("classes in this batch:", np.unique(ids.numpy()))\n'
        'table = pk.facades_labels("color").colour_table()\n'
        'print("argmax of one-hot == ids:", np.array_equal(np.argmax(o_src, -1), ids))\n'
        'print("colour == palette[ids]:", np.allclose(c_src.numpy(), table[ids.numpy()]))\n'
        'show_pairs(onehot, n=2, columns=("source", "ids", "target"),\n'
        '           title="one-hot source (shown as argmax), ids, photo")'
    ),
    new_markdown_cell(
        "## Preprocessing modes\n\n"
        "`preprocess=` decides how images reach `image_size`, differently in "
        "training (random) and evaluation (deterministic):\n\n"
        "| mode | training | evaluation |\n"
        "|---|---|---|\n"
        '| `"resize_and_crop"` (default) | resize to `load_size`, random '
        "`image_size` crop | resize to `image_size` |\n"
        '| `"crop"` | random `image_size` crop | centred crop |\n'
        '| `"scale_width"` | width to `load_size`, keep aspect, random crop | '
        "width to `image_size`, height to a multiple of `size_multiple` |\n"
        '| `"none"` | random crop to multiples of `size_multiple` | centred '
        "crop to multiples |\n\n"
        "The sample is square, so two pairs are made portrait (384 × 256, "
        "like most facades) to show the differences. `size_multiple=64` "
        "suits a generator of depth 6 (`2**depth`)."
    ),
    new_code_cell(
        'tall = os.path.join(root, "tall")\n'
        "os.makedirs(tall)\n"
        "for a, b in zip(a_paths[:2], b_paths[:2]):\n"
        "    stem = os.path.splitext(os.path.basename(a))[0]\n"
        "    photo = tf.io.decode_image(tf.io.read_file(a), channels=3)\n"
        "    label = tf.io.decode_image(tf.io.read_file(b), channels=3)\n"
        "    photo = tf.cast(tf.round(tf.image.resize(photo, (384, 256))), tf.uint8)\n"
        '    label = tf.image.resize(label, (384, 256), method="nearest")  # keep colours\n'
        '    tf.io.write_file(os.path.join(tall, stem + ".jpg"), tf.io.encode_jpeg(photo))\n'
        '    tf.io.write_file(os.path.join(tall, stem + ".png"), tf.io.encode_png(label))\n'
        "\n"
        "shapes = {}\n"
        'for mode in ("resize_and_crop", "crop", "scale_width", "none"):\n'
        "    for training in (True, False):\n"
        '        ds = pk.load_paired_dataset(tall, direction="BtoA", preprocess=mode,\n'
        "                                    image_size=SIZE, load_size=LOAD,\n"
        "                                    size_multiple=64, training=training, seed=0)\n"
        "        source, target = next(iter(ds))\n"
        "        shapes[mode, training] = tuple(source.shape[1:3])\n"
        "        print(f\"{mode:16s} {'train' if training else 'eval':5s} {shapes[mode, training]}\")\n"
        "show_pairs(ds, n=2, title=\"preprocess='none', evaluation: the full image\")"
    ),
    new_markdown_cell(
        "## Augmentations for small data\n\n"
        "`Augment(elastic=True, ...)` warps source and target with ONE random "
        "smooth displacement field (Simard et al. 2003; `elastic_alpha` "
        "pixels of displacement scale, smoothed over `elastic_sigma` pixels); "
        "label maps are resampled with nearest neighbour, so ids stay valid. "
        "`color_jitter={...}` changes brightness, contrast, saturation and hue "
        'of one side only: here the photo (`color_jitter_side="target"`); '
        "jitter on the label side is refused. Augmentations run in training "
        "only, after the random crop and flip. The exaggerated values below "
        "make the effect visible; every row is the same pair with another "
        "seed."
    ),
    new_code_cell(
        "augment = Augment(elastic=True, elastic_alpha=400.0, elastic_sigma=12.0,\n"
        '                  color_jitter={"brightness": 0.3, "contrast": 0.3,\n'
        '                                "saturation": 0.3, "hue": 0.05},\n'
        '                  color_jitter_side="target")\n'
        "print(augment)\n"
        'show_augmentations(TRAIN, n_variants=4, index=0, direction="BtoA",\n'
        '                   labels=pk.facades_labels("color"), with_label_ids=True,\n'
        "                   image_size=SIZE, load_size=LOAD, augment=augment,\n"
        '                   columns=("source", "ids", "target"),\n'
        '                   title="one pair, four random augmentations")'
    ),
    new_markdown_cell(
        "Checks on a whole augmented epoch: the label side still holds only "
        "palette colours, and the one-hot source, the returned ids and the "
        "source agree pixel for pixel (they were warped by the same field)."
    ),
    new_code_cell(
        'train = pk.load_paired_dataset(TRAIN, direction="BtoA",\n'
        '                               labels=pk.facades_labels("onehot"), with_label_ids=True,\n'
        "                               image_size=SIZE, load_size=LOAD, augment=augment,\n"
        "                               batch_size=4, seed=0)\n"
        "n = bad = 0\n"
        "for source, target, ids in train:\n"
        "    n += source.shape[0]\n"
        "    one_hot = np.array_equal(np.sum(source, -1), np.ones(ids.shape))\n"
        "    agree = np.array_equal(np.argmax(source, -1), ids)\n"
        "    bad += int(not (one_hot and agree))\n"
        'print(n, "augmented pairs,", bad, "batches where one-hot source and ids disagree")\n'
        'show_pairs(train, n=3, columns=("source", "target"), title="augmented training batches")'
    ),
    new_markdown_cell(
        "The pair stays aligned under the warp: on a pair whose two images "
        "are the same file, every augmented source equals its target (no "
        "colour jitter here, since it only touches one side)."
    ),
    new_code_cell(
        'same = os.path.join(root, "same")\n'
        'for side in "AB":\n'
        "    os.makedirs(os.path.join(same, side))\n"
        "    for a in a_paths[:2]:\n"
        "        shutil.copy(a, os.path.join(same, side))\n"
        "elastic = Augment(elastic=True, elastic_alpha=400.0, elastic_sigma=12.0)\n"
        "ds = pk.load_paired_dataset(same, image_size=SIZE, load_size=LOAD,\n"
        "                            augment=elastic, seed=1)\n"
        "equal = [np.array_equal(source, target) for source, target in ds.repeat(3)]\n"
        'print(f"source == target for {sum(equal)} of {len(equal)} augmented identical pairs")\n'
        "assert all(equal)  # the one check of this notebook"
    ),
    new_markdown_cell(
        "## Bad files\n\n"
        "Every file is checked before the pipeline is built; the error names "
        'the file. With `on_error="skip"` bad pairs are dropped with one '
        "warning that lists them."
    ),
    new_code_cell(
        'broken = os.path.join(root, "broken")\n'
        "shutil.copytree(stems, broken)\n"
        "victim = sorted(os.listdir(broken))[0]\n"
        'with open(os.path.join(broken, victim), "r+b") as f:\n'
        "    f.truncate(200)\n"
        "try:\n"
        '    pk.load_paired_dataset(broken, direction="BtoA")\n'
        "except ValueError as e:\n"
        '    print("ValueError:", str(e).replace(root + os.sep, ""))  # paths from the temporary folder\n'
        "with warnings.catch_warnings(record=True) as caught:\n"
        '    warnings.simplefilter("always")\n'
        '    ds = pk.load_paired_dataset(broken, direction="BtoA", on_error="skip",\n'
        "                                training=False, image_size=SIZE)\n"
        'skipped = [w for w in caught if "Skipped" in str(w.message)]\n'
        'print("UserWarning:", str(skipped[0].message).replace(root + os.sep, ""))\n'
        'print(sum(1 for _ in ds), "pairs left")\n'
        "shutil.rmtree(root)"
    ),
]


def main():
    """Writes (and runs) the notebook with tools/make_notebooks.py."""
    import make_notebooks

    return make_notebooks.main(["data_augmentation"] + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())

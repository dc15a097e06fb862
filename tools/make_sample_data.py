"""Rebuilds pix2pix_keras/sample_data/facades from ../shared/data/cmp_facade_base.

Takes the first 24 train and 6 val pairs (sorted by name), resizes photos to
256×256 (area filter, JPEG quality 90) and label maps to 256×256 (nearest,
palette kept so class ids survive), and writes them with the same stems.
Run: python tools/make_sample_data.py [SRC] [DST]
"""

import os
import shutil
import sys

from PIL import Image

SRC = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/cmp_facade_base"
DST = sys.argv[2] if len(sys.argv) > 2 else "pix2pix_keras/sample_data/facades"
COUNTS = {"train": 24, "val": 6}
SIZE = (256, 256)

for split, n in COUNTS.items():
    out = os.path.join(DST, split)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    stems = sorted(
        f[:-4] for f in os.listdir(os.path.join(SRC, split)) if f.endswith(".jpg")
    )
    for stem in stems[:n]:
        photo = Image.open(os.path.join(SRC, split, stem + ".jpg")).convert("RGB")
        photo.resize(SIZE, Image.Resampling.BOX).save(
            os.path.join(out, stem + ".jpg"), quality=90
        )
        label = Image.open(os.path.join(SRC, split, stem + ".png"))
        assert label.mode == "P", label.mode
        label.resize(SIZE, Image.Resampling.NEAREST).save(
            os.path.join(out, stem + ".png"), optimize=True
        )
for name in ("palette.txt", "label_names.txt"):
    shutil.copy(os.path.join(SRC, name), os.path.join(DST, name))

"""Also `pix2pix_keras.extensions.tiling`: one module, two import paths."""

import sys

from pix2pix_keras.extensions import tiling

sys.modules[__name__] = tiling

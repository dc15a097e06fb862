"""`pix2pix_keras.extensions.tiling`, also importable as `pix2pix_keras.tiling`.

Importing either path gives the same module object.
"""

import sys

from pix2pix_keras.extensions import tiling

sys.modules[__name__] = tiling

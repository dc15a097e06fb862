"""`pix2pix_keras.extensions.progressive`, also importable as `pix2pix_keras.models.progressive`.

Importing either path gives the same module object.
"""

import sys

from pix2pix_keras.extensions import progressive

sys.modules[__name__] = progressive

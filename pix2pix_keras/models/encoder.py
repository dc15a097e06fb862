"""`pix2pix_keras.extensions.encoder`, also importable as `pix2pix_keras.models.encoder`.

Importing either path gives the same module object.
"""

import sys

from pix2pix_keras.extensions import encoder

sys.modules[__name__] = encoder

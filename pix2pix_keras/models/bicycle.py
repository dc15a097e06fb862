"""`pix2pix_keras.extensions.bicycle`, also importable as `pix2pix_keras.models.bicycle`.

Importing either path gives the same module object.
"""

import sys

from pix2pix_keras.extensions import bicycle

sys.modules[__name__] = bicycle

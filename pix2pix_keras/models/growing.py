"""`pix2pix_keras.extensions.growing`, also importable as `pix2pix_keras.models.growing`.

Importing either path gives the same module object.
"""

import sys

from pix2pix_keras.extensions import growing

sys.modules[__name__] = growing

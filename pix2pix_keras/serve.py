"""`pix2pix_keras.extensions.serve`, also importable as `pix2pix_keras.serve`.

Importing either path gives the same module object.
"""

import sys

from pix2pix_keras.extensions import serve

sys.modules[__name__] = serve

"""Also `pix2pix_keras.extensions.serve`: one module, two import paths."""

import sys

from pix2pix_keras.extensions import serve

sys.modules[__name__] = serve

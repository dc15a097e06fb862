"""Also `pix2pix_keras.extensions.bicycle`: one module, two import paths."""

import sys

from pix2pix_keras.extensions import bicycle

sys.modules[__name__] = bicycle

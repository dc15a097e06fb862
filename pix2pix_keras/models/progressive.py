"""Also `pix2pix_keras.extensions.progressive`: one module, two import paths."""

import sys

from pix2pix_keras.extensions import progressive

sys.modules[__name__] = progressive

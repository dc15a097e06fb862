"""Also `pix2pix_keras.extensions.encoder`: one module, two import paths."""

import sys

from pix2pix_keras.extensions import encoder

sys.modules[__name__] = encoder

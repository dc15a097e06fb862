"""Also `pix2pix_keras.extensions.growing`: one module, two import paths."""

import sys

from pix2pix_keras.extensions import growing

sys.modules[__name__] = growing

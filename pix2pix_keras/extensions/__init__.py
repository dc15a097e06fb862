"""Extensions of the core Pix2Pix.

The core (`pix2pix_keras.models`: Pix2Pix, the U-Net and ResNet
generators, the PatchGAN discriminators; `losses`, `data`, `callbacks`,
`metrics`) trains and evaluates pix2pix. The extensions build on it:

- `extensions.bicycle` and `extensions.encoder`: BicycleGAN, multimodal
  output from a latent code and its encoder;
- `extensions.progressive` and `extensions.growing`: progressive growing
  to high resolutions;
- `extensions.tiling`: translating images larger than the network, tile
  by tile;
- `extensions.serve`: the local web page of `pix2pix serve`.

Their public names are also importable from `pix2pix_keras` (and the
models' from `pix2pix_keras.models`), and each module from its former path
(`pix2pix_keras.models.bicycle`, `pix2pix_keras.tiling`, ...).
"""

# The core first: importing it imports (and registers for
# `keras.saving.load_model`) the extension models, which import the core,
# so an extension module imported on its own would otherwise meet a
# half-loaded neighbour.
import pix2pix_keras.models  # noqa: E402, F401

__all__ = []

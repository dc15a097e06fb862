"""`python -m pix2pix_keras`: the `pix2pix` command line."""

import sys

from pix2pix_keras.cli import main

if __name__ == "__main__":
    sys.exit(main())

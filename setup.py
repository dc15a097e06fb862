"""PyPI's long description: README.md with absolute links and pictures.

The README's links and pictures are relative to the repository, which
GitHub resolves and PyPI cannot (it has only the text). This build hook
hands setuptools the README with every relative target made absolute:
pictures on raw.githubusercontent.com, other links on github.com, both at
the `main` branch. README.md itself stays relative. Everything else is in
setup.cfg.
"""

import os
import re

from setuptools import setup

REPOSITORY = "https://github.com/pix2pix-keras/pix2pix-keras"
RAW = "https://raw.githubusercontent.com/pix2pix-keras/pix2pix-keras/main/"
BLOB = REPOSITORY + "/blob/main/"
# [text](target) and ![alt](target); a target with a scheme (https:,
# mailto:), an in-page anchor or an absolute path is left alone.
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
KEEP = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:|#|/")


def absolute_links(markdown):
    """`markdown` with relative link and picture targets made absolute."""

    def fix(match):
        bang, text, target = match.groups()
        if KEEP.match(target):
            return match.group(0)
        return f"{bang}[{text}]({(RAW if bang else BLOB) + target})"

    return LINK.sub(fix, markdown)


HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
    README = f.read()

setup(
    long_description=absolute_links(README),
    long_description_content_type="text/markdown",
)

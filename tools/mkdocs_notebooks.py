"""MkDocs hook: adds notebooks/*.ipynb to the site as notebooks/<name>/.

The notebooks live outside docs/ (docs_dir), at the top of the repository
where GitHub and Colab find them. mkdocs-jupyter (mkdocs.yml) renders them
with their committed outputs (`execute: false`); this hook runs first, so
the plugin sees them as pages of the site.
"""

import glob
import os

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


@event_priority(100)  # before mkdocs-jupyter's on_files
def on_files(files, config):
    for path in sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb"))):
        files.append(
            File(
                os.path.relpath(path, ROOT).replace(os.sep, "/"),
                src_dir=ROOT,
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
    return files


BADGE = (
    '<img alt="Open in Colab" '
    'src="https://colab.research.google.com/assets/colab-badge.svg"/>'
)


def on_post_page(output, page, config):
    """The Colab badge as a text link: the site loads nothing from other
    hosts (mkdocs.yml)."""
    return output.replace(BADGE, "Open in Colab")

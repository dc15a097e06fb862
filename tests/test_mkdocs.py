"""The documentation site builds with `mkdocs build --strict`.

Strict mode turns every warning into an error: a broken link or anchor, a
page missing from the nav (mkdocs.yml sets `omitted_files: warn`), an API
object that mkdocstrings cannot find, a docstring it cannot parse.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "WARNING" not in log, log

    pages = sorted(
        p[:-3] for p in os.listdir(os.path.join(ROOT, "docs")) if p.endswith(".md")
    )
    assert len(pages) >= 14
    for page in pages:
        html = "index.html" if page == "index" else f"{page}/index.html"
        assert (site / html).is_file(), page

    api = (site / "api" / "index.html").read_text()
    for name in (
        "Pix2Pix",
        "Pix2Pix.compile",
        "Pix2Pix.from_preset",
        "UNetGenerator",
        "UNetGenerator.up_block",
        "PatchDiscriminator",
        "load_paired_dataset",
        "Diagnostics",
        "FrechetInceptionDistance",
        "evaluate",
        "export_generator",
        "metrics.ssim",
    ):
        assert f'id="pix2pix_keras.{name}"' in api, name
    # Keras-style "Example:" doctests render as code blocks, not as prose
    # (tools/griffe_keras_examples.py).
    assert "&gt;&gt;&gt;" in api
    assert not re.search(r"<p>\s*&gt;&gt;&gt;", api)
    assert "```" not in api  # fenced examples in docstrings are code too


def test_api_page_lists_the_public_api():
    """Every name that `pix2pix_keras/__init__.py` exports has its
    `::: pix2pix_keras.<name>` entry in docs/api.md."""
    with open(os.path.join(ROOT, "pix2pix_keras", "__init__.py")) as f:
        names = re.findall(
            r"^\s*from pix2pix_keras\.[\w.]+ import (\w+)$", f.read(), flags=re.M
        )
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        documented = set(
            re.findall(r"^::: pix2pix_keras\.(\w+)$", f.read(), flags=re.M)
        )
    assert len(names) >= 40
    assert sorted(set(names) - documented) == []

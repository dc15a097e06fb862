"""The distributions are ready for PyPI.

One module-wide build: `python -m build --no-isolation` of a copy of the
repository into a temporary folder, then `twine check --strict` on the
sdist and the wheel. `--no-isolation` uses the build backend of the test
environment (setuptools and wheel, pinned in requirements/constraints.txt)
instead of downloading a fresh one for every run: no network, a few
seconds, and the same setuptools every time. The copy keeps the build's
`*.egg-info` and `build/` out of the working tree.
"""

import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest
import yaml

import pix2pix_keras as pk

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
REPOSITORY = "https://github.com/pix2pix-keras/pix2pix-keras"
SAMPLE = "pix2pix_keras/sample_data/facades/"
IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "runs",
    "build",
    "dist",
    "site",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ipynb_checkpoints",
)


def _run(*args, cwd=None):
    out = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, f"{args}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """`{"wheel": path, "sdist": path, "twine": output}` of one build."""
    tmp = tmp_path_factory.mktemp("packaging")
    src, out = tmp / "src", tmp / "dist"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    _run("-m", "build", "--no-isolation", "--outdir", str(out), str(src))
    files = sorted(os.listdir(out))
    assert len(files) == 2, files
    wheel = next(str(out / f) for f in files if f.endswith(".whl"))
    sdist = next(str(out / f) for f in files if f.endswith(".tar.gz"))
    twine = _run("-m", "twine", "check", "--strict", wheel, sdist)
    return {"wheel": wheel, "sdist": sdist, "twine": twine}


@pytest.fixture(scope="module")
def wheel(dists):
    with zipfile.ZipFile(dists["wheel"]) as z:
        return {name: z.read(name) for name in z.namelist()}


@pytest.fixture(scope="module")
def metadata(wheel):
    name = next(n for n in wheel if n.endswith(".dist-info/METADATA"))
    return email.parser.Parser().parsestr(wheel[name].decode("utf-8"))


def test_twine_check_passes_for_the_sdist_and_the_wheel(dists):
    assert os.path.basename(dists["wheel"]) == (
        f"pix2pix_keras-{pk.__version__}-py3-none-any.whl"
    )
    assert os.path.basename(dists["sdist"]) == f"pix2pix-keras-{pk.__version__}.tar.gz"
    assert dists["twine"].count("PASSED") == 2, dists["twine"]


def _dist_info_file(wheel, name):
    """A license file of the .dist-info folder (at its root with older
    setuptools, under licenses/ with newer ones)."""
    found = [n for n in wheel if ".dist-info/" in n and n.endswith("/" + name)]
    assert len(found) == 1, (name, [n for n in wheel if ".dist-info/" in n])
    return wheel[found[0]].decode("utf-8")


def test_wheel_holds_license_notice_and_the_sample_with_its_attribution(wheel):
    license_text = _dist_info_file(wheel, "LICENSE")
    assert (
        "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    )
    assert "END OF TERMS AND CONDITIONS" in license_text
    notice = " ".join(_dist_info_file(wheel, "NOTICE").split())
    for needed in (
        "Apache License, Version 2.0",
        "CMP Facade Database",
        "Radim Tyleček and Radim Šára",
        "Spatial Pattern Templates for Recognition",
        "GCPR 2013",
        "https://cmp.felk.cvut.cz/~tylecr1/facade/",
        SAMPLE.rstrip("/"),
        "NOT covered by",
    ):
        assert needed in notice, needed
    # The sample: 24 train and 6 val pairs, with the files that describe it.
    for split, pairs in (("train", 24), ("val", 6)):
        for ext in (".jpg", ".png"):
            names = [
                n
                for n in wheel
                if n.startswith(f"{SAMPLE}{split}/") and n.endswith(ext)
            ]
            assert len(names) == pairs, (split, ext)
    provenance = wheel[SAMPLE + "PROVENANCE.md"].decode("utf-8")
    assert "Spatial Pattern Templates" in provenance and "GCPR 2013" in provenance
    bib = wheel[SAMPLE + "CITATION.bib"].decode("utf-8")
    assert "@INPROCEEDINGS{Tylecek13" in bib and "year = {2013}" in bib
    assert wheel[SAMPLE + "label_names.txt"] and wheel[SAMPLE + "palette.txt"]


def test_metadata_fields(metadata):
    from trove_classifiers import classifiers as valid

    assert metadata["Name"] == "pix2pix-keras"
    assert metadata["Version"] == pk.__version__
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["License"] == "Apache-2.0"
    assert sorted(metadata.get_all("License-File")) == ["LICENSE", "NOTICE"]
    found = metadata.get_all("Classifier")
    assert [c for c in found if c not in valid] == []  # PyPI refuses others
    # The license is the SPDX `License` field; License classifiers are
    # deprecated (setuptools 77+ warns about them).
    assert [c for c in found if c.startswith("License ::")] == []
    versions = [
        c.rsplit(" :: ", 1)[1]
        for c in found
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]  # from Requires-Python up
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert urls == {
        "Source": REPOSITORY,
        "Documentation": REPOSITORY + "/tree/main/docs",
        "Changelog": REPOSITORY + "/blob/main/CHANGELOG.md",
        "Issues": REPOSITORY + "/issues",
    }
    assert metadata["Home-page"] == REPOSITORY
    assert metadata["Description-Content-Type"] == "text/markdown"


def _targets(markdown):
    return re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", markdown)


def test_long_description_links_are_absolute_and_the_readme_stays_relative(metadata):
    description = metadata.get_payload()
    assert description.startswith("# pix2pix-keras")
    targets = _targets(description)
    assert len(targets) >= 25
    assert [t for t in targets if not t.startswith(("https://", "#"))] == []
    pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", description)
    raw = "https://raw.githubusercontent.com/pix2pix-keras/pix2pix-keras/main/"
    assert pictures == [
        raw + "docs/images/demo_grid.jpg",
        raw + "docs/images/serve.png",
    ]
    assert REPOSITORY + "/blob/main/docs/quickstart.md" in targets
    # On GitHub the README keeps its relative links, and says the same.
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert "](docs/images/demo_grid.jpg)" in readme
    assert len(_targets(readme)) == len(targets)
    assert (
        re.sub(r"\]\([^)\s]+\)", "]()", readme).strip()
        == re.sub(r"\]\([^)\s]+\)", "]()", description).strip()
    )


def test_sdist_holds_the_project_files(dists):
    with tarfile.open(dists["sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for name in (
        "LICENSE",
        "NOTICE",
        "README.md",
        "CHANGELOG.md",
        "CITATION.cff",
        "setup.py",
        "setup.cfg",
        "pyproject.toml",
        SAMPLE + "PROVENANCE.md",
        SAMPLE + "CITATION.bib",
        SAMPLE + "val/cmp_b0023.png",
    ):
        assert name in names, name


def test_citation_cff_cites_the_paper_and_the_package():
    with open(os.path.join(ROOT, "CITATION.cff"), encoding="utf-8") as f:
        cff = yaml.safe_load(f)
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software" and cff["title"].startswith("pix2pix-keras")
    assert cff["version"] == pk.__version__
    assert cff["license"] == "Apache-2.0"
    assert cff["repository-code"] == REPOSITORY
    assert cff["message"] and cff["authors"]
    paper, facades = cff["references"]
    assert (
        paper["title"]
        == "Image-to-Image Translation with Conditional Adversarial Networks"
    )
    assert [a["family-names"] for a in paper["authors"]] == [
        "Isola",
        "Zhu",
        "Zhou",
        "Efros",
    ]
    assert paper["year"] == 2017 and paper["url"] == "https://arxiv.org/abs/1611.07004"
    assert [a["family-names"] for a in facades["authors"]] == ["Tyleček", "Šára"]
    assert facades["year"] == 2013


def test_changelog_starts_with_unreleased():
    with open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8") as f:
        headings = re.findall(r"^## (.+)$", f.read(), flags=re.M)
    assert headings[0] == "Unreleased"

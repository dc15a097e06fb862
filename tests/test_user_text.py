"""User-facing text speaks to users, not about the project's internals.

Scanned: README.md, CHANGELOG.md, CITATION.cff, NOTICE, setup.cfg,
mkdocs.yml, every Markdown page under docs/ and benchmarks/README.md (the
README links it); every notebook cell
(sources and any stored text outputs); the `--help` of every command; and
in `pix2pix_keras/**/*.py`
every string constant the parser sees (module, class and function
docstrings, argparse help, error and warning messages, the parts of
f-strings). Comments are not scanned (they never reach a user), nor are
the scripts of benchmarks/ and tools/ (developer tooling, whose defaults
name the benchmark machine's data folders).

Refused:

- issue numbers ("issue 10", "Issue #7", "(#12)") and talk of "the
  issue" or of a specification (`SPEC`) or of notes (`PERF_NOTES`) that
  are not in the repository;
- paths outside the repository (`../shared/...`);
- absolute paths of a machine (`/work/`, `/home/`, `/tmp/`, `/root/`,
  `/Users/`, `/mnt/`, `C:\\Users\\`).

Allowed on purpose:

- full `http(s)://` URLs: a link to a public page (for example an issue of
  the PyTorch reference on GitHub) is a citation anyone can follow, so
  URLs are removed before the patterns are applied;
- placeholders such as `/path/to/model.keras` and home-relative paths such
  as `~/torchvenv`, which name no particular machine;
- colours (`#1f77b4`, `color: #222`): only "(#12)", "see #12", "fixes
  #12" and the like count as issue refs.
"""

import ast
import glob
import json
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

URL = re.compile(r"https?://[^\s)\]>\"'`]+")
PATTERNS = {
    "issue number": re.compile(r"\bissues?\s*#?\s*\d+", re.I),
    # GitHub's short refs as prose writes them: "(#12)", "see #12", "fixes
    # #12". A bare "#222" is left alone: CSS colours in serve.py's page.
    "issue ref": re.compile(
        r"(?:\(|\b(?:see|fixes|fixed|closes|closed|in|per|from|PR)\s+)#\d+\b", re.I
    ),
    "the issue": re.compile(r"\bthe issue(?:'s)?\b", re.I),
    "SPEC": re.compile(r"\bSPEC\b"),
    "PERF_NOTES": re.compile(r"PERF_NOTES"),
    "path outside the repository": re.compile(r"\.\./shared|(?<![\w.])shared/data\b"),
    "absolute path": re.compile(
        r"(?<![\w.~-])/(?:work|home|tmp|root|Users|mnt)/|\b[A-Za-z]:\\+Users\\"
    ),
}


def problems(text):
    """The `(pattern name, match)` pairs found in `text`, URLs excepted."""
    text = URL.sub("<url>", text)
    return [
        (name, m.group(0)) for name, rx in PATTERNS.items() for m in rx.finditer(text)
    ]


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def text_files():
    names = [
        "README.md",
        "CHANGELOG.md",
        "CITATION.cff",
        "NOTICE",
        "setup.cfg",
        "mkdocs.yml",
        "benchmarks/README.md",
    ]
    paths = [os.path.join(ROOT, n) for n in names]
    paths += sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    return [p for p in paths if os.path.isfile(p)]


def notebook_texts(path):
    """`(where, text)` of every cell source and stored text output."""
    nb = json.loads(_read(path))
    for i, cell in enumerate(nb["cells"]):
        yield f"cell {i}", "".join(cell.get("source", []))
        for output in cell.get("outputs", []):
            for key in ("text", "traceback"):
                if key in output:
                    yield f"cell {i} output", "".join(output[key])
            for value in output.get("data", {}).values():
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    yield f"cell {i} output", "".join(value)


def python_strings(path):
    """`(line, text)` of every string constant of a module: docstrings,
    argparse help, messages and the literal parts of f-strings."""
    tree = ast.parse(_read(path), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def package_modules():
    return sorted(
        glob.glob(os.path.join(ROOT, "pix2pix_keras", "**", "*.py"), recursive=True)
    )


def _rel(path):
    return os.path.relpath(path, ROOT)


# ----------------------------------------------------------------- the rules


@pytest.mark.parametrize(
    "text, name",
    [
        ("Two extensions of pix2pix (issue 10):", "issue number"),
        ("Issue #7 asks for training faster", "issue number"),
        ("fixed in (#12)", "issue ref"),
        ("see #3 for the details", "issue ref"),
        ("The issue's targets, in the run of the table", "the issue"),
        ("gives sharper output (SPEC §4)", "SPEC"),
        ("see `../shared/PERF_NOTES.md`", "PERF_NOTES"),
        ("see `../shared/PERF_NOTES.md`", "path outside the repository"),
        (
            'pk.load_paired_dataset("/work/shared/data/cmp_facade_base/val")',
            "absolute path",
        ),
        ("saved to /home/alice/runs/model.keras", "absolute path"),
        ("cache in /tmp/pix2pix", "absolute path"),
        (r"C:\Users\bob\data", "absolute path"),
    ],
)
def test_the_patterns_find_internal_text(text, name):
    assert name in [n for n, _ in problems(text)], problems(text)


@pytest.mark.parametrize(
    "text",
    [
        "https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/issues/1096#x",
        "[the reference](https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix/issues/10)",
        '`on_error="skip"` drops the bad pairs and issues one warning',
        "tf.TensorSpec((None, 3)); InputSpec; element_spec",
        "palette colour #1f77b4 and #000000; body {color: #222; border: 1px solid #999}",
        "python3 -m venv ~/torchvenv && ~/torchvenv/bin/python",
        '"model": "/path/to/runs/facades/model.keras"',
        "runs/facades/model.keras and docs/images/demo_grid.jpg",
        "# Heading\n## Sub-heading",
    ],
)
def test_the_patterns_allow_urls_placeholders_and_code(text):
    assert problems(text) == []


# ----------------------------------------------------------------- the text


def test_markdown_and_metadata_speak_to_users():
    files = text_files()
    assert os.path.join(ROOT, "README.md") in files
    assert len([f for f in files if f.endswith(".md")]) >= 15  # README + docs
    found = [
        f"{_rel(p)}:{n + 1}: {name}: {match!r}"
        for p in files
        for n, line in enumerate(_read(p).splitlines())
        for name, match in problems(line)
    ]
    assert found == [], "\n".join(found)


def test_notebooks_speak_to_users():
    notebooks = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
    assert len(notebooks) >= 5
    found = [
        f"{_rel(p)} {where}: {name}: {match!r}"
        for p in notebooks
        for where, text in notebook_texts(p)
        for name, match in problems(text)
    ]
    assert found == [], "\n".join(found)


def test_docstrings_and_messages_speak_to_users():
    modules = package_modules()
    assert os.path.join(ROOT, "pix2pix_keras", "cli", "config.py") in modules
    strings = 0
    found = []
    for path in modules:
        for line, text in python_strings(path):
            strings += 1
            found += [
                f"{_rel(path)}:{line}: {name}: {match!r}"
                for name, match in problems(text)
            ]
    assert strings > 1000  # docstrings, help texts and messages were seen
    assert found == [], "\n".join(found)


def test_cli_help_speaks_to_users(capsys):
    """The rendered `--help` of every command, as a user sees it."""
    from pix2pix_keras import cli

    commands = [
        [],
        ["train"],
        ["evaluate"],
        ["predict"],
        ["export"],
        ["serve"],
        ["datasets"],
        ["datasets", "list"],
        ["datasets", "download"],
    ]
    seen = 0
    for command in commands:
        assert cli.main(command + ["--help"]) == 0, command
        out = capsys.readouterr().out
        assert out.startswith("usage: pix2pix"), command
        seen += len(out)
        assert problems(out) == [], (command, problems(out))
    assert seen > 5000

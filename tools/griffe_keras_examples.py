"""Griffe extension for the API reference (mkdocs.yml loads it).

Keras-style docstrings put the doctest of an `Example:` section at the
section's own indentation:

    Example:
    >>> psnr(x, x + 0.1)

The Google-style parser of mkdocstrings only reads a section's indented
lines, so these examples would render as prose (and their `[...]` outputs
as broken cross-references). This extension indents the body of such a
section, up to the next section header, drops blank lines between the
header and the body, and names it `Examples:` (the parser reads a singular
`Example:` as an admonition, whose `>>>` lines would be Markdown), before
the docstring is parsed.
The docstrings themselves, and the doctests that run them, are unchanged.
"""

import re

import griffe

_EXAMPLE_HEADER = re.compile(r"(Example|Examples):\s*")
_SECTION_HEADER = re.compile(
    r"(Args|Arguments|Parameters|Returns|Yields|Raises|Attributes|Note|Notes"
    r"|Warning|Warnings|References|Example|Examples|Call arguments"
    r"|Input shape|Output shape):\s*"
)


def indent_examples(text):
    """Indents the bodies of unindented `Example:` sections of `text`."""
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not _EXAMPLE_HEADER.fullmatch(line):
            out.append(line)
            continue
        out.append("Examples:")
        # The parser ends a section at a blank line right after its header.
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i == len(lines) or lines[i][:1].isspace():
            continue  # empty, or already indented (Google style)
        in_fence = False
        while i < len(lines):
            body = lines[i]
            if body.lstrip().startswith("```"):
                in_fence = not in_fence
            elif not in_fence and _SECTION_HEADER.fullmatch(body):
                break
            out.append("    " + body if body.strip() else body)
            i += 1
    return "\n".join(out)


class KerasExamples(griffe.Extension):
    """Indents Keras-style `Example:` sections of every docstring."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = indent_examples(obj.docstring.value)

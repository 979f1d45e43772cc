#!/usr/bin/env python3
"""The benchmark page of the collection docs (docs/docsite/rst/benchmark.rst), kept from the benchmark's results.

bench.py writes the benchmark section as markdown (benchmarks/results/README-section.md); the collection docs are
reStructuredText (antsibull-docs renders only RST pages listed in docs/docsite/extra-docs.yml). update() turns the
section into RST (less its `## ` heading: the page has its title) and puts it between the page's two marker
comments, leaving the rest of the page alone.

    .venv/bin/python benchmarks/docs_page.py        # the page again from results/README-section.md

The conversion covers the markdown bench.py writes: `##` and `###` headings, paragraphs, `- ` lists, code blocks
(indented by four spaces or fenced), pipe tables, `inline code`, **bold** and [links](target).
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCHMARK_PAGE = os.path.join(ROOT, "docs", "docsite", "rst", "benchmark.rst")
SECTION = os.path.join(HERE, "results", "README-section.md")
BEGIN = ".. BEGIN benchmarks/results/README-section.md (written by benchmarks/bench.py: do not edit by hand)"
END = ".. END benchmarks/results/README-section.md"

TITLES = {"#": "=", "##": "=", "###": "-", "####": "~"}
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
# What may stand right before an RST inline literal's start and right after its end without a backslash-space.
_BEFORE = set(" \t'\"([{<-/:")
_AFTER = set(" \t'\")]}>-/:.,;!?\\")


def _inline(text):
    """Inline markdown of one line as RST: `code` as ``code``, [text](target) as a hyperlink reference."""
    out, pos = [], 0
    tokens = sorted([(m.start(), m.end(), "``%s``" % m.group(1)) for m in _CODE.finditer(text)]
                    + [(m.start(), m.end(), "`%s <%s>`__" % (m.group(1), m.group(2))) for m in _LINK.finditer(text)
                       if not any(c.start() <= m.start() < c.end() for c in _CODE.finditer(text))])
    for start, end, rst in tokens:
        if start < pos:
            continue
        out.append(text[pos:start])
        if start > 0 and text[start - 1] not in _BEFORE:
            out.append("\\ ")
        out.append(rst)
        if end < len(text) and text[end] not in _AFTER:
            out.append("\\ ")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _cells(row):
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table(rows):
    header, body = _cells(rows[0]), [_cells(row) for row in rows[2:]]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header] + body:
        for i, cell in enumerate(row + [""] * (len(header) - len(row))):
            item = ("   * - " if i == 0 else "     - ") + _inline(cell)
            lines.append(item.rstrip())
    return lines


def to_rst(markdown):
    """The markdown section as RST."""
    lines, out, i = markdown.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"^(#{1,4}) (.*)$", line)
        if heading:
            title = heading.group(2).strip()
            out += [title, TITLES[heading.group(1)] * len(title)]
            i += 1
        elif line.startswith("```"):
            language = line[3:].strip() or "text"
            block, i = [], i + 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            i += 1
            out += [".. code-block:: %s" % language, ""] + [("   " + b).rstrip() for b in block]
        elif line.startswith("    ") and (not out or not out[-1].strip()):
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += [".. code-block:: shell", ""] + [("   " + b).rstrip() for b in block] + [""]
        elif line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            out += _table(rows)
        else:
            out.append(_inline(line).rstrip())
            i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def splice(page_text, rst):
    """The page with `rst` between its markers (which must both be there, in order)."""
    start, end = page_text.find(BEGIN), page_text.find(END)
    if start < 0 or end < start:
        raise ValueError("the benchmark page has no %r ... %r markers" % (BEGIN, END))
    return page_text[:start + len(BEGIN)] + "\n\n" + rst + "\n" + page_text[end:]


def generated(page_text):
    """The text between the page's markers, as splice() put it there."""
    start, end = page_text.find(BEGIN), page_text.find(END)
    if start < 0 or end < start:
        return None
    return page_text[start + len(BEGIN):end].strip("\n") + "\n"


def body(markdown):
    """The section without its `## ` heading: the page has its own title, above the markers (a label before a
    comment would not reach the title)."""
    return re.sub(r"\A\s*## [^\n]*\n", "", markdown)


def update(markdown, page=BENCHMARK_PAGE):
    """Puts the benchmark section (markdown) into the docs page; returns the page's text."""
    with open(page) as f:
        text = splice(f.read(), to_rst(body(markdown)))
    with open(page, "w") as f:
        f.write(text)
    return text


def main(argv=None):
    with open(SECTION) as f:
        update(f.read())
    print("wrote %s from %s" % (os.path.relpath(BENCHMARK_PAGE, ROOT), os.path.relpath(SECTION, ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The metric table of the docs (docs/docsite/rst/metrics_and_thresholds.rst, which the README links to) is the
catalog's, as catalog_table makes it."""

import os

from catalog_table import rows

PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "docsite", "rst", "metrics_and_thresholds.rst")


def test_the_docs_list_the_catalogs_default_alarms():
    with open(PAGE) as f:
        text = f.read()
    missing = [row for row in rows() if row not in text.splitlines()]
    assert not missing, "the metric table of %s is out of date; replace it with:\n%s" % (
        os.path.relpath(PAGE), "\n".join(rows()))

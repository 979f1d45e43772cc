import os

from catalog_table import rows

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def test_readme_lists_the_catalogs_default_alarms():
    with open(README) as f:
        text = f.read()
    missing = [row for row in rows() if row not in text]
    assert not missing, "README.md's metric table is out of date; replace it with:\n" + "\n".join(rows())

"""Shared pytest set-up for the unit and integration tests of mlops.sagemaker_monitoring.

The collection is imported as ``ansible_collections.mlops.sagemaker_monitoring``: the checkout is linked into
``<repo>/.collections/ansible_collections/mlops/sagemaker_monitoring`` (see the Makefile), so that directory has
to be on sys.path before any test module is imported.
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_PATH = os.path.join(REPO_ROOT, ".collections")

if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

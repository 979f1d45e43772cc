# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS regions botocore knows, from the partition data it ships (the source AWS's SDKs maintain).

A region name that only looks like one (eu-wset-1, us-east-7) would otherwise reach AWS and fail there, after other
endpoints were already rolled out; checked against this list it fails its endpoint alone, before any AWS call. A
region newer than the installed botocore is allowed with the role's endpoint_monitoring_allow_unlisted_region.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import re

try:
    from botocore.loaders import create_loader
except ImportError:  # the modules that need botocore say so themselves
    create_loader = None

# What a region name looks like (ASCII only, the whole string): eu-west-1, us-gov-west-1, eusc-de-east-1.
REGION_NAME = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}\Z")

_KNOWN = []


def known_regions():
    """The region names of every partition in botocore's data (endpoints.json and partitions.json), as a frozenset;
    None when botocore is not installed. Read once per process."""
    if not _KNOWN:
        _KNOWN.append(_read_regions())
    return _KNOWN[0]


def _read_regions():
    if create_loader is None:
        return None
    loader = create_loader()
    names = set()
    for data_name in ("endpoints", "partitions"):
        try:
            data = loader.load_data(data_name)
        except Exception:  # an older botocore without partitions.json
            continue
        for partition in data.get("partitions") or []:
            names.update(name for name in partition.get("regions") or {} if REGION_NAME.match(name))
    return frozenset(names) or None


def region_problem(region, allow_unlisted=False, variable="endpoint_monitoring_allow_unlisted_region"):
    """Why `region` cannot be the region of an endpoint, or None. The message shows the value as written."""
    if region == "" or region is None:
        return ("no region is set: give endpoint_monitoring_region, name the host NAME@REGION, or set one in "
                "module_defaults or AWS_REGION")
    if not isinstance(region, str) or not REGION_NAME.match(region):
        return "%s is not an AWS region name such as eu-west-1" % (_shown(region),)
    known = known_regions()
    if allow_unlisted or known is None or region in known:
        return None
    close = difflib.get_close_matches(region, sorted(known), n=1)
    return "%r is not a region botocore knows%s; for a region newer than the installed botocore, set %s: true" % (
        str(region), " (did you mean %r?)" % close[0] if close else "", variable)


def _shown(value):
    if isinstance(value, str):
        return "%r" % (str(value),)
    for kind in type(value).__mro__:
        if kind.__module__ == "builtins":
            return "%s %r" % (kind.__name__, value)
    return repr(value)

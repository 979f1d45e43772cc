# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet dashboards kept right from partial runs: merge what a run knows into what is deployed.

A fleet dashboard shows many endpoints, but a run may see only some of them (--limit, AWX job slicing, one
inventory per team). So the run does not lay out the dashboard from its own endpoints alone: it reads the
deployed pages, keeps the sections of the endpoints it does not know about (while their monitoring stacks
exist), replaces the sections of its own endpoints, drops those that left fleet mode or were torn down, and
lays the result out again. Pages are recognised as this collection's by the marker in their header; any other
dashboard with one of the names is refused, never overwritten.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    pack_fleet_dashboards,
    sections_of,
)

MARKER = "Managed by mlops.sagemaker_monitoring"
FLEET_HEADER = "# SageMaker fleet"


def is_ours(body):
    """A fleet dashboard this collection made: its header says so. (An endpoint's own dashboard that happens to
    have the name is not one: it is refused like any other.)"""
    for widget in (body or {}).get("widgets") or []:
        markdown = (widget.get("properties") or {}).get("markdown") or "" if isinstance(widget, dict) else ""
        if widget.get("type") == "text" and markdown.startswith(FLEET_HEADER) and MARKER in markdown:
            return True
    return False


def page_names(base, names):
    """The names among `names` that are pages of the fleet dashboard `base` (base, or base-1, base-2, ...)."""
    pattern = re.compile(r"^%s(-\d+)?$" % re.escape(base))
    return sorted((n for n in names if pattern.match(n)), key=lambda n: (len(n), n))


def merge_sections(deployed_pages, fresh, drop, monitored):
    """The sections the dashboard should show.

    deployed_pages: bodies of the deployed pages of ours, in page order. fresh: [(endpoint, widgets)] of this
    run's endpoints in fleet mode. drop: endpoints of this run that must not be on it. monitored: endpoints that
    have a monitoring stack of this collection in the region (a kept section of any other endpoint is stale).
    Deployed endpoints keep their place; new ones follow in name order."""
    fresh = dict(fresh)
    merged = []
    placed = set()
    for body in deployed_pages:
        for endpoint, widgets in sections_of(body):
            if endpoint in placed or endpoint in drop:
                continue
            if endpoint in fresh:
                merged.append((endpoint, fresh[endpoint]))
            elif endpoint in monitored:
                merged.append((endpoint, widgets))
            else:
                continue
            placed.add(endpoint)
    merged.extend((endpoint, fresh[endpoint]) for endpoint in sorted(fresh) if endpoint not in placed)
    return merged


def _canonical(body):
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def plan_fleet_dashboards(base, deployed, fresh, drop, monitored):
    """What to write. deployed: {name: body} of the existing dashboards whose names start with base (None for a
    body that is not JSON: never ours). Returns {"put": [(name, body)], "delete": [names], "changes": [lines], "refused": [lines],
    "pages": [{"name", "endpoints", "widgets", "metrics"}]}."""
    ours = [name for name in page_names(base, deployed) if is_ours(deployed[name])]
    foreign = [name for name in page_names(base, deployed) if not is_ours(deployed[name])]
    merged = merge_sections([deployed[name] for name in ours], fresh, set(drop), set(monitored))
    pages = pack_fleet_dashboards(merged, base) if merged else []
    plan = {"put": [], "delete": [], "changes": [], "refused": [], "pages": [
        dict((k, p[k]) for k in ("name", "endpoints", "widgets", "metrics")) for p in pages]}
    for page in pages:
        name = page["name"]
        if name in foreign:
            plan["refused"].append("dashboard %s exists and is not this collection's (no %r in its header): it is "
                                   "left alone; set endpoint_monitoring_fleet_dashboard_name to another name"
                                   % (name, MARKER))
            continue
        old = deployed.get(name)
        if old is None:
            plan["changes"].append("+ fleet dashboard %s: %d endpoints, %d widgets" % (
                name, len(page["endpoints"]), page["widgets"]))
        elif _canonical(old) != _canonical(page["body"]):
            before = [e for e, _w in sections_of(old)]
            added = [e for e in page["endpoints"] if e not in before]
            removed = [e for e in before if e not in page["endpoints"]]
            detail = "; ".join(part for part in (
                "+ %s" % ", ".join(added) if added else "", "- %s" % ", ".join(removed) if removed else "") if part)
            plan["changes"].append("~ fleet dashboard %s: %d -> %d endpoints, %d -> %d widgets%s" % (
                name, len(before), len(page["endpoints"]), len(old.get("widgets") or []), page["widgets"],
                " (%s)" % detail if detail else " (graphs or thresholds)"))
        else:
            continue
        plan["put"].append((name, page["body"]))
    wanted = set(p["name"] for p in pages)
    for name in ours:
        if name not in wanted:
            plan["delete"].append(name)
            plan["changes"].append("- fleet dashboard %s (no endpoint left on it)" % name)
    return plan

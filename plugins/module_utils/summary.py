# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The closing summary of a fleet run: one line per endpoint, then the totals."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

STATUSES = ("changed", "unchanged", "failed", "not run")


def summarize(results):
    """results: {host: endpoint_monitoring_result or None}. Returns lines of text."""
    lines = []
    counts = dict((s, 0) for s in STATUSES)
    for host in sorted(results):
        result = results[host] or {"status": "not run"}
        status = result.get("status", "not run")
        counts[status] = counts.get(status, 0) + 1
        name = result.get("endpoint", host)
        if status == "failed":
            error = str(result.get("error", "")).strip().replace("\n", " | ")
            lines.append("FAILED     %s: %s" % (name, error))
            continue
        would = "would be " if result.get("check_mode") and status == "changed" else ""
        detail = "%s%s" % (would, result.get("action", ""))
        changes = result.get("changes") or []
        if changes:
            detail += ", %d change%s" % (len(changes), "" if len(changes) == 1 else "s")
        pending = result.get("pending_confirmation") or []
        if pending:
            detail += ", %d subscription%s waiting for confirmation (%s)" % (
                len(pending), "" if len(pending) == 1 else "s", ", ".join(p["endpoint"] for p in pending))
        lines.append("%-10s %s: %s (%s)" % (status.upper() if status == "not run" else status, name,
                                            result.get("stack_name", ""), detail))
    lines.append("endpoints: %d; %s" % (len(results), ", ".join(
        "%s %d" % (s, counts[s]) for s in STATUSES if counts.get(s))))
    return lines


def summarize_dashboards(dashboards):
    """One line per fleet dashboard of the run: {name: {status, changes, pages, error}}."""
    lines = []
    for name in sorted(dashboards or {}):
        board = dashboards[name]
        status = board.get("status", "unchanged")
        if status == "failed":
            lines.append("FAILED     fleet dashboard %s: %s" % (name, str(board.get("error", "")).replace("\n", " | ")))
            continue
        pages = board.get("pages") or []
        if not pages and status == "unchanged":
            continue  # no fleet dashboard of that name, none wanted
        lines.append("%-10s fleet dashboard %s: %d page%s, %d endpoints%s" % (
            status, name, len(pages), "" if len(pages) == 1 else "s", sum(len(p.get("endpoints") or []) for p in pages),
            " (%s)" % "; ".join(board["changes"]) if board.get("changes") else ""))
    return lines

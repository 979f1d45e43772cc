# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The closing summary of a fleet run: one line per endpoint, then the totals."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cost import CostError, fleet_dashboard_pages

STATUSES = ("changed", "unchanged", "failed", "not run")


def summarize(results):
    """results: {host: result (as collect_run makes it) or None}. Returns lines of text."""
    lines = []
    counts = dict((s, 0) for s in STATUSES)
    for host in sorted(results):
        result = results[host] or {"status": "not run"}
        status = result.get("status", "not run")
        counts[status] = counts.get(status, 0) + 1
        name = result.get("endpoint", host) if "@" not in host else host
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
        lines.extend("           %s" % line for line in result.get("drift") or [])
        lines.extend("           %s" % line for line in result.get("topic_retirement") or [])
    lines.append("endpoints: %d; %s" % (len(results), ", ".join(
        "%s %d" % (s, counts[s]) for s in STATUSES if counts.get(s))))
    return lines


def summarize_pending(pending_subscriptions):
    """One line per region whose subscriptions the run listed: how many wait for confirmation, against the quota."""
    lines = []
    for region in sorted(pending_subscriptions or {}):
        counts = pending_subscriptions[region]
        if not counts.get("pending") and not counts.get("asked"):
            continue
        lines.append("subscriptions waiting for confirmation in %s: %d in the account before this run, %d asked by "
                     "it (SNS refuses more past %d)" % (region, counts.get("pending", 0), counts.get("asked", 0),
                                                        counts.get("quota", 0)))
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


# What each task of the role registers, in the order they run; a failure's message comes from the first that failed.
REGISTERED = ("endpoint_monitoring__prepared", "endpoint_monitoring__dashboard", "endpoint_monitoring__diff",
              "endpoint_monitoring__stack_result", "endpoint_monitoring__reverted",
              "endpoint_monitoring__subscriptions", "endpoint_monitoring__removed")
DASHBOARD_MODES = ("fleet", "both")


def _get(mapping, key, default=None):
    try:
        value = mapping[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def _failure(host, variables, plan, confirmed):
    for name in REGISTERED:
        registered = _get(variables, name, {})
        if isinstance(registered, dict) and registered.get("failed"):
            return str(registered.get("msg") or "%s failed" % name)
    for outcome in (plan, confirmed):
        if outcome.get("status") == "failed":
            return outcome.get("error") or "failed"
    # topic_mode shared: the region's shared topics (the role's run_once note of how they went)
    for shared in _get(variables, "endpoint_monitoring__shared_outcome", {}).values():
        if shared.get("error") and host in (shared.get("hosts") or []):
            return "the shared topics of its region could not be kept right: %s" % shared["error"]
    if confirmed.get("action") in ("create", "recreate", "update", "revert_drift", "delete"):
        return "the stack did not end as applied: %s" % "; ".join(confirmed.get("changes") or [])
    return "failed in a task of the role (see its output above)"


def collect_run(hosts, hostvars, active_hosts, check_mode=False):
    """The outcome of a run from what the role's tasks registered for each host.

    hosts: the play's hosts; hostvars: their variables; active_hosts: the hosts that did not fail. Returns
    {"hosts": {host: result}, "usage": {host: usage}, "fleet_endpoints": {region: [entries]},
    "fleet_dashboards": {name: result}, "pending_subscriptions": {region: counts}, "connections": [{region, profile,
    endpoint_url}]}: each result has endpoint, region, stack_name, status (changed, unchanged, failed, not run),
    action, changes, pending_confirmation and error; connections are the regions of the run with the connection
    their endpoints use (for the prune step)."""
    run = {"hosts": {}, "usage": {}, "fleet_endpoints": {}, "fleet_dashboards": {}, "pending_subscriptions": {},
           "connections": []}
    sections = []  # every priced endpoint's fleet section size, to price fleet dashboards instead of one each
    active = set(active_hosts)
    for host in hosts:
        variables = _get(hostvars, host, {})
        prepared = _get(variables, "endpoint_monitoring__prepared", {})
        plan = _get(_get(_get(variables, "endpoint_monitoring__plan", {}), "endpoints", {}), host, {})
        confirmed = _get(_get(_get(variables, "endpoint_monitoring__confirmed", {}), "endpoints", {}), host, {})
        result = {"endpoint": prepared.get("endpoint", host), "region": prepared.get("region"),
                  "stack_name": prepared.get("stack_name", ""), "action": plan.get("action", "none"),
                  "changes": list(plan.get("changes") or []), "check_mode": bool(check_mode)}
        if plan.get("drift"):
            result["drift"] = list(plan["drift"])
        if plan.get("topic_retirement"):
            result["topic_retirement"] = list(plan["topic_retirement"])
        if not prepared:
            result["status"] = "not run"
        elif host not in active or prepared.get("failed") or plan.get("status") == "failed":
            result.update(status="failed", error=_failure(host, variables, plan, confirmed))
        elif not plan:
            result["status"] = "not run"
        else:
            result["status"] = plan["status"]
            diff = _get(variables, "endpoint_monitoring__diff", {})
            if diff.get("changes"):
                result["changes"] = diff["changes"] + [c for c in result["changes"] if " subscription " in c[:16]]
            subscriptions = _get(variables, "endpoint_monitoring__subscriptions", {})
            # after the subscription task, what it saw; for an endpoint that did not need it, what the plan saw
            pending = subscriptions.get("pending_confirmation") if "pending_confirmation" in subscriptions \
                else plan.get("pending_confirmation")
            if pending:
                result["pending_confirmation"] = pending
        run["hosts"][host] = result
        connection_of = _get(prepared, "plan_entry", {})
        connection = {"region": result["region"], "profile": connection_of.get("profile") or "",
                      "endpoint_url": connection_of.get("endpoint_url") or ""}
        if result["region"] and connection not in run["connections"]:
            run["connections"].append(connection)
        for region, counts in _get(_get(variables, "endpoint_monitoring__plan", {}), "pending_subscriptions",
                                   {}).items():
            run["pending_subscriptions"][region] = counts
        stack = plan.get("stack") or prepared.get("stack") or {}
        entry = plan.get("fleet_entry") or prepared.get("fleet_entry")
        usage = plan.get("usage") or prepared.get("usage")
        if usage and result["status"] != "failed":
            run["usage"][host] = usage
            if usage.get("fleet_section"):
                sections.append(usage["fleet_section"])
        if result["region"] and result["status"] != "failed" and (stack or prepared.get("state") == "absent"):
            fleet_mode = prepared.get("state") == "present" and stack.get("dashboard") in DASHBOARD_MODES
            run["fleet_endpoints"].setdefault(result["region"], []).append({
                "endpoint": result["endpoint"], "state": prepared.get("state"),
                "fleet_entry": entry if fleet_mode else None,
            })
        for board in _get(_get(variables, "endpoint_monitoring__fleet_dashboards", {}), "results", []):
            if isinstance(board, dict) and board.get("name"):
                run["fleet_dashboards"][board["name"]] = {
                    "status": "failed" if board.get("failed") or board.get("error") else
                    "changed" if board.get("changed") else "unchanged",
                    "changes": board.get("changes") or [], "pages": board.get("pages") or [],
                    "error": board.get("error") or (board.get("msg") if board.get("failed") else None)}
    run["connections"].sort(key=lambda c: (c["region"], c["profile"], c["endpoint_url"]))
    try:
        run["fleet_dashboard_layout"] = fleet_dashboard_pages(
            len(sections), [s["widgets"] for s in sections], [s["metrics"] for s in sections],
            widgets_per_dashboard=1) if sections else None
    except CostError:
        run["fleet_dashboard_layout"] = None  # an endpoint too large for any dashboard: no layout to price
    return run

# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: monitoring_cost
short_description: The monthly CloudWatch cost of the monitoring, per endpoint and for the fleet
version_added: 1.0.0
description:
  - Prices what the run deploys for each endpoint, from the run's outcome (the monitoring_results filter), that
    is the alarms computed for it (with the composite alarm) and the metrics of its dashboard.
  - CloudWatch bills an alarm per metric it evaluates (a metric-math alarm one per metric its expression
    queries, an anomaly-detection alarm three), more for alarms with periods under 60 seconds, composite alarms
    at a price of their own, and dashboards beyond the account's free ones.
  - Also prices the alternative of fleet dashboards (several endpoints each, as few as CloudWatch's 500 widgets
    and 2,500 metrics per dashboard allow) instead of one dashboard per endpoint, and says what it saves.
  - Hosts without a computed spec (failed before rendering) are listed as not priced.
positional: prices
options:
  _input:
    description: The run's outcome, from the monitoring_results filter.
    type: dict
    required: true
  prices:
    description:
      - Prices over the defaults (USD per month), any of C(alarm_metric) (0.10), C(high_resolution_alarm_metric)
        (0.30), C(composite_alarm) (0.50), C(dashboard) (3.00), C(free_dashboards) (3),
        C(free_dashboard_max_metrics) (50) and C(free_alarm_metrics) (0).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Print the monthly cost
  ansible.builtin.debug:
    msg: >-
      {{ ansible_play_hosts_all | mlops.sagemaker_monitoring.monitoring_results(hostvars, ansible_play_hosts)
         | mlops.sagemaker_monitoring.monitoring_cost({'dashboard': 3.0}) }}
  run_once: true
"""

RETURN = r"""
_value:
  description: Lines of text, one per endpoint, the fleet's total and the fleet-dashboard alternative.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cost import (
    CostError,
    describe,
    endpoint_cost,
    fleet_cost,
    merge_prices,
)


def _plain(value):
    """Ansible's lazy containers as plain dicts and lists."""
    if isinstance(value, dict):
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def monitoring_cost(fleet, prices=None):
    fleet = _plain(fleet or {})
    results = fleet.get("hosts") or {}
    usage = fleet.get("usage") or {}
    try:
        prices = merge_prices(_plain(prices) or {})
        costs = dict((host, endpoint_cost(u["alarms"], dashboards=u["dashboards"], prices=prices,
                                          dashboard_metrics=u["dashboard_metrics"]))
                     for host, u in usage.items())
        if not costs:
            return ["Monthly CloudWatch cost: no endpoint to price (none got as far as computing its alarms)."]
        # Fleet dashboards this run keeps are billed like any other dashboard (the free ones counted once).
        pages = [page for board in (fleet.get("fleet_dashboards") or {}).values() for page in board.get("pages") or []]
        if pages:
            costs["(fleet dashboards)"] = endpoint_cost([], dashboards=len(pages), prices=prices,
                                                        dashboard_metrics=[p["metrics"] for p in pages])
        layout = None if pages else fleet.get("fleet_dashboard_layout")
        if layout:
            totals = fleet_cost(costs, prices, fleet_dashboard_count=len(layout),
                                fleet_dashboard_metrics=[d["metrics"] for d in layout])
            lines = describe(costs, totals, prices, fleet_layout=(sum(d["widgets"] for d in layout),
                                                                  sum(d["metrics"] for d in layout)))
        else:
            totals = fleet_cost(costs, prices)
            totals["endpoints"] = len(usage)  # the fleet dashboards' line is not an endpoint
            lines = describe(costs, totals, prices)
    except CostError as e:
        raise AnsibleFilterError("monitoring_cost: %s" % e)
    not_priced = sorted(h for h in results if h not in usage)
    if not_priced:
        lines.append("Not priced (no computed alarms): %s" % ", ".join(not_priced))
    return lines


class FilterModule(object):
    def filters(self):
        return {"monitoring_cost": monitoring_cost}

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
  - Prices what the run deploys for each host (one endpoint each) from the alarms its render step computed
    (C(endpoint_monitoring__spec.spec.alarms) and the composite alarm), and its dashboard.
  - CloudWatch bills an alarm per metric it evaluates (a metric-math alarm one per metric its expression
    queries, an anomaly-detection alarm three), more for alarms with periods under 60 seconds, composite alarms
    at a price of their own, and dashboards beyond the account's free ones.
  - Also prices the alternative of fleet dashboards (several endpoints each, as few as CloudWatch's 500 widgets
    and 2,500 metrics per dashboard allow) instead of one dashboard per endpoint, and says what it saves.
  - Hosts without a computed spec (failed before rendering) are listed as not priced.
positional: hosts, prices
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: The hosts of the play (one endpoint each).
    type: list
    elements: str
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
    msg: "{{ hostvars | mlops.sagemaker_monitoring.monitoring_cost(ansible_play_hosts_all, {'dashboard': 3.0}) }}"
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
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    DashboardError,
    build_fleet_dashboards,
)


def _plain(value):
    """Ansible's lazy containers as plain dicts and lists."""
    if isinstance(value, dict):
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def host_alarms(spec):
    """The endpoint's alarms, with its composite alarm (kept apart in the spec) as one of kind composite."""
    alarms = list(spec.get("alarms") or [])
    composite = spec.get("composite")
    names = set(a.get("name") for a in alarms)
    if isinstance(composite, dict) and composite.get("name") not in names:
        alarms.append(dict(composite, kind="composite"))
    return alarms


def dashboard_metrics(body):
    if not isinstance(body, dict):
        return None
    return sum(len((w.get("properties") or {}).get("metrics") or []) for w in body.get("widgets") or [])


def monitoring_cost(hostvars, hosts, prices=None):
    try:
        prices = merge_prices(_plain(prices) or {})
        costs = {}
        fleet_entries = []
        not_priced = []
        for host in hosts:
            facts = hostvars[host]
            spec = (facts.get("endpoint_monitoring__spec") or {}).get("spec")
            if not isinstance(spec, dict):
                not_priced.append(host)
                continue
            spec = _plain(spec)
            body = _plain((facts.get("endpoint_monitoring__dashboard") or {}).get("body"))
            costs[spec["endpoint"]] = endpoint_cost(host_alarms(spec), dashboards=1, prices=prices,
                                                    dashboard_metrics=dashboard_metrics(body))
            fleet_entries.append({
                "endpoint": spec["endpoint"], "region": spec["region"], "variants": spec.get("variants") or [],
                "alarms": spec.get("alarms") or [], "endpoint_metrics": spec.get("endpoint_metrics"),
                "components": spec.get("components"),
            })
        if not costs:
            return ["Monthly CloudWatch cost: no endpoint to price (none got as far as computing its alarms)."]
        fleet_dashboards = build_fleet_dashboards(fleet_entries)
        fleet = fleet_cost(costs, prices, fleet_dashboard_count=len(fleet_dashboards),
                           fleet_dashboard_metrics=[d["metrics"] for d in fleet_dashboards])
        layout = (sum(d["widgets"] for d in fleet_dashboards), sum(d["metrics"] for d in fleet_dashboards))
        lines = describe(costs, fleet, prices, fleet_layout=layout)
    except (CostError, DashboardError) as e:
        raise AnsibleFilterError("monitoring_cost: %s" % e)
    if not_priced:
        lines.append("Not priced (no computed alarms): %s" % ", ".join(not_priced))
    return lines


class FilterModule(object):
    def filters(self):
        return {"monitoring_cost": monitoring_cost}

# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options and result of the sagemaker_dashboard module, shared with the code that prices and prepares an
endpoint's monitoring in the controller (endpoint_settings), so both compute the same dashboard."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    ACCOUNT_PLACEHOLDER,
    DashboardError,
    build_dashboard,
    minify,
)

DASHBOARD_ARGS = dict(
    endpoint_name=dict(type="str", required=True),
    region=dict(type="str", required=True),
    variants=dict(type="list", elements="raw", default=["AllTraffic"]),
    endpoint_metrics=dict(type="list", elements="str", default=[]),
    components=dict(type="list", elements="dict", default=[]),
    composite=dict(type="str"),
    alarms=dict(type="list", elements="dict", default=[]),
    metrics=dict(type="list", elements="str"),
    account_id=dict(type="str", default=ACCOUNT_PLACEHOLDER),
    topic_name=dict(type="str"),
)

ALARM_KEYS = ("name", "metric", "statistic", "period", "comparison")
KIND_KEYS = {"metric": ("threshold",), "math": ("threshold", "expression"), "anomaly": ("band",)}


def dashboard_result(p):
    """The module's result for validated params p; raises DashboardError."""
    for option in ("variants", "components"):
        for i, scope in enumerate(p[option]):
            if option == "variants" and isinstance(scope, str):
                continue
            missing = [k for k in ("name", "metrics") if not isinstance(scope, dict) or k not in scope]
            if missing:
                raise DashboardError("endpoint %r: %s[%d] must be a mapping with name and metrics%s; it lacks %s"
                                     % (p["endpoint_name"], option, i,
                                        " (or a name)" if option == "variants" else "", ", ".join(missing)))
    for i, alarm in enumerate(p["alarms"]):
        kind = alarm.get("kind") or "metric"
        if kind not in KIND_KEYS:
            raise DashboardError("endpoint %r: alarms[%d] has kind %r; expected one of %s"
                                 % (p["endpoint_name"], i, kind, ", ".join(KIND_KEYS)))
        missing = [k for k in ALARM_KEYS + KIND_KEYS[kind] if k not in alarm]
        if missing:
            raise DashboardError("endpoint %r: alarms[%d] lacks %s" % (p["endpoint_name"], i, ", ".join(missing)))
    body = build_dashboard(p["endpoint_name"], p["region"], p["variants"], p["alarms"], metrics=p["metrics"],
                           account_id=p["account_id"], topic_name=p["topic_name"],
                           endpoint_metrics=p["endpoint_metrics"], components=p["components"],
                           composite=p["composite"])
    return dict(changed=False, body=body, body_json=minify(body), widget_count=len(body["widgets"]))

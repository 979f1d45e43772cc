# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options and results of the modules that compute without AWS (monitoring_spec, sagemaker_dashboard).

Shared by the modules (for standalone use) and by the action plugins of the same names, which run the same
code in the controller's own process: one module process per endpoint is most of a fleet run's time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    ACCOUNT_PLACEHOLDER,
    DashboardError,
    build_dashboard,
    minify,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import build_spec

MONITORING_SPEC_ARGS = dict(
    endpoint_name=dict(type="str", required=True),
    region=dict(type="str", required=True),
    variants=dict(type="list", elements="raw", default=["AllTraffic"]),
    endpoint_type=dict(type="str", default="realtime"),
    multi_model=dict(type="raw", default=False),
    inference_components=dict(type="raw", default=[]),
    instance_type=dict(type="str"),
    composite=dict(type="raw", default=True),
    notify=dict(type="str", default="alarms"),
    metric_layers=dict(type="list", elements="dict", default=[]),
    subscriber_layers=dict(type="list", elements="dict", default=[], no_log=False),
    stack_prefix=dict(type="str", default="sagemaker-monitoring-"),
    ok_actions=dict(type="bool", default=False),
    tags=dict(type="dict", default={}),
    unknown_variables=dict(type="list", elements="str", default=[]),
    known_variables=dict(type="list", elements="str", default=[]),
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


def _layers(items):
    return [(item.get("variable", "layer %d" % i), item.get("value")) for i, item in enumerate(items)]


def monitoring_spec_result(p):
    """The module's result for validated params p; raises endpoint_spec.SpecError."""
    spec = build_spec(
        p["endpoint_name"], p["region"], variants=p["variants"],
        metric_layers=_layers(p["metric_layers"]), subscriber_layers=_layers(p["subscriber_layers"]),
        stack_prefix=p["stack_prefix"], ok_actions=p["ok_actions"], tags=p["tags"],
        variables_prefix=p["known_variables"], unknown_variables=p["unknown_variables"],
        endpoint_type=p["endpoint_type"], multi_model=p["multi_model"],
        inference_components=p["inference_components"], instance_type=p["instance_type"],
        composite=p["composite"], notify=p["notify"],
    )
    return dict(changed=False, spec=spec)


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

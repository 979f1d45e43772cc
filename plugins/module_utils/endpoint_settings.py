# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From one endpoint's checked role settings (and, for endpoints an inventory names only, the facts SageMaker
gives) to what the run needs: spec, fingerprint, dashboard usage and the compact entry the plan compares.

Pure functions, used by the monitoring_prepare action (in the controller, for each host) and by the
monitoring_plan module (for endpoints whose facts it had to read from SageMaker first), so both compute the
same spec and fingerprint from the same settings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    ACCOUNT_PLACEHOLDER,
    DashboardError,
    fleet_sections,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError, build_spec
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import stack_fingerprint, usage
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import FACT_KEYS
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.task_args import dashboard_result

PREFIX = "endpoint_monitoring_"
# The three layers of each mapping or list that is merged from fleet, group and endpoint.
METRIC_LAYERS = ("endpoint_monitoring_metrics", "endpoint_monitoring_group_metrics",
                 "endpoint_monitoring_endpoint_metrics")
SUBSCRIBER_LAYERS = ("endpoint_monitoring_subscribers", "endpoint_monitoring_group_subscribers",
                     "endpoint_monitoring_endpoint_subscribers")
# Settings that reach the stack but not the spec: a change of any of them re-applies the stack.
STACK_SETTINGS = ("dashboard", "topic_kms_key", "stack_policy_body", "role_arn", "notification_arns")

KMS_KEY = re.compile(r"^(alias/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
                     r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+))\Z")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}\Z")
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")


def needs_facts(settings):
    """True when the inventory does not say what the endpoint is (no variants): SageMaker must be asked."""
    return not settings.get(PREFIX + "variants")


def spec_from_settings(settings, facts=None, unknown=()):
    """The endpoint's spec from its checked settings; `facts` (endpoint_type, multi_model, variants,
    inference_components, as sagemaker_facts reads them) replace the inventory's. Raises SpecError naming the
    endpoint and the field."""
    facts = facts or {}
    value = dict((key, facts[key] if key in facts else settings.get(PREFIX + key)) for key in FACT_KEYS)
    endpoint = settings[PREFIX + "endpoint_name"]
    spec = build_spec(
        endpoint, settings[PREFIX + "region"], variants=value["variants"],
        metric_layers=[(n, settings.get(n)) for n in METRIC_LAYERS],
        subscriber_layers=[(n, settings.get(n)) for n in SUBSCRIBER_LAYERS],
        stack_prefix=settings[PREFIX + "stack_prefix"], ok_actions=settings[PREFIX + "ok_actions"],
        tags=settings[PREFIX + "tags"], variables_prefix=sorted(settings), unknown_variables=list(unknown),
        endpoint_type=value["endpoint_type"], multi_model=value["multi_model"],
        inference_components=value["inference_components"], instance_type=settings.get(PREFIX + "instance_type") or None,
        composite=settings[PREFIX + "composite"], notify=settings[PREFIX + "notify"])
    problems = []
    kms_key = settings.get(PREFIX + "topic_kms_key") or ""
    if kms_key and not KMS_KEY.match(kms_key):
        problems.append(("topic_kms_key", "%r is not a KMS key id, key ARN, alias/NAME or alias ARN" % kms_key))
    role_arn = settings.get(PREFIX + "role_arn") or ""
    if role_arn and not ROLE_ARN.match(role_arn):
        problems.append(("role_arn", "%r is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)" % role_arn))
    for i, arn in enumerate(settings.get(PREFIX + "notification_arns") or []):
        if not isinstance(arn, str) or not TOPIC_ARN.match(arn):
            problems.append(("notification_arns[%d]" % i, "%r is not an SNS topic ARN" % (arn,)))
    if problems:
        raise SpecError(endpoint, ["%s: %s" % p for p in problems])
    return spec


def dashboard_of(spec):
    """The endpoint's dashboard (body, body_json, widget_count), as the sagemaker_dashboard module computes it.
    Raises DashboardError."""
    return dashboard_result({
        "endpoint_name": spec["endpoint"], "region": spec["region"], "variants": spec["variants"],
        "endpoint_metrics": spec["endpoint_metrics"], "components": spec["components"],
        "composite": spec["composite"]["name"] if spec["composite"] else None, "alarms": spec["alarms"],
        "metrics": None, "account_id": ACCOUNT_PLACEHOLDER, "topic_name": spec["topic_name"]})


def _metric_count(widgets):
    return sum(len((w.get("properties") or {}).get("metrics") or []) for w in widgets)


def fleet_entry(spec):
    return dict((k, spec[k]) for k in ("endpoint", "region", "variants", "alarms", "endpoint_metrics", "components"))


def describe(settings, spec, code_digest, facts_mark=None, facts=None):
    """What the rest of the run needs of one endpoint whose spec is known: the spec, its fingerprint, its cost
    usage, its fleet dashboard section, and the compact entry the plan compares with what is deployed.
    Raises SpecError or DashboardError (naming the endpoint)."""
    mode = settings[PREFIX + "dashboard"]
    stack = dict((k, settings.get(PREFIX + k)) for k in STACK_SETTINGS)
    stack["code"] = code_digest
    try:
        dashboard = dashboard_of(spec)
    except DashboardError as e:
        raise SpecError(spec["endpoint"], ["dashboard: %s" % e])
    entry = fleet_entry(spec)
    try:
        section = fleet_sections([entry])[0][1]
    except DashboardError as e:
        raise SpecError(spec["endpoint"], ["dashboard: %s" % e])
    described = {
        "spec": spec,
        "stack": stack,
        "fingerprint": stack_fingerprint(spec, stack),
        "usage": usage(spec, _metric_count(dashboard["body"]["widgets"]), own_dashboard=mode != "fleet",
                       fleet_section={"widgets": len(section), "metrics": _metric_count(section)}),
        "fleet_entry": entry if mode in ("fleet", "both") else None,
    }
    described["plan_entry"] = plan_entry(settings, spec, described["fingerprint"], facts_mark, code_digest, facts)
    return described


def plan_entry(settings, spec=None, fingerprint_value=None, facts_mark=None, code_digest=None, facts=None):
    """The compact entry monitoring_plan compares with what is deployed. For an endpoint to keep present it also
    carries the settings, the code digest and the SageMaker facts (for an endpoint the inventory names only) that
    its spec is built from: the plan builds the spec again for the endpoints that need a change, so that the
    per-endpoint results every endpoint keeps for the whole run stay small."""
    endpoint = settings[PREFIX + "endpoint_name"]
    entry = {
        "endpoint": endpoint,
        "region": settings[PREFIX + "region"],
        "stack_name": settings[PREFIX + "stack_prefix"] + endpoint,
        "state": settings[PREFIX + "state"],
        "profile": settings.get(PREFIX + "aws_profile") or "",
        "endpoint_url": settings.get(PREFIX + "aws_endpoint_url") or "",
        "termination_protection": bool(settings.get(PREFIX + "termination_protection")),
        "purge_subscriptions": bool(settings.get(PREFIX + "purge_subscriptions")),
        "discover": needs_facts(settings),
        "facts_mark": facts_mark,
        "fingerprint": fingerprint_value,
        "subscribers": [{"protocol": s["protocol"], "endpoint": s["endpoint"]}
                        for s in (spec or {}).get("subscribers") or []],
    }
    if settings[PREFIX + "state"] == "present":
        entry.update(settings=settings, code=code_digest, facts=facts)
    return entry

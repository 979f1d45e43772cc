# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merge and validate one endpoint's monitoring settings into a normalised spec.

Settings come in layers: the catalog's defaults, fleet-wide overrides (group_vars) and
per-endpoint overrides (host_vars). A per-metric override changes only the keys it names.
Every problem is reported with the endpoint and the variable path it came from, before any AWS
call is made.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import hashlib
import math
import re

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog

COLLECTION = "mlops.sagemaker_monitoring"
MANAGED_BY_TAG = "managed-by"
ENDPOINT_TAG = "sagemaker-endpoint"

# SageMaker's own pattern for endpoint and variant names.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
HTTPS_URL = re.compile(r"^https://[^/\s:]+(:\d+)?(/\S*)?$")
SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9_-]{1,80}(\.fifo)?$")
LAMBDA_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}(:[a-zA-Z0-9$_-]+)?$"
)
SUBSCRIBER_CHECKS = {
    "email": (EMAIL, "an email address"),
    "https": (HTTPS_URL, "an https:// URL"),
    "sqs": (SQS_ARN, "an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:QUEUE)"),
    "lambda": (LAMBDA_ARN, "a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"),
}
SUBSCRIBER_KEYS = ("protocol", "endpoint", "raw_message_delivery")

# CloudFormation's limits on one template.
MAX_RESOURCES = 500
MAX_TEMPLATE_BODY_BYTES = 51200
# Resources in each stack besides the alarms: topic, topic policy, dashboard.
FIXED_RESOURCES = 3

ONE_DAY = 86400
SEVEN_DAYS = 7 * ONE_DAY


class SpecError(ValueError):
    """Invalid settings for one endpoint; the message lists every problem found."""

    def __init__(self, endpoint, problems):
        self.endpoint = endpoint
        self.problems = list(problems)
        lines = ["endpoint %r: %s" % (endpoint, p) for p in self.problems]
        super(SpecError, self).__init__("\n".join(lines))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not (math.isnan(value) or math.isinf(value))


def _describe(value):
    return "%s %r" % (type(value).__name__, value)


def _suggest(name, choices):
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return " (did you mean %r?)" % close[0] if close else ""


def valid_period(period):
    return period in (10, 20, 30) or (period > 0 and period % 60 == 0)


class _Checker:
    """Collects problems; each names the variable path it is about."""

    def __init__(self):
        self.problems = []

    def add(self, field, message):
        self.problems.append("%s: %s" % (field, message))


def _check_alarm_key(check, field, key, value):
    """Add a problem if value is not valid for key; return whether it was valid."""
    before = len(check.problems)
    _check_alarm_value(check, field, key, value)
    return len(check.problems) == before


def _check_alarm_value(check, field, key, value):
    if key == "enabled":
        if not isinstance(value, bool):
            check.add(field, "must be true or false, got %s" % _describe(value))
    elif key == "threshold":
        if not _is_number(value):
            check.add(field, "must be a number, got %s" % _describe(value))
    elif key in ("period", "evaluation_periods", "datapoints_to_alarm"):
        if not _is_int(value) or value < 1:
            check.add(field, "must be a whole number of at least 1, got %s" % _describe(value))
        elif key == "period" and not valid_period(value):
            check.add(field, "%d is not a period CloudWatch accepts (10, 20, 30 or a multiple of 60 seconds)"
                      % value)
    elif key == "statistic":
        if not isinstance(value, str) or not (value in catalog.STATISTICS or PERCENTILE.match(value)):
            check.add(field, "must be one of %s or a percentile such as p99, got %s"
                      % (", ".join(catalog.STATISTICS), _describe(value)))
    elif key == "comparison":
        if not isinstance(value, str) or (value not in catalog.COMPARISONS and value not in catalog.COMPARISON_ALIASES):
            check.add(field, "must be one of %s (or %s), got %s" % (
                ", ".join(catalog.COMPARISONS), ", ".join(catalog.COMPARISON_ALIASES), _describe(value)))
    elif key == "treat_missing_data":
        if value not in catalog.TREAT_MISSING_DATA:
            check.add(field, "must be one of %s, got %s" % (", ".join(catalog.TREAT_MISSING_DATA), _describe(value)))


def _merge_metric_layers(check, layers):
    """Merge per-metric overrides over the catalog defaults, remembering where each value came from.

    layers: list of (variable_name, overrides) from lowest to highest precedence.
    Returns {metric: {key: (value, field)}}, and the set of metrics with an invalid value.
    """
    invalid = set()
    merged = {}
    for name, metric in catalog.METRICS.items():
        merged[name] = dict((k, (v, "default of %s.%s" % (name, k))) for k, v in metric.defaults.items())
    for var_name, overrides in layers:
        if overrides is None:
            continue
        if not isinstance(overrides, dict):
            check.add(var_name, "must be a mapping of metric name to settings, got %s" % _describe(overrides))
            continue
        for metric_name, settings in overrides.items():
            field = "%s.%s" % (var_name, metric_name)
            if metric_name not in catalog.METRICS:
                check.add(field, "unknown metric %r%s; known metrics: %s" % (
                    metric_name, _suggest(metric_name, catalog.METRICS), ", ".join(catalog.METRICS)))
                continue
            if settings is None:
                continue
            if not isinstance(settings, dict):
                check.add(field, "must be a mapping of alarm settings, got %s" % _describe(settings))
                continue
            for key, value in settings.items():
                key_field = "%s.%s" % (field, key)
                if key not in catalog.ALARM_KEYS:
                    check.add(key_field, "unknown setting %r%s; known settings: %s" % (
                        key, _suggest(key, catalog.ALARM_KEYS), ", ".join(catalog.ALARM_KEYS)))
                    continue
                if not _check_alarm_key(check, key_field, key, value):
                    invalid.add(metric_name)
                merged[metric_name][key] = (value, key_field)
    return merged, invalid


def _can_fire(metric, statistic, comparison, threshold):
    """Why an alarm with these settings can never change to ALARM, or None if it can."""
    # All SageMaker metrics are non-negative.
    if comparison == "LessThanThreshold" and threshold <= 0:
        return "no value is below %s" % threshold
    if comparison == "LessThanOrEqualToThreshold" and threshold < 0:
        return "no value is below %s" % threshold
    bounded = statistic in catalog.BOUNDED_STATISTICS or PERCENTILE.match(statistic)
    if metric.ceiling is not None and bounded:
        limit = metric.ceiling
        if (comparison == "GreaterThanThreshold" and threshold >= limit) or (
            comparison == "GreaterThanOrEqualToThreshold" and threshold > limit
        ):
            what = "an error rate from 0 to 1" if limit == 1 else "between 0 and %g" % limit
            return "%s of %s is %s, so it never exceeds %s" % (statistic, metric.name, what, threshold)
    return None


def _resolve_alarm(check, metric, settings):
    """Cross-field checks on one metric's merged, individually valid settings."""
    values = dict((k, v) for k, (v, _field) in settings.items())
    fields = dict((k, f) for k, (_v, f) in settings.items())
    if not values["enabled"]:
        return None
    comparison = catalog.COMPARISON_ALIASES.get(values["comparison"], values["comparison"])
    if fields["datapoints_to_alarm"].startswith("default") and not fields["evaluation_periods"].startswith("default"):
        # Only evaluation_periods was set: keep the catalog's "M out of N" shape within the new N.
        defaults = metric.defaults
        if defaults["datapoints_to_alarm"] == defaults["evaluation_periods"]:
            values["datapoints_to_alarm"] = values["evaluation_periods"]
        else:
            values["datapoints_to_alarm"] = min(defaults["datapoints_to_alarm"], values["evaluation_periods"])
    if values["datapoints_to_alarm"] > values["evaluation_periods"]:
        check.add(fields["datapoints_to_alarm"], "%d is greater than evaluation_periods (%d): the alarm could never fire"
                  % (values["datapoints_to_alarm"], values["evaluation_periods"]))
    window = values["period"] * values["evaluation_periods"]
    limit = ONE_DAY if values["period"] < 3600 else SEVEN_DAYS
    if window > limit:
        check.add(fields["evaluation_periods"], "period x evaluation_periods is %d seconds; CloudWatch allows at most %d"
                  % (window, limit))
    why_not = _can_fire(metric, values["statistic"], comparison, values["threshold"])
    if why_not:
        check.add(fields["threshold"], "the alarm could never fire: %s" % why_not)
    values["comparison"] = comparison
    return values


# Where one metric name ends with another (GPUMemoryUtilization, MemoryUtilization), the part before it ("GPU")
# must not end the variant's part of a logical id: variant "blue" + GPUMemoryUtilization and variant "blueGPU"
# + MemoryUtilization would share one id.
_AMBIGUOUS_ENDINGS = tuple(sorted(set(
    longer[:-len(shorter)] for longer in catalog.METRICS for shorter in catalog.METRICS
    if longer != shorter and longer.endswith(shorter))))


def _logical_suffix(name):
    """CloudFormation logical ids are alphanumeric; keep distinct names distinct."""
    cleaned = re.sub(r"[^A-Za-z0-9]", "", name)
    # The hash is lowercase hex, so a hashed name never ends with an ambiguous ending (they start upper case).
    if cleaned != name or cleaned.endswith(_AMBIGUOUS_ENDINGS):
        cleaned += hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]
    return cleaned


def _check_subscribers(check, var_name, subscribers):
    if subscribers is None:
        return []
    if not isinstance(subscribers, list):
        check.add(var_name, "must be a list of subscribers, got %s" % _describe(subscribers))
        return []
    result = []
    for i, sub in enumerate(subscribers):
        field = "%s[%d]" % (var_name, i)
        if not isinstance(sub, dict):
            check.add(field, "must be a mapping with protocol and endpoint, got %s" % _describe(sub))
            continue
        unknown = [k for k in sub if k not in SUBSCRIBER_KEYS]
        for key in unknown:
            check.add("%s.%s" % (field, key), "unknown setting %r%s; known settings: %s" % (
                key, _suggest(key, SUBSCRIBER_KEYS), ", ".join(SUBSCRIBER_KEYS)))
        protocol = sub.get("protocol")
        endpoint = sub.get("endpoint")
        if not isinstance(protocol, str) or protocol not in SUBSCRIBER_CHECKS:
            check.add(field + ".protocol", "must be one of %s, got %s" % (", ".join(sorted(SUBSCRIBER_CHECKS)),
                                                                          _describe(protocol)))
            continue
        pattern, what = SUBSCRIBER_CHECKS[protocol]
        if not isinstance(endpoint, str) or not pattern.match(endpoint):
            shown = "a %s" % type(endpoint).__name__ if protocol == "https" else _describe(endpoint)
            # Webhook URLs often carry tokens: never echo them.
            if protocol == "https" and isinstance(endpoint, str):
                shown = "a value that is not one (value hidden: it may hold a token)"
            check.add(field + ".endpoint", "must be %s for protocol %s, got %s" % (what, protocol, shown))
            continue
        raw = sub.get("raw_message_delivery", False)
        if not isinstance(raw, bool):
            check.add(field + ".raw_message_delivery", "must be true or false, got %s" % _describe(raw))
            continue
        if raw and protocol not in ("sqs", "https"):
            check.add(field + ".raw_message_delivery", "is only possible for sqs and https subscribers")
            continue
        result.append({"protocol": protocol, "endpoint": endpoint, "raw_message_delivery": raw})
    return result


def build_spec(endpoint, region, variants=None, metric_layers=(), subscriber_layers=(),
               stack_prefix="sagemaker-monitoring-", ok_actions=False, tags=None,
               variables_prefix=None, unknown_variables=()):
    """Validate and merge one endpoint's settings.

    metric_layers / subscriber_layers: sequences of (variable_name, value), lowest precedence first.
    unknown_variables: variable names with the role's prefix that the role does not know (misspellings).
    Raises SpecError naming the endpoint and every bad field.
    """
    check = _Checker()
    for name in unknown_variables:
        known = variables_prefix or ()
        check.add(name, "unknown variable%s; it would be ignored" % _suggest(name, known))

    if not isinstance(endpoint, str) or not SAGEMAKER_NAME.match(endpoint):
        check.add("endpoint_name", "%s is not a SageMaker endpoint name (1-63 letters, digits and hyphens, "
                  "starting with a letter or digit)" % _describe(endpoint))
    if not isinstance(region, str) or not REGION.match(region):
        check.add("region", "%s is not an AWS region name such as eu-west-1" % _describe(region))

    if variants is None:
        variants = ["AllTraffic"]
    if not isinstance(variants, list) or not variants:
        check.add("variants", "must be a non-empty list of production variant names, got %s" % _describe(variants))
        variants = []
    for i, variant in enumerate(variants):
        if not isinstance(variant, str) or not SAGEMAKER_NAME.match(variant):
            check.add("variants[%d]" % i, "%s is not a production variant name" % _describe(variant))
    names = [v for v in variants if isinstance(v, str)]
    if len(set(names)) != len(names):
        check.add("variants", "lists a variant more than once: %s" % variants)
    variants = names  # the others are reported above

    if not isinstance(ok_actions, bool):
        check.add("ok_actions", "must be true or false, got %s" % _describe(ok_actions))
    if tags is None:
        tags = {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        check.add("tags", "must be a mapping of strings to strings, got %s" % _describe(tags))
        tags = {}
    for reserved in (MANAGED_BY_TAG, ENDPOINT_TAG):
        if reserved in tags:
            check.add("tags.%s" % reserved, "is set by the collection itself")

    stack_name = "%s%s" % (stack_prefix, endpoint)
    endpoint_ok = isinstance(endpoint, str) and SAGEMAKER_NAME.match(endpoint)
    if endpoint_ok and (not isinstance(stack_prefix, str) or not STACK_NAME.match(stack_name)):
        check.add("stack_prefix", "%r + the endpoint name gives %r, which CloudFormation refuses as a stack name "
                  "(a letter, then letters, digits and hyphens, 128 at most)" % (stack_prefix, stack_name))

    merged, invalid_metrics = _merge_metric_layers(check, metric_layers)
    subscribers = []
    seen = set()
    for var_name, subs in subscriber_layers:
        for sub in _check_subscribers(check, var_name, subs):
            key = (sub["protocol"], sub["endpoint"])
            if key not in seen:
                seen.add(key)
                subscribers.append(sub)

    alarms = []
    for metric_name, metric in catalog.METRICS.items():
        if metric_name in invalid_metrics:
            continue
        values = _resolve_alarm(check, metric, merged[metric_name])
        if values is None:
            continue
        for variant in variants:
            alarms.append({
                "name": "%s-%s-%s" % (endpoint, variant, metric_name),
                "logical_id": "Alarm%s%s" % (_logical_suffix(variant), metric_name),
                "metric": metric_name,
                "namespace": metric.namespace,
                "unit": metric.unit,
                "variant": variant,
                "dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                "threshold": values["threshold"],
                "period": values["period"],
                "evaluation_periods": values["evaluation_periods"],
                "datapoints_to_alarm": values["datapoints_to_alarm"],
                "statistic": values["statistic"],
                "comparison": values["comparison"],
                "treat_missing_data": values["treat_missing_data"],
                "description": "%s %s of %s on %s/%s. %s" % (
                    metric_name, catalog.COMPARISONS[values["comparison"]], values["threshold"],
                    endpoint, variant, metric.runbook),
            })

    resources = len(alarms) + FIXED_RESOURCES
    if resources > MAX_RESOURCES:
        check.add("variants", "%d variants x %d alarms make %d resources; a CloudFormation stack holds at most %d"
                  % (len(variants), len(alarms) // max(len(variants), 1), resources, MAX_RESOURCES))

    if check.problems:
        raise SpecError(endpoint, check.problems)

    all_tags = dict(tags)
    all_tags[MANAGED_BY_TAG] = COLLECTION
    all_tags[ENDPOINT_TAG] = endpoint
    return {
        "endpoint": endpoint,
        "region": region,
        "variants": list(variants),
        "stack_name": stack_name,
        "topic_name": stack_name,
        "dashboard_name": "%s-%s" % (stack_name, region),
        "ok_actions": ok_actions,
        "tags": dict(sorted(all_tags.items())),
        "alarms": alarms,
        "subscribers": subscribers,
    }


def check_template_size(endpoint, body):
    """The rendered template must fit CloudFormation's inline body limit."""
    size = len(body.encode("utf-8"))
    if size > MAX_TEMPLATE_BODY_BYTES:
        raise SpecError(endpoint, ["template: the rendered template is %d bytes; CloudFormation accepts at most %d "
                                   "inline. Enable fewer metrics or variants." % (size, MAX_TEMPLATE_BODY_BYTES)])

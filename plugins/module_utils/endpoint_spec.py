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

import collections
import difflib
import hashlib
import math
import re

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import catalog
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.instance_types import (
    NEURON_FAMILIES,
    instance_counts,
    instance_family,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.regions import REGION_NAME, region_problem

COLLECTION = "mlops.sagemaker_monitoring"
MANAGED_BY_TAG = "managed-by"
ENDPOINT_TAG = "sagemaker-endpoint"

# SageMaker's own pattern for endpoint and variant names.
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")
STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}\Z")
# Every pattern matches the whole string (\Z, not $, which also matches before a trailing newline) and only ASCII
# digits ([0-9], not \d, which also matches other scripts' digits).
REGION = REGION_NAME
PERCENTILE = re.compile(r"^p([0-9]{1,2}(\.[0-9]{1,2})?|100)\Z")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+\Z")
HTTPS_URL = re.compile(r"^https://[^/\s:]+(:[0-9]{1,5})?(/\S*)?\Z")
SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[a-zA-Z0-9_-]{1,80}(\.fifo)?\Z")
LAMBDA_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[a-zA-Z0-9_-]{1,64}(:[a-zA-Z0-9$_-]+)?\Z"
)
SUBSCRIBER_CHECKS = {
    "email": (EMAIL, "an email address"),
    "https": (HTTPS_URL, "an https:// URL"),
    "sqs": (SQS_ARN, "an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:QUEUE)"),
    "lambda": (LAMBDA_ARN, "a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"),
}
SUBSCRIBER_KEYS = ("protocol", "endpoint", "raw_message_delivery", "severities")
VARIANT_KEYS = ("name", "instance_type", "instance_count", "vcpus", "gpus", "serverless")
SERVERLESS_KEYS = ("memory_size_mb", "max_concurrency", "provisioned_concurrency")
NOTIFY_CHOICES = ("alarms", "composite", "both")
# Where the alarms' actions go: the endpoint stack's own topic, or topics the user gives per severity (which the
# collection reads but never changes, nor their subscriptions).
TOPIC_MODES = ("per_endpoint", "shared", "existing")
TOPIC_ARN = re.compile(r"^arn:(aws[a-z-]*):sns:([a-z0-9-]+):[0-9]{12}:([A-Za-z0-9_-]{1,256})\Z")
# CloudWatch: at most 100 children in a composite alarm's rule, a rule of at most 10,240 characters.
MAX_COMPOSITE_CHILDREN = 100
MAX_ALARM_RULE = 10240

# CloudFormation's limits on one template.
MAX_RESOURCES = 500
MAX_TEMPLATE_BODY_BYTES = 51200
# Resources in each stack besides the alarms: topic, topic policy, dashboard.
FIXED_RESOURCES = 3

# CloudFormation's stack tags (botocore's model of CreateStack: Tags, TagKey, TagValue); the collection adds two.
COLLECTION_TAGS = (MANAGED_BY_TAG, ENDPOINT_TAG)
MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256

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
    if isinstance(value, int):
        return True  # however large: _fits_double says whether CloudWatch takes it
    return not (math.isnan(value) or math.isinf(value))


def _fits_double(value):
    """Whether CloudWatch, whose thresholds are doubles, can take the number: not beyond about 1.8e308."""
    try:
        return not math.isinf(float(value))
    except OverflowError:
        return False


def _type_name(value):
    """The name of the value's plain type: Ansible's controller hands over subclasses of str, int, dict... that
    carry its data tags, whose names mean nothing to the person who wrote the value."""
    for kind in type(value).__mro__:
        if kind.__module__ == "builtins":
            return kind.__name__
    return type(value).__name__


def _describe(value):
    if value is None:
        return "null"  # as YAML writes it (or an empty value)
    return "%s %r" % (_type_name(value), value)


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
        elif not _fits_double(value):
            check.add(field, "%s is beyond the largest number CloudWatch takes (about 1.8e308)" % value)
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
    elif key == "raw":
        if not isinstance(value, bool):
            check.add(field, "must be true or false, got %s" % _describe(value))
    elif key == "min_invocations":
        if value is not None and (not _is_int(value) or value < 1):
            check.add(field, "must be a whole number of at least 1 (or null), got %s" % _describe(value))
        elif value is not None and not _fits_double(value):
            check.add(field, "%s is beyond the largest number CloudWatch takes (about 1.8e308)" % value)
    elif key == "anomaly_band":
        if value is not None and (not _is_number(value) or value <= 0):
            check.add(field, "must be a positive number of standard deviations (or null), got %s" % _describe(value))
        elif value is not None and not _fits_double(value):
            check.add(field, "%s is beyond the largest number CloudWatch takes (about 1.8e308)" % value)
    elif key == "severity":
        if value not in catalog.SEVERITIES:
            check.add(field, "must be one of %s, got %s" % (", ".join(catalog.SEVERITIES), _describe(value)))
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


def _user_ceiling(metric, raw):
    """Highest value the alarm's compared quantity can take, in the units of the user's threshold."""
    if raw or metric.scale in (catalog.SCALE_NONE, catalog.SCALE_MS):
        return metric.ceiling
    return 100.0  # percent: per vCPU, per GPU, of one, of requests


def _can_fire(metric, statistic, comparison, threshold, raw=True):
    """Why an alarm with these settings can never change to ALARM, or None if it can."""
    # All SageMaker metrics are non-negative.
    if comparison == "LessThanThreshold" and threshold <= 0:
        return "no value is below %s" % threshold
    if comparison == "LessThanOrEqualToThreshold" and threshold < 0:
        return "no value is below %s" % threshold
    rate = metric.scale == catalog.SCALE_ERROR_RATE and not raw
    bounded = rate or statistic in catalog.BOUNDED_STATISTICS or PERCENTILE.match(statistic)
    limit = _user_ceiling(metric, raw)
    if limit is not None and bounded:
        if (comparison == "GreaterThanThreshold" and threshold >= limit) or (
            comparison == "GreaterThanOrEqualToThreshold" and threshold > limit
        ):
            what = "an error rate from 0 to 1" if limit == 1 else "between 0 and %g" % limit
            if rate:
                return "the error rate of %s is a percentage of requests, so it never exceeds %s" % (
                    metric.name, threshold)
            return "%s of %s is %s, so it never exceeds %s" % (statistic, metric.name, what, threshold)
    return None


def _always_fires(metric, statistic, comparison, threshold, raw=True):
    """Why an alarm with these settings would be in ALARM whenever there is data, or None if it would not."""
    # All SageMaker metrics are non-negative.
    if comparison == "GreaterThanThreshold" and threshold < 0:
        return "no value of %s is below 0, so every value is above %s" % (metric.name, threshold)
    if comparison == "GreaterThanOrEqualToThreshold" and threshold <= 0:
        return "no value of %s is below 0, so every value is at least %s" % (metric.name, threshold)
    rate = metric.scale == catalog.SCALE_ERROR_RATE and not raw
    bounded = rate or statistic in catalog.BOUNDED_STATISTICS or PERCENTILE.match(statistic)
    limit = _user_ceiling(metric, raw)
    if limit is not None and bounded:
        if (comparison == "LessThanThreshold" and threshold > limit) or (
            comparison == "LessThanOrEqualToThreshold" and threshold >= limit
        ):
            below = "always below" if comparison == "LessThanThreshold" else "never above"
            if rate:
                return "the error rate of %s is a percentage of requests, so it is %s %s" % (
                    metric.name, below, threshold)
            return "%s of %s is between 0 and %g, so it is %s %s" % (statistic, metric.name, limit, below, threshold)
    return None


def _resolve_alarm(check, metric, settings):
    """Cross-field checks on one metric's merged, individually valid settings."""
    values = dict((k, v) for k, (v, _field) in settings.items())
    fields = dict((k, f) for k, (_v, f) in settings.items())
    if not values["enabled"]:
        if values["anomaly_band"] is not None and not fields["anomaly_band"].startswith("default"):
            check.add(fields["anomaly_band"], "an anomaly-detection alarm needs %s enabled (enabled: true)"
                      % metric.name)
        return None
    comparison = catalog.COMPARISON_ALIASES.get(values["comparison"], values["comparison"])
    if metric.scale == catalog.SCALE_ERROR_RATE and not values["raw"] and not fields["statistic"].startswith("default"):
        check.add(fields["statistic"], "an error-rate alarm divides the Sum of errors by the Sum of invocations; "
                  "to alarm on a statistic of %s itself, set raw: true" % metric.name)
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
    if values["period"] > limit:
        check.add(fields["period"], "%d seconds is longer than CloudWatch evaluates an alarm over (at most %d seconds)"
                  % (values["period"], limit))
    elif window > limit:
        check.add(fields["evaluation_periods"], "period x evaluation_periods is %d seconds; CloudWatch allows at most %d"
                  % (window, limit))
    if values["anomaly_band"] is not None and not metric.anomaly:
        check.add(fields["anomaly_band"], "anomaly-detection alarms are offered for %s only" % ", ".join(
            m.name for m in catalog.METRICS.values() if m.anomaly))
    set_for_metric = values["min_invocations"] is not None and not fields["min_invocations"].startswith("default")
    if set_for_metric and (metric.scale != catalog.SCALE_ERROR_RATE or values["raw"]):
        check.add(fields["min_invocations"], "only applies to error-rate alarms (Invocation4XXErrors, "
                  "Invocation5XXErrors without raw: true)")
    why_not = _can_fire(metric, values["statistic"], comparison, values["threshold"], raw=values["raw"])
    always = _always_fires(metric, values["statistic"], comparison, values["threshold"], raw=values["raw"])
    if why_not:
        check.add(fields["threshold"], "the alarm could never fire: %s" % why_not)
    elif always:
        check.add(fields["threshold"], "the alarm would always be in ALARM: %s (%s)" % (always, comparison))
    values["comparison"] = comparison
    return values


# Names of what a stack holds. SageMaker names (endpoints, variants, inference components) are letters, digits and
# hyphens; the separator "_" is none of them, so the parts of a name never run into each other and two endpoints'
# names never meet (with "-", endpoint cola + variant b-AllTraffic and endpoint cola-b + variant AllTraffic made one
# alarm name). The common prefix lets a listing by name prefix (DescribeAlarms, ListDashboards) see only the
# collection's. It does not depend on endpoint_monitoring_stack_prefix, which names the stack only.
#   alarms     sagemaker-monitoring_<endpoint>_<metric>              endpoint-level metrics (asynchronous backlog)
#              sagemaker-monitoring_<endpoint>_<variant>_<metric>    per production variant
#              sagemaker-monitoring_<endpoint>_<component>_<metric>  per inference component (metrics of their own)
#              <alarm above>_anomaly                                 its anomaly-detection sibling
#              sagemaker-monitoring_<endpoint>_health                the composite alarm
#   topic      sagemaker-monitoring_<endpoint>                       (alarms and topics are regional)
#   dashboard  sagemaker-monitoring_<endpoint>_<region>              (dashboards are global: the region tells apart)
# No catalog metric is named "health" or "anomaly", so the last part says which of these a name is. With SageMaker's
# 63 characters at most per name, the longest alarm name is 201 characters.
NAME_PREFIX = "sagemaker-monitoring"
NAME_SEPARATOR = "_"
ANOMALY_SUFFIX = "anomaly"
HEALTH_SUFFIX = "health"
HEALTH_SEVERITY = "critical"  # the endpoint's one signal: something of it is in ALARM
# What AWS allows: (most characters, service that says so) for alarm, dashboard and topic names.
NAME_LIMITS = {"alarm": (255, "CloudWatch"), "dashboard": (255, "CloudWatch"), "topic": (256, "SNS")}


def names_prefix():
    """What the name of every alarm, topic and dashboard of the collection starts with."""
    return NAME_PREFIX + NAME_SEPARATOR


def resource_name(endpoint, *parts):
    """sagemaker-monitoring_<endpoint>[_<part>...]"""
    return NAME_SEPARATOR.join([NAME_PREFIX] + [str(p) for p in (endpoint,) + parts])


def topic_name(endpoint):
    return resource_name(endpoint)


# topic_mode shared: one stack per region holds one topic per severity, sagemaker-monitoring_shared_<severity>; no
# endpoint's topic has that name (endpoint names hold no "_"). The stack's name starts with the default stack prefix
# and a "-", which no endpoint name starts with, so it is no endpoint's stack (and the IAM policies' stack pattern
# sagemaker-monitoring-* covers it).
SHARED_NAME = "shared"
SHARED_TOPICS_STACK = NAME_PREFIX + "--shared-topics"


def shared_topic_name(severity):
    return resource_name(SHARED_NAME, severity)


def shared_topic_target(severity):
    """What an alarm's actions hold in topic_mode shared: the ARN of its region's shared topic of the severity, which
    CloudFormation completes with the stack's own partition, region and account."""
    return {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:" + shared_topic_name(severity)}


def dashboard_name(endpoint, region):
    return resource_name(endpoint, region)


def spec_names(spec, dashboard=True):
    """(kind, name) of every named resource the endpoint's stack holds: its alarms (the composite too), its topic
    and, unless the endpoint is shown on fleet dashboards only (dashboard false), its dashboard."""
    names = [("alarm", a["name"]) for a in spec["alarms"]]
    if spec.get("composite"):
        names.append(("alarm", spec["composite"]["name"]))
    if spec.get("topic_name"):
        names.append(("topic", spec["topic_name"]))
    if dashboard:
        names.append(("dashboard", spec["dashboard_name"]))
    return names


def _check_name_lengths(check, names):
    """Names past AWS's limits, the longest of each kind: unreachable with SageMaker's own limits and this prefix,
    but a stack that held one would fail half-way."""
    longest = {}
    for kind, name in names:
        if len(name) > NAME_LIMITS[kind][0] and len(name) > len(longest.get(kind, "")):
            longest[kind] = name
    for kind in sorted(longest):
        limit, service = NAME_LIMITS[kind]
        check.add("endpoint_name", "%s name %s is %d characters; %s allows %d" % (
            kind, longest[kind], len(longest[kind]), service, limit))


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


def _check_subscribers(check, var_name, subscribers, topic_mode="per_endpoint"):
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
            shown = "a %s" % _type_name(endpoint) if protocol == "https" else _describe(endpoint)
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
        subscriber = {"protocol": protocol, "endpoint": endpoint, "raw_message_delivery": raw}
        # (in topic_mode existing the subscribers are refused as a whole)
        if "severities" in sub and topic_mode != "existing":
            severities = _check_severities(check, field + ".severities", sub["severities"], topic_mode)
            if severities is None:
                continue
            if topic_mode == "shared":
                subscriber["severities"] = severities
        result.append(subscriber)
    return result


def _check_severities(check, field, severities, topic_mode):
    """The severities a subscriber of topic_mode shared is subscribed for, in catalog order (None: refused). In
    per_endpoint mode the endpoint's one topic carries every severity, so only all of them can be asked for."""
    known = isinstance(severities, list) and severities and all(
        isinstance(s, str) and s in catalog.SEVERITIES for s in severities)
    if not known:
        check.add(field, "must be a non-empty list of severities (%s), got %s"
                  % (", ".join(catalog.SEVERITIES), _describe(severities)))
        return None
    chosen = [s for s in catalog.SEVERITIES if s in severities]
    if topic_mode != "shared" and len(chosen) < len(catalog.SEVERITIES):
        check.add(field, "%s: only topic_mode shared routes by severity; with topic_mode %s every alarm of the "
                  "endpoint notifies its one topic (remove severities, or set endpoint_monitoring_topic_mode: shared)"
                  % (_describe(severities), topic_mode))
        return None
    return chosen


def _check_tags(check, tags):
    """The user's tags that CloudFormation takes on a stack (and puts on the stack's resources); the others are
    reported, each under its own key."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        check.add("tags", "must be a mapping of tag keys to values, got %s" % _describe(tags))
        return {}
    good = {}
    for key, value in tags.items():
        field = "tags.%s" % key
        if not isinstance(key, str):
            check.add("tags", "tag keys must be strings (quote it: '%s'), got %s" % (key, _describe(key)))
        elif key in COLLECTION_TAGS:
            check.add(field, "is set by the collection itself")
        elif not key:
            check.add("tags", "a tag key is empty; CloudFormation takes tag keys of 1 to %d characters" % MAX_TAG_KEY)
        elif len(key) > MAX_TAG_KEY:
            check.add(field, "the key is %d characters long; CloudFormation takes tag keys of 1 to %d characters"
                      % (len(key), MAX_TAG_KEY))
        elif key.lower().startswith("aws:"):
            check.add(field, "tag keys starting with aws: are reserved for AWS's own tags")
        elif not isinstance(value, str):
            hint = " (quote it: '%s')" % value if _is_number(value) else ""
            check.add(field, "must be a string%s, got %s" % (hint, _describe(value)))
        elif not value:
            check.add(field, "the value is empty; CloudFormation takes tag values of 1 to %d characters"
                      % MAX_TAG_VALUE)
        elif len(value) > MAX_TAG_VALUE:
            check.add(field, "the value is %d characters long; CloudFormation takes tag values of 1 to %d characters"
                      % (len(value), MAX_TAG_VALUE))
        else:
            good[key] = value
    given = len([k for k in tags if k not in COLLECTION_TAGS])
    if given + len(COLLECTION_TAGS) > MAX_TAGS:
        check.add("tags", "%d tags and the collection's %d (%s) make %d; CloudFormation takes at most %d on a stack"
                  % (given, len(COLLECTION_TAGS), ", ".join(COLLECTION_TAGS), given + len(COLLECTION_TAGS), MAX_TAGS))
    return good


def _check_serverless(check, field, value):
    if value is None:
        return None
    if not isinstance(value, dict):
        check.add(field, "must be a mapping (%s), got %s" % (", ".join(SERVERLESS_KEYS), _describe(value)))
        return None
    result = {"memory_size_mb": None, "max_concurrency": None, "provisioned_concurrency": 0}
    for key, item in value.items():
        if key not in SERVERLESS_KEYS:
            check.add("%s.%s" % (field, key), "unknown setting %r%s; known settings: %s" % (
                key, _suggest(key, SERVERLESS_KEYS), ", ".join(SERVERLESS_KEYS)))
        elif item is not None and (not _is_int(item) or item < 0):
            check.add("%s.%s" % (field, key), "must be a whole number, got %s" % _describe(item))
        else:
            result[key] = item or (0 if key == "provisioned_concurrency" else item)
    return result


def _normalise_variants(check, variants, default_instance_type):
    """Variants are names or mappings; the result is a list of mappings with vcpus and gpus known if possible."""
    if variants is None:
        variants = ["AllTraffic"]
    if not isinstance(variants, list) or not variants:
        check.add("variants", "must be a non-empty list of production variants, got %s" % _describe(variants))
        return []
    result = []
    for i, variant in enumerate(variants):
        field = "variants[%d]" % i
        given_as_name = isinstance(variant, str)
        if given_as_name:
            variant = {"name": variant}
        if not isinstance(variant, dict):
            check.add(field, "%s is not a production variant name or mapping" % _describe(variant))
            continue
        for key in variant:
            if key not in VARIANT_KEYS:
                check.add("%s.%s" % (field, key), "unknown setting %r%s; known settings: %s" % (
                    key, _suggest(key, VARIANT_KEYS), ", ".join(VARIANT_KEYS)))
        name = variant.get("name")
        if not isinstance(name, str) or not SAGEMAKER_NAME.match(name):
            # A plain name is the entry itself; only a mapping has a name key to point at.
            check.add(field + ("" if given_as_name else ".name"),
                      "%s is not a production variant name" % _describe(name))
            continue
        instance_type = variant.get("instance_type") or default_instance_type or None
        if instance_type is not None and not isinstance(instance_type, str):
            check.add(field + ".instance_type", "must be a string such as ml.m5.xlarge, got %s" % _describe(instance_type))
            instance_type = None
        vcpus, gpus = instance_counts(instance_type)
        for key, counted in (("vcpus", vcpus), ("gpus", gpus)):
            if variant.get(key) is not None:
                if not _is_int(variant[key]) or variant[key] < 0:
                    check.add("%s.%s" % (field, key), "must be a whole number, got %s" % _describe(variant[key]))
                    continue
                if key == "vcpus":
                    vcpus = variant[key]
                else:
                    gpus = variant[key]
        if variant.get("vcpus") is not None and variant.get("gpus") is None and gpus is None:
            gpus = 0  # counts given by hand without GPUs: a CPU instance
        count = variant.get("instance_count")
        if count is not None and (not _is_int(count) or count < 0):
            check.add(field + ".instance_count", "must be a whole number, got %s" % _describe(count))
        result.append({
            "name": name,
            "instance_type": instance_type,
            "instance_count": count,
            "vcpus": vcpus,
            "gpus": gpus,
            # Neuron devices (Inferentia, Trainium) publish no GPU metrics.
            "gpu_metrics": bool(gpus) and instance_family(instance_type) not in NEURON_FAMILIES,
            "serverless": _check_serverless(check, field + ".serverless", variant.get("serverless")),
        })
    names = [v["name"] for v in result]
    if len(set(names)) != len(names):
        check.add("variants", "lists a variant more than once: %s" % names)
    return result


def _scaled_threshold(metric, values, variant):
    """CloudWatch's threshold for the user's one, or (None, problem)."""
    threshold = values["threshold"]
    if values["raw"] or metric.scale in (catalog.SCALE_NONE, catalog.SCALE_ERROR_RATE):
        return threshold, None
    if metric.scale == catalog.SCALE_MS:
        return threshold * 1000, None
    if metric.scale == catalog.SCALE_PERCENT_OF_ONE:
        return threshold / 100.0, None
    count_key = "vcpus" if metric.scale == catalog.SCALE_PER_VCPU else "gpus"
    count = variant.get(count_key)
    if not count:
        return None, ("%s thresholds are per %s, and the %s of variant %r is not known: give its instance_type "
                      "(or %s), or set raw: true" % (metric.name, "vCPU" if count_key == "vcpus" else "GPU",
                                                     count_key, variant["name"], count_key))
    return threshold * count, None


def _number(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _dimensions(metric, endpoint, variant=None, component=None):
    if metric.dims == catalog.DIMS_COMPONENT:
        return [{"Name": "InferenceComponentName", "Value": component}]
    dims = [{"Name": "EndpointName", "Value": endpoint}]
    if metric.dims == catalog.DIMS_VARIANT:
        dims.append({"Name": "VariantName", "Value": variant})
    return dims


def _metric_query(query_id, metric, dimensions, period, stat, return_data=False):
    return {"Id": query_id, "ReturnData": return_data,
            "MetricStat": {"Metric": {"Namespace": metric.namespace, "MetricName": metric.name,
                                      "Dimensions": dimensions},
                           "Period": period, "Stat": stat}}


def _check_topic_mode(check, topic_mode, topic_arns, region, subscribers):
    """{severity: topic} the alarms notify: the user's topic ARNs (existing), the region's shared topics as an
    Fn::Sub of their ARN (shared), or {} (per_endpoint: the stack's own topic). region: the endpoint's, which the
    user's topics must be in (None: not known)."""
    if topic_mode not in TOPIC_MODES:
        check.add("endpoint_monitoring_topic_mode", "must be one of %s, got %s"
                  % (", ".join(TOPIC_MODES), _describe(topic_mode)))
        return {}
    topic_arns = topic_arns or {}
    field = "endpoint_monitoring_topic_arns"
    if not isinstance(topic_arns, dict):
        check.add(field, "must be a mapping of severity (%s) to SNS topic ARN, got %s"
                  % (", ".join(catalog.SEVERITIES), _describe(topic_arns)))
        return {}
    if topic_mode in ("per_endpoint", "shared"):
        if topic_arns:
            notified = {"per_endpoint": "the endpoint's own topic",
                        "shared": "the region's shared topic of their severity"}[topic_mode]
            check.add(field, "is only for topic_mode existing; with topic_mode %s the alarms notify %s (remove it, or "
                      "set endpoint_monitoring_topic_mode: existing)" % (topic_mode, notified))
        if topic_mode == "shared":
            return dict((severity, shared_topic_target(severity)) for severity in catalog.SEVERITIES)
        return {}
    for key in topic_arns:
        if key not in catalog.SEVERITIES:
            check.add("%s.%s" % (field, key), "unknown severity %r%s; the severities are %s"
                      % (key, _suggest(key, catalog.SEVERITIES), ", ".join(catalog.SEVERITIES)))
    partition = _partition_of(region) if region else None
    for severity in catalog.SEVERITIES:
        where = "%s.%s" % (field, severity)
        arn = topic_arns.get(severity)
        match = TOPIC_ARN.match(arn) if isinstance(arn, str) else None
        if arn is None:
            check.add(where, "is required with topic_mode existing: the SNS topic ARN the %s alarms notify" % severity)
        elif not match:
            check.add(where, "%s is not a standard SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME; CloudWatch cannot "
                      "notify a FIFO topic)" % _describe(arn))
        elif match.group(3).startswith(names_prefix()):
            check.add(where, "%s is a topic of the collection's own (named %s...): give topics you own, or set "
                      "endpoint_monitoring_topic_mode: shared for the region's shared topics"
                      % (arn, names_prefix()))
        elif region and (match.group(2) != region or match.group(1) != partition):
            check.add(where, "%s is not in the endpoint's region %s (partition %s): CloudWatch notifies topics of its "
                      "own region only" % (arn, region, partition))
    if subscribers:
        check.add("endpoint_monitoring_subscribers", "with topic_mode existing the collection never changes the "
                  "subscriptions of your topics: subscribe to them yourself and remove endpoint_monitoring_subscribers "
                  "(and the group's and the endpoint's)")
    return dict((severity, topic_arns.get(severity)) for severity in catalog.SEVERITIES)


def _partition_of(region):
    """The partition of a region, as its name tells (cn-..., us-gov-..., us-iso-...; the others are aws)."""
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"),
                              ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e"), ("us-isof-", "aws-iso-f")):
        if region.startswith(prefix):
            return partition
    return "aws"


def _make_alarms(endpoint, metric, values, scope, scope_name, dimensions, threshold, actions):
    """One alarm (and its anomaly-band sibling if asked for) for a metric in one scope."""
    units = "" if values["raw"] else catalog.SCALE_UNITS.get(metric.scale, "")
    shown = "%s%s" % (_number(values["threshold"]), " " + units if units else "")
    where = endpoint if scope == "endpoint" else "%s/%s" % (endpoint, scope_name)
    name_parts = (metric.name,) if scope == "endpoint" else (scope_name, metric.name)
    id_part = {"endpoint": "Endpoint", "variant": _logical_suffix(scope_name or ""),
               "component": "Component" + hashlib.sha1((scope_name or "").encode("utf-8")).hexdigest()[:8]}[scope]
    alarm = {
        "name": resource_name(endpoint, *name_parts),
        "logical_id": "Alarm%s%s" % (id_part, metric.name),
        "kind": "metric",
        "metric": metric.name,
        "namespace": metric.namespace,
        "unit": metric.unit,
        "scope": scope,
        "variant": scope_name if scope == "variant" else None,
        "component": scope_name if scope == "component" else None,
        "dimensions": dimensions,
        "threshold": _number(threshold),
        "display_threshold": shown,
        "statistic": values["statistic"],
        "period": values["period"],
        "evaluation_periods": values["evaluation_periods"],
        "datapoints_to_alarm": values["datapoints_to_alarm"],
        "comparison": values["comparison"],
        "treat_missing_data": values["treat_missing_data"],
        "actions": actions,
        "severity": values["severity"],
        "metric_count": 1,
        "description": "[%s] %s %s %s on %s. %s" % (
            values["severity"], metric.name, catalog.COMPARISONS[values["comparison"]], shown, where, metric.runbook),
    }
    if metric.scale == catalog.SCALE_ERROR_RATE and not values["raw"]:
        traffic = catalog.METRICS[catalog.TRAFFIC_METRIC]
        guard = values["min_invocations"] or 1
        alarm.update({
            "kind": "math",
            "statistic": "Sum",
            "metric_count": 2,
            "expression": "IF(invocations >= %d, 100 * errors / invocations, 0)" % guard,
            "metrics": [
                _metric_query("errors", metric, dimensions, values["period"], "Sum"),
                _metric_query("invocations", traffic, dimensions, values["period"], "Sum"),
                {"Id": "rate", "ReturnData": True, "Label": "%s rate (%%)" % metric.name,
                 "Expression": "IF(invocations >= %d, 100 * errors / invocations, 0)" % guard},
            ],
        })
        alarm["description"] = "[%s] %s rate %s %s%% of requests on %s (when at least %d requests per %d s). %s" % (
            values["severity"], metric.name, catalog.COMPARISONS[values["comparison"]], _number(values["threshold"]), where, guard,
            values["period"], metric.runbook)
    result = [alarm]
    band = values["anomaly_band"]
    if band is not None:
        comparison = ("GreaterThanUpperThreshold" if metric.scale == catalog.SCALE_MS
                      else "LessThanLowerOrGreaterThanUpperThreshold")
        result.append({
            "name": alarm["name"] + NAME_SEPARATOR + ANOMALY_SUFFIX,
            "logical_id": alarm["logical_id"] + "Anomaly",
            "kind": "anomaly",
            "metric": metric.name,
            "namespace": metric.namespace,
            "unit": metric.unit,
            "scope": scope,
            "variant": alarm["variant"],
            "component": alarm["component"],
            "dimensions": dimensions,
            "threshold": None,
            "display_threshold": "band of %s standard deviations" % _number(band),
            "band": band,
            "statistic": values["statistic"],
            "period": values["period"],
            "evaluation_periods": values["evaluation_periods"],
            "datapoints_to_alarm": values["datapoints_to_alarm"],
            "comparison": comparison,
            "treat_missing_data": values["treat_missing_data"],
            "actions": actions,
            "severity": values["severity"],
            "metric_count": 1,
            "metrics": [
                _metric_query("m1", metric, dimensions, values["period"], values["statistic"], return_data=True),
                {"Id": "band", "ReturnData": True, "Label": "expected %s" % metric.name,
                 "Expression": "ANOMALY_DETECTION_BAND(m1, %s)" % _number(band)},
            ],
            "description": "[%s] %s is outside its expected band (%s standard deviations) on %s. %s" % (
                values["severity"], metric.name, _number(band), where, metric.runbook),
        })
    return result


def fit_for_guardrails(alarm):
    """Whether an alarm suits SageMaker's deployment guardrails (AutoRollbackConfiguration of a blue/green or rolling
    update): a critical alarm on one variant's own metric, fixed threshold. Not an anomaly band (the new fleet has
    no history to learn from) nor a traffic alarm (traffic moves between fleets by design)."""
    fixed_threshold = alarm["kind"] in ("metric", "math")
    traffic = alarm["metric"] == catalog.TRAFFIC_METRIC
    return alarm["scope"] == "variant" and fixed_threshold and alarm["severity"] == "critical" and not traffic


def build_spec(endpoint, region, variants=None, metric_layers=(), subscriber_layers=(),
               stack_prefix="sagemaker-monitoring-", ok_actions=False, tags=None,
               variables_prefix=None, unknown_variables=(), endpoint_type="realtime", multi_model=False,
               inference_components=None, instance_type=None, composite=True, notify="alarms",
               allow_unlisted_region=False, topic_mode="per_endpoint", topic_arns=None):
    """Validate and merge one endpoint's settings.

    metric_layers / subscriber_layers: sequences of (variable_name, value), lowest precedence first.
    variants: names, or mappings with name, instance_type, instance_count, vcpus, gpus, serverless.
    unknown_variables: variable names with the role's prefix that the role does not know (misspellings).
    allow_unlisted_region: accept a region name botocore's partition data does not list (a region newer than it).
    topic_mode: per_endpoint (the alarms notify the stack's own topic), shared (the region's shared topic of their
    severity; each subscriber may name the severities it wants) or existing (topic_arns: {severity: ARN}, topics the
    user owns; the stack then holds no topic and the subscribers must be none).
    Raises SpecError naming the endpoint and every bad field.
    """
    check = _Checker()
    for name in unknown_variables:
        known = variables_prefix or ()
        check.add(name, "unknown variable%s; it would be ignored" % _suggest(name, known))

    if not isinstance(endpoint, str) or not SAGEMAKER_NAME.match(endpoint):
        check.add("endpoint_name", "%s is not a SageMaker endpoint name (1-63 letters, digits and hyphens, "
                  "starting with a letter or digit)" % _describe(endpoint))
    region_wrong = region_problem(region, allow_unlisted_region)
    if region_wrong:
        check.add("region", region_wrong)
    type_known = endpoint_type in catalog.ENDPOINT_TYPES
    if not type_known:
        check.add("endpoint_type", "must be one of %s, got %s" % (", ".join(catalog.ENDPOINT_TYPES),
                                                                  _describe(endpoint_type)))
        endpoint_type = "realtime"
    if not isinstance(multi_model, bool):
        check.add("multi_model", "must be true or false, got %s" % _describe(multi_model))
        multi_model = False
    components = inference_components or []
    if not isinstance(components, list) or not all(isinstance(c, str) and SAGEMAKER_NAME.match(c) for c in components):
        check.add("inference_components", "must be a list of inference component names, got %s"
                  % _describe(inference_components))
        components = []
    if len(set(components)) != len(components):
        # Same alarm names and logical ids twice: CloudFormation would keep one, or refuse the template.
        check.add("inference_components", "lists a component more than once: %s" % components)
        components = sorted(set(components), key=components.index)
    if notify not in NOTIFY_CHOICES:
        check.add("notify", "must be one of %s, got %s" % (", ".join(NOTIFY_CHOICES), _describe(notify)))
        notify = "alarms"
    if not isinstance(composite, bool):
        check.add("composite", "must be true or false, got %s" % _describe(composite))
        composite = True
    if notify != "alarms" and not composite:
        check.add("notify", "%r needs the composite alarm (composite: true)" % notify)

    variants = _normalise_variants(check, variants, instance_type)
    if endpoint_type == "serverless":
        for variant in variants:
            variant["serverless"] = variant["serverless"] or {
                "memory_size_mb": None, "max_concurrency": None, "provisioned_concurrency": 0}
    elif type_known:
        for i, variant in enumerate(variants):
            if variant["serverless"] is not None:
                check.add("variants[%d].serverless" % i, "is only for serverless endpoints; this endpoint's type is "
                          "%s (set endpoint_type: serverless, or remove it)" % endpoint_type)

    if not isinstance(ok_actions, bool):
        check.add("ok_actions", "must be true or false, got %s" % _describe(ok_actions))
    tags = _check_tags(check, tags)

    stack_name = "%s%s" % (stack_prefix, endpoint)
    endpoint_ok = isinstance(endpoint, str) and SAGEMAKER_NAME.match(endpoint)
    if endpoint_ok and (not isinstance(stack_prefix, str) or not STACK_NAME.match(stack_name)):
        check.add("stack_prefix", "%r + the endpoint name gives %r, which CloudFormation refuses as a stack name "
                  "(a letter, then letters, digits and hyphens, 128 at most)" % (stack_prefix, stack_name))
    elif endpoint_ok and stack_name == SHARED_TOPICS_STACK:
        check.add("stack_prefix", "%r + the endpoint name gives %r, the name of the stack of the shared topics "
                  "(topic_mode shared): choose another prefix" % (stack_prefix, stack_name))

    merged, invalid_metrics = _merge_metric_layers(check, metric_layers)
    subscribers = []
    seen = {}
    for var_name, subs in subscriber_layers:
        for sub in _check_subscribers(check, var_name, subs, topic_mode):
            key = (sub["protocol"], sub["endpoint"])
            if key not in seen:
                seen[key] = sub
                subscribers.append(sub)
            elif "severities" in seen[key]:
                # listed in two layers: subscribed for the severities of both
                wanted = set(seen[key]["severities"]) | set(sub.get("severities") or catalog.SEVERITIES)
                seen[key]["severities"] = [s for s in catalog.SEVERITIES if s in wanted]

    # (a region refused above is not compared with the topics' again)
    targets = _check_topic_mode(check, topic_mode, topic_arns, None if region_wrong else region, subscribers)

    profile = {"type": endpoint_type, "multi_model": multi_model, "inference_components": components}
    child_actions = notify in ("alarms", "both")
    for variant in variants:
        variant["metrics"] = [m.name for m in catalog.published_metrics(profile, variant)
                              if m.dims == catalog.DIMS_VARIANT]
    endpoint_metrics = sorted(set(m.name for v in variants for m in catalog.published_metrics(profile, v)
                                  if m.dims == catalog.DIMS_ENDPOINT), key=list(catalog.METRICS).index)
    component_metrics = sorted(set(m.name for v in variants for m in catalog.published_metrics(profile, v)
                                   if m.dims == catalog.DIMS_COMPONENT), key=list(catalog.METRICS).index)

    alarms = []
    for metric_name, metric in catalog.METRICS.items():
        if metric_name in invalid_metrics:
            continue
        values = _resolve_alarm(check, metric, merged[metric_name])
        if values is None:
            continue
        scopes = []
        if metric.dims == catalog.DIMS_VARIANT:
            scopes = [("variant", v["name"], v) for v in variants if metric_name in v["metrics"]]
        elif metric.dims == catalog.DIMS_ENDPOINT and metric_name in endpoint_metrics:
            scopes = [("endpoint", None, variants[0] if variants else {})]
        elif metric.dims == catalog.DIMS_COMPONENT and metric_name in component_metrics:
            scopes = [("component", c, {}) for c in components]
        for scope, scope_name, variant in scopes:
            threshold, problem = _scaled_threshold(metric, values, variant)
            if problem:
                field = "variants[%d]" % variants.index(variant)
                # A variant whose own settings were refused (instance_type: 5, a misspelt key) already has its
                # problem reported; "the vcpus are not known" would only repeat it.
                if not any(p.startswith(field + ".") for p in check.problems):
                    check.add(field, problem)
                continue
            if not _fits_double(threshold):
                # Within range as written, out of it in CloudWatch's unit (1e306 ms is 1e309 microseconds).
                field = merged[metric_name]["threshold"][1]
                if not any(p.startswith(field + ": ") for p in check.problems):
                    check.add(field, "%s %s is beyond the largest number CloudWatch takes (about 1.8e308) once scaled "
                              "to the metric's unit (%s)" % (values["threshold"], catalog.SCALE_UNITS[metric.scale],
                                                             metric.unit))
                continue
            dims = _dimensions(metric, endpoint, variant=scope_name, component=scope_name)
            alarms.extend(_make_alarms(endpoint, metric, values, scope, scope_name, dims, threshold, child_actions))

    # Each alarm's actions: the topic of its severity (None: the stack's own topic).
    for alarm in alarms:
        alarm["topic"] = targets.get(alarm["severity"])

    health = None
    if composite and alarms:
        if len(alarms) > MAX_COMPOSITE_CHILDREN:
            check.add("composite", "%d alarms; a composite alarm takes at most %d. Turn it off (composite: false) "
                      "or alarm on fewer metrics" % (len(alarms), MAX_COMPOSITE_CHILDREN))
        rule = " OR ".join('ALARM("%s")' % a["name"] for a in alarms)
        if len(rule) > MAX_ALARM_RULE:
            check.add("composite", "the health rule would be %d characters; CloudWatch allows %d"
                      % (len(rule), MAX_ALARM_RULE))
        health = {"name": resource_name(endpoint, HEALTH_SUFFIX), "logical_id": "HealthAlarm", "rule": rule,
                  "children": [a["name"] for a in alarms], "actions": notify in ("composite", "both"),
                  "severity": HEALTH_SEVERITY, "topic": targets.get(HEALTH_SEVERITY),
                  "description": "[%s] Any alarm of SageMaker endpoint %s is in ALARM. Subscribe here for one "
                                 "signal per endpoint; the dashboard shows which alarm it is."
                                 % (HEALTH_SEVERITY, endpoint)}

    resources = len(alarms) + FIXED_RESOURCES + (1 if health else 0)
    if resources > MAX_RESOURCES:
        check.add("variants", "%d variants x %d alarms make %d resources; a CloudFormation stack holds at most %d"
                  % (len(variants), len(alarms) // max(len(variants), 1), resources, MAX_RESOURCES))
    if endpoint_ok:
        _check_name_lengths(check, spec_names({"alarms": alarms, "composite": health,
                                               "topic_name": topic_name(endpoint),
                                               "dashboard_name": dashboard_name(endpoint, region)}))

    if check.problems:
        raise SpecError(endpoint, check.problems)

    guardrails = collections.OrderedDict(
        (v["name"], {"output": "GuardrailAlarms" + _logical_suffix(v["name"]),
                     "alarms": [a["name"] for a in alarms if fit_for_guardrails(a) and a["variant"] == v["name"]]})
        for v in variants)

    all_tags = dict(tags)
    all_tags[MANAGED_BY_TAG] = COLLECTION
    all_tags[ENDPOINT_TAG] = endpoint
    return {
        "endpoint": endpoint,
        "region": region,
        "endpoint_type": endpoint_type,
        "multi_model": multi_model,
        "variants": variants,
        "variant_names": [v["name"] for v in variants],
        "endpoint_metrics": endpoint_metrics,
        "components": [{"name": c, "metrics": component_metrics} for c in components],
        "stack_name": stack_name,
        "topic_mode": topic_mode,
        "topic_arns": targets,
        "topic_name": topic_name(endpoint) if topic_mode == "per_endpoint" else None,
        "dashboard_name": dashboard_name(endpoint, region),
        "ok_actions": ok_actions,
        "tags": dict(sorted(all_tags.items())),
        "alarms": alarms,
        "composite": health,
        "guardrails": guardrails,
        "subscribers": subscribers,
    }


def check_template_size(endpoint, body):
    """The rendered template must fit CloudFormation's inline body limit."""
    size = len(body.encode("utf-8"))
    if size > MAX_TEMPLATE_BODY_BYTES:
        raise SpecError(endpoint, ["template: the rendered template is %d bytes; CloudFormation accepts at most %d "
                                   "inline. Enable fewer metrics or variants." % (size, MAX_TEMPLATE_BODY_BYTES)])


def check_template_limits(endpoint, template, body):
    """The rendered template must fit CloudFormation's inline body and resource limits."""
    check_template_size(endpoint, body)
    resources = len(template.get("Resources", {}))
    if resources > MAX_RESOURCES:
        raise SpecError(endpoint, ["template: %d resources; CloudFormation allows %d" % (resources, MAX_RESOURCES)])

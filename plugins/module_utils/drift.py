# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is deployed against what the collection applied: drift, from the region's listings (pure functions).

A stack whose fingerprint says it holds what is wanted can still have drifted: an alarm's threshold changed in the
console, an alarm or the dashboard deleted, the topic's policy opened. The plan reads, per region, the
collection's alarms (one paged DescribeAlarms by the common name prefix, both alarm types), its dashboards
(ListDashboards: name and size) and, for a slice of the stacks per run, the topic's policy (GetTopicAttributes:
SNS has no batch read of policies), and compares them with what the endpoint's spec makes.

Both sides are put in one normal form first, in which a field AWS fills in with its default when it was not given
(DatapointsToAlarm, TreatMissingData, ActionsEnabled, a query's ReturnData) reads as that default, so that a clean
re-run reports no drift whichever server answers. The prepare step keeps, per endpoint, only a digest of each
alarm's normal form and the dashboard's size; the plan words the differences (from the spec, computed again) only
for an endpoint whose digests differ.

The repair is CloudFormation's own: a drift-aware change set (DeploymentMode REVERT_DRIFT) for the drifted
stacks only, so that the stack's record and AWS agree again and the runner needs no alarm or topic write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.catalog import SEVERITIES
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import ACCOUNT_PLACEHOLDER
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import shared_topic_target
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import fingerprint

# The stack's topic in an alarm's actions: its ARN is known only once the stack exists. A topic the user gives
# (topic_mode existing) is its own ARN on both sides; a shared topic (topic_mode shared) is the template's Fn::Sub.
TOPIC = "(the endpoint's topic)"
ACCOUNT_ID_LENGTH = 12  # every AWS account id has 12 digits
DESCRIPTION_LIMIT = 1024  # the template cuts an alarm's description to CloudWatch's limit
# AWS's defaults for what an alarm may leave out.
DEFAULT_TREAT_MISSING_DATA = "missing"
# The change set of a repair, and the calls the repair makes (the IAM policy test reads them).
CHANGE_SET_PREFIX = "sagemaker-monitoring-revert-drift-"
REVERT_DRIFT = "REVERT_DRIFT"
REPAIR_CALLS = ("CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet", "DescribeStacks",
                "UpdateTerminationProtection")
# The budget of a run where nothing changed, verification included: API calls per endpoint, as AWS pages them.
CALLS_PER_ENDPOINT = 0.2
POLICY_READ = "get_topic_attributes"

FIELD_ORDER = ("AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "Period",
               "Metrics", "Threshold", "ThresholdMetricId", "AlarmRule", "EvaluationPeriods", "DatapointsToAlarm",
               "ComparisonOperator", "TreatMissingData", "ActionsEnabled", "AlarmActions", "OKActions",
               "InsufficientDataActions")


def _dimensions(dimensions):
    return sorted([d["Name"], d["Value"]] for d in dimensions or [])


def _query(query):
    """A metric data query of an alarm in normal form. A label is kept only where the server echoes one."""
    normal = {"Id": query["Id"], "ReturnData": query.get("ReturnData", True)}
    if query.get("Expression"):
        normal["Expression"] = query["Expression"]
    if query.get("Label"):
        normal["Label"] = query["Label"]
    stat = query.get("MetricStat")
    if stat:
        metric = stat.get("Metric") or {}
        normal["MetricStat"] = {"Namespace": metric.get("Namespace"), "MetricName": metric.get("MetricName"),
                                "Dimensions": _dimensions(metric.get("Dimensions")), "Period": stat.get("Period"),
                                "Stat": stat.get("Stat")}
    return normal


def _shared_topics_of(alarm_arn):
    """{ARN: the template's Fn::Sub of it} of the shared topics in the alarm's own partition, region and account
    (topic_mode shared): the template gives them in that form, CloudWatch answers with the ARN."""
    parts = (alarm_arn or "").split(":")
    if len(parts) < 5:
        return {}
    partition, region, account = parts[1], parts[3], parts[4]
    shared = {}
    for severity in SEVERITIES:
        template = shared_topic_target(severity)["Fn::Sub"]
        arn = template.replace("${AWS::Partition}", partition).replace("${AWS::Region}", region)
        shared[arn.replace("${AWS::AccountId}", account)] = template
    return shared


def _actions(arns, topic_arn, shared=None):
    shared = shared or {}
    return sorted(TOPIC if arn == topic_arn else shared.get(arn, arn) for arn in arns or [])


def deployed_alarm(item, topic_arn):
    """A DescribeAlarms entry (MetricAlarms or CompositeAlarms) in normal form; the stack's topic ARN reads as
    TOPIC, a shared topic's as the template writes it."""
    evaluation_periods = item.get("EvaluationPeriods")
    shared = _shared_topics_of(item.get("AlarmArn"))
    normal = {
        "AlarmDescription": item.get("AlarmDescription") or "",
        "ActionsEnabled": item.get("ActionsEnabled", True),
        "AlarmActions": _actions(item.get("AlarmActions"), topic_arn, shared),
        "OKActions": _actions(item.get("OKActions"), topic_arn, shared),
        "InsufficientDataActions": _actions(item.get("InsufficientDataActions"), topic_arn, shared),
    }
    if "AlarmRule" in item:
        normal["AlarmRule"] = item["AlarmRule"]
        return normal
    normal.update(EvaluationPeriods=evaluation_periods,
                  DatapointsToAlarm=item.get("DatapointsToAlarm") or evaluation_periods,
                  ComparisonOperator=item.get("ComparisonOperator"),
                  TreatMissingData=item.get("TreatMissingData") or DEFAULT_TREAT_MISSING_DATA)
    if item.get("Metrics"):
        normal["Metrics"] = sorted((_query(q) for q in item["Metrics"]), key=lambda q: q["Id"])
        if item.get("ThresholdMetricId"):
            normal["ThresholdMetricId"] = item["ThresholdMetricId"]
        else:
            normal["Threshold"] = _float(item.get("Threshold"))
    else:
        normal.update(Namespace=item.get("Namespace"), MetricName=item.get("MetricName"),
                      Dimensions=_dimensions(item.get("Dimensions")),
                      Statistic=item.get("ExtendedStatistic") or item.get("Statistic"),
                      Period=item.get("Period"), Threshold=_float(item.get("Threshold")))
    return normal


def _float(value):
    return float(value) if value is not None else None


def wanted_alarms(spec):
    """{name: normal form} of the alarms the endpoint's stack holds, as the stack template writes them."""
    wanted = {}
    for alarm in spec["alarms"]:
        actions = [_target(alarm)] if alarm["actions"] else []
        normal = {
            "AlarmDescription": alarm["description"][:DESCRIPTION_LIMIT],
            "ActionsEnabled": True,
            "AlarmActions": actions,
            "OKActions": actions if spec.get("ok_actions") else [],
            "InsufficientDataActions": [],
            "EvaluationPeriods": alarm["evaluation_periods"],
            "DatapointsToAlarm": alarm["datapoints_to_alarm"],
            "ComparisonOperator": alarm["comparison"],
            "TreatMissingData": alarm["treat_missing_data"],
        }
        if alarm["kind"] == "metric":
            normal.update(Namespace=alarm["namespace"], MetricName=alarm["metric"],
                          Dimensions=_dimensions(alarm["dimensions"]), Statistic=alarm["statistic"],
                          Period=alarm["period"], Threshold=_float(alarm["threshold"]))
        else:
            normal["Metrics"] = sorted((_query(q) for q in alarm["metrics"]), key=lambda q: q["Id"])
            if alarm["kind"] == "math":
                normal["Threshold"] = _float(alarm["threshold"])
            else:
                normal["ThresholdMetricId"] = "band"
        wanted[alarm["name"]] = normal
    composite = spec.get("composite")
    if composite:
        actions = [_target(composite)] if composite["actions"] else []
        wanted[composite["name"]] = {
            "AlarmDescription": composite["description"], "AlarmRule": composite["rule"], "ActionsEnabled": True,
            "AlarmActions": actions, "OKActions": actions if spec.get("ok_actions") else [],
            "InsufficientDataActions": []}
    return wanted


def _target(alarm):
    """What an alarm's actions notify in normal form: the topic of its severity the user gave, the region's shared
    topic of its severity (as the template's Fn::Sub), or the stack's own."""
    topic = alarm.get("topic")
    if isinstance(topic, dict):
        return topic["Fn::Sub"]
    return topic or TOPIC


def alarm_digest(normal):
    """The digest of an alarm's normal form, labels of its metric queries left out: a label only names a line on a
    graph, and not every server echoes it."""
    return fingerprint(_labels_left_out(normal))


def dashboard_size(body_json):
    """The size in bytes ListDashboards will show for a dashboard whose body is body_json in the stack template:
    CloudFormation's Fn::Sub puts the account id (12 digits) for each placeholder and one "$" for each "${!"."""
    size = len(body_json.encode("utf-8"))
    size -= body_json.count(ACCOUNT_PLACEHOLDER) * (len(ACCOUNT_PLACEHOLDER) - ACCOUNT_ID_LENGTH)
    size -= body_json.count("${!")
    return size


def expectations(spec, dashboard_body_json=None):
    """What the plan checks of a deployed endpoint, small enough to carry for every endpoint of a fleet: a digest
    per alarm and the dashboard's name and size (None
    when the stack holds no dashboard)."""
    alarms = dict((name, alarm_digest(normal)) for name, normal in wanted_alarms(spec).items())
    dashboard = None
    if dashboard_body_json is not None:
        dashboard = {"name": spec["dashboard_name"], "size": dashboard_size(dashboard_body_json)}
    return {"alarms": alarms, "dashboard": dashboard}


def _labels_left_out(normal):
    if "Metrics" not in normal:
        return normal
    return dict(normal, Metrics=[dict((k, v) for k, v in q.items() if k != "Label") for q in normal["Metrics"]])


def changed_alarms(expected, deployed_by_name, topic_arn):
    """The endpoint's alarms that are missing or differ, from the digests alone, in name order.
    deployed_by_name: the region's DescribeAlarms entries by name."""
    return [name for name, digest in sorted(expected["alarms"].items())
            if name not in deployed_by_name or alarm_digest(deployed_alarm(deployed_by_name[name], topic_arn)) != digest]


def _shown(value):
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if value is None:
        return "(none)"
    return str(value)


def describe_alarm_drift(name, wanted, deployed):
    """The worded lines of one alarm's drift (empty when there is none)."""
    wanted, deployed = _labels_left_out(wanted), _labels_left_out(deployed)
    fields = [f for f in FIELD_ORDER if wanted.get(f) != deployed.get(f)]
    if not fields:
        return []
    shown = ", ".join("%s %s -> %s" % (f, _shown(wanted.get(f)), _shown(deployed.get(f))) for f in fields)
    return ["~ alarm %s: %s (changed outside Ansible)" % (name, shown)]


def alarm_drift(spec, deployed_by_name, topic_arn, names):
    """Worded drift of the named alarms of the endpoint: each missing one, each that differs field by field."""
    wanted = wanted_alarms(spec)
    lines = []
    for name in names:
        item = deployed_by_name.get(name)
        if item is None:
            lines.append("+ alarm %s (deleted outside Ansible)" % name)
        else:
            lines.extend(describe_alarm_drift(name, wanted[name], deployed_alarm(item, topic_arn)))
    return lines


def dashboard_drift(expected, dashboards_by_name):
    """Worded drift of the endpoint's dashboard from ListDashboards (name: entry with Size)."""
    wanted = expected.get("dashboard")
    if not wanted:
        return []
    entry = dashboards_by_name.get(wanted["name"])
    if entry is None:
        return ["+ dashboard %s (deleted outside Ansible)" % wanted["name"]]
    if entry.get("Size") is not None and int(entry["Size"]) != wanted["size"]:
        return ["~ dashboard %s: its body is %d bytes, %d were applied (edited outside Ansible)"
                % (wanted["name"], int(entry["Size"]), wanted["size"])]
    return []


def _arn_parts(topic_arn):
    """(partition, region, account) of an SNS topic ARN."""
    parts = topic_arn.split(":")
    return parts[1], parts[3], parts[4]


def wanted_topic_policy(topic_arn):
    """The topic policy the stack template applies (AlarmTopicPolicy), for the topic with this ARN."""
    partition, region, account = _arn_parts(topic_arn)
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "CloudWatchAlarmsOfThisAccount", "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic_arn,
        "Condition": {"StringEquals": {"AWS:SourceAccount": account},
                      "ArnLike": {"AWS:SourceArn": "arn:%s:cloudwatch:%s:%s:alarm:*" % (partition, region, account)}}}]}


def _policy_value(value):
    """A policy element in normal form: one string or a list of them are the same; mappings are compared key by key
    with their keys' case as IAM treats condition operators and keys (case-insensitively)."""
    if isinstance(value, dict):
        return sorted((k.lower() if isinstance(k, str) else k, _policy_value(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sorted(_policy_value(v) for v in value) if len(value) != 1 else _policy_value(value[0])
    return value


def _statements(policy):
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    return sorted(json.dumps(_policy_value(dict((k, v) for k, v in s.items() if k != "Sid")), sort_keys=True)
                  for s in statements)


def topic_policy_drift(topic_arn, policy_text):
    """Worded drift of the topic's policy (GetTopicAttributes' Policy), compared statement by statement."""
    name = topic_arn.rsplit(":", 1)[-1]
    if not policy_text:
        return ["~ topic %s: its policy is gone, so CloudWatch cannot publish to it (changed outside Ansible)" % name]
    try:
        policy = json.loads(policy_text)
        deployed = _statements(policy)
    except (ValueError, TypeError, AttributeError):
        return ["~ topic %s: its policy cannot be read as a policy document (changed outside Ansible)" % name]
    wanted = _statements(wanted_topic_policy(topic_arn))
    if wanted == deployed:
        return []
    added = len([s for s in deployed if s not in wanted])
    removed = len([s for s in wanted if s not in deployed])
    statements = policy.get("Statement") or []
    opened = [s for s in (statements if isinstance(statements, list) else [statements])
              if isinstance(s, dict) and _is_open(s)]
    words = []
    if opened:
        words.append("a statement allows any principal (Principal *)")
    if added and not opened:
        words.append("%d statement%s added" % (added, "" if added == 1 else "s"))
    if removed:
        words.append("the statement that lets this account's alarms publish is changed or gone")
    return ["~ topic %s: policy %s (changed outside Ansible)" % (name, "; ".join(words) or "changed")]


def _is_open(statement):
    principal = statement.get("Principal")
    if principal == "*":
        return statement.get("Effect") == "Allow"
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return statement.get("Effect") == "Allow" and (aws == "*" or (isinstance(aws, list) and "*" in aws))
    return False


CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
PUBLISH_ACTIONS = ("sns:Publish", "sns:*", "*")


def cloudwatch_may_publish(policy_text):
    """Whether a topic's policy (GetTopicAttributes' Policy) lets CloudWatch alarms publish to it: an Allow
    statement for sns:Publish whose principal is the service cloudwatch.amazonaws.com or anyone (*). A condition
    on the statement is taken as the owner meant it (such as the alarms of their own account)."""
    try:
        policy = json.loads(policy_text or "")
    except ValueError:
        return False
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements or []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(isinstance(a, str) and a.lower() in [p.lower() for p in PUBLISH_ACTIONS] for a in actions):
            continue
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if isinstance(principal, dict):
            for key in ("Service", "AWS"):
                value = principal.get(key)
                values = value if isinstance(value, list) else [value]
                if "*" in values or (key == "Service" and CLOUDWATCH_PRINCIPAL in values):
                    return True
    return False


def policy_slice(topics, budget, chooser):
    """The topics whose policy this run reads: all when they fit in the budget, else `budget` of them picked by
    chooser (random.sample, or any function of (population, k)), so that every stack is read now and then."""
    topics = sorted(topics)
    if budget >= len(topics):
        return topics
    if budget <= 0:
        return []
    return sorted(chooser(topics, budget))


def aws_pages(items, page_size):
    """The pages AWS answers a listing of `items` in (at least one)."""
    return max(1, -(-items // page_size))


# -- the repair: a drift-aware change set ------------------------------------------------------------------------

# CloudFormation's words for a change set that holds nothing to do.
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


def revert_drift_request(stack_name, change_set_name, template_body, tags, role_arn=None, notification_arns=None):
    """CreateChangeSet's arguments for a drift-aware change set that brings the stack's resources back to the
    template (the one it was last applied with, or a new one). The change set's name is also its ClientToken, so
    that a retry of a create whose answer was lost is the same request."""
    request = {
        "StackName": stack_name, "ChangeSetName": change_set_name, "ClientToken": change_set_name,
        "ChangeSetType": "UPDATE", "DeploymentMode": REVERT_DRIFT, "TemplateBody": template_body,
        "Capabilities": [], "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        "Description": "mlops.sagemaker_monitoring: what was changed outside CloudFormation, reverted",
    }
    if role_arn:
        request["RoleARN"] = role_arn
    if notification_arns:
        request["NotificationARNs"] = list(notification_arns)
    return request


def has_nothing_to_do(change_set):
    """A change set that failed only because it holds no change (the drift was reverted meanwhile)."""
    reason = change_set.get("StatusReason") or ""
    return change_set.get("Status") == "FAILED" and any(words in reason for words in NO_CHANGES)


def is_drift_aware(change_set):
    """Whether the server made the change set drift-aware: one that ignores DeploymentMode (an emulator, an older
    CloudFormation) answers without it, and its change set would revert nothing that drifted."""
    return change_set.get("DeploymentMode") == REVERT_DRIFT


def change_lines(changes):
    """A change set's resource changes in words: '~ AlarmX (Modify; drift MODIFIED)'."""
    lines = []
    for change in changes:
        resource = change.get("ResourceChange") or {}
        action = resource.get("Action", "")
        mark = {"Add": "+", "Remove": "-"}.get(action, "~")
        drift_status = resource.get("ResourceDriftStatus")
        lines.append("%s %s %s (%s%s)" % (mark, resource.get("ResourceType", ""), resource.get("LogicalResourceId", ""),
                                          action, "; drift %s" % drift_status if drift_status else ""))
    return lines

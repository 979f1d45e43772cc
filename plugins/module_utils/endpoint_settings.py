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

import difflib
import math
import re

try:
    from botocore.config import Config
    from botocore.session import Session
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url
except ImportError:  # the modules that need botocore say so themselves
    Config = Session = is_valid_endpoint_url = is_valid_ipv6_endpoint_url = None

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    ACCOUNT_PLACEHOLDER,
    DashboardError,
    fleet_sections,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.drift import expectations
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
                     r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+))\Z")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}\Z")
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")
ENDPOINT_URL = re.compile(r"^https?://\S+\Z")
DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]+\Z")
MAX_DASHBOARD_NAME = 255
# The largest integer of AWS's APIs (32 bits, signed).
MAX_AWS_INTEGER = 2 ** 31 - 1


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
    problems = []
    try:
        spec = build_spec(
            endpoint, settings[PREFIX + "region"], variants=value["variants"],
            metric_layers=[(n, settings.get(n)) for n in METRIC_LAYERS],
            subscriber_layers=[(n, settings.get(n)) for n in SUBSCRIBER_LAYERS],
            stack_prefix=settings[PREFIX + "stack_prefix"], ok_actions=settings[PREFIX + "ok_actions"],
            tags=settings[PREFIX + "tags"], variables_prefix=sorted(settings), unknown_variables=list(unknown),
            endpoint_type=value["endpoint_type"], multi_model=value["multi_model"],
            inference_components=value["inference_components"],
            instance_type=settings.get(PREFIX + "instance_type") or None,
            composite=settings[PREFIX + "composite"], notify=settings[PREFIX + "notify"],
            allow_unlisted_region=bool(settings.get(PREFIX + "allow_unlisted_region")),
            topic_mode=settings.get(PREFIX + "topic_mode", "per_endpoint"), topic_arns=settings.get(PREFIX + "topic_arns"))
    except SpecError as e:
        spec, problems = None, list(e.problems)
    problems.extend("%s: %s" % p for p in stack_setting_problems(settings))
    if problems:
        raise SpecError(endpoint, problems)
    return spec


def _whole_number(value, low, high, unit, low_means=""):
    """Why `value` is not a whole number of `unit` from low to high, or None."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        return "must be a whole number of %s from %d%s to %d, got %s" % (unit, low, low_means, high, shown(value))
    return None


def stack_setting_problems(settings):
    """(field, message) for each setting that reaches the endpoint's stack, not its spec, and would be refused by
    AWS: the write would fail after other endpoints were rolled out."""
    problems = []
    kms_key = settings.get(PREFIX + "topic_kms_key") or ""
    if kms_key and not KMS_KEY.match(kms_key):
        problems.append(("topic_kms_key", "%s is not a KMS key id, key ARN, alias/NAME or alias ARN" % shown(kms_key)))
    role_arn = settings.get(PREFIX + "role_arn") or ""
    if role_arn and not ROLE_ARN.match(role_arn):
        problems.append(("role_arn", "%s is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)" % shown(role_arn)))
    for i, arn in enumerate(settings.get(PREFIX + "notification_arns") or []):
        if not isinstance(arn, str) or not TOPIC_ARN.match(arn):
            problems.append(("notification_arns[%d]" % i, "%s is not an SNS topic ARN" % shown(arn)))
    problems.extend(stack_policy_problems(settings.get(PREFIX + "stack_policy_body")))
    # CloudFormation's TimeoutInMinutes: an integer (32 bits, as every integer of AWS's APIs) of at least 1.
    timeout = settings.get(PREFIX + "stack_create_timeout", 30)
    wrong = _whole_number(timeout, 1, MAX_AWS_INTEGER, "minutes")
    if wrong:
        problems.append(("endpoint_monitoring_stack_create_timeout", wrong))
    return problems


# A stack policy's statements (CloudFormation: Effect, Action or NotAction, Principal and Resource or NotResource are
# required; the principal can only be "*"; the actions are update actions).
POLICY_EFFECTS = ("Allow", "Deny")
POLICY_ACTIONS = ("Update:*", "Update:Modify", "Update:Replace", "Update:Delete")


def stack_policy_problems(policy):
    """(field, message) for each statement of a stack policy that CloudFormation would refuse."""
    field = "endpoint_monitoring_stack_policy_body"
    if not policy:
        return []
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return [(field + ".Statement", "a stack policy needs a list of statements, got %s" % shown(statements))]
    problems = []
    for i, statement in enumerate(statements):
        where = "%s.Statement[%d]" % (field, i)
        if not isinstance(statement, dict):
            problems.append((where, "must be a mapping (Effect, Action, Principal, Resource), got %s" % shown(statement)))
            continue
        if statement.get("Effect") not in POLICY_EFFECTS:
            problems.append((where + ".Effect", "must be Allow or Deny, got %s" % shown(statement.get("Effect"))))
        actions = [k for k in ("Action", "NotAction") if k in statement]
        if not actions:
            problems.append((where, "needs Action or NotAction (%s)" % ", ".join(POLICY_ACTIONS)))
        for key in actions:
            value = statement[key]
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) and v in POLICY_ACTIONS for v in values):
                problems.append((where + "." + key, "must be one or more of %s, got %s"
                                 % (", ".join(POLICY_ACTIONS), shown(value))))
        if statement.get("Principal") != "*":
            problems.append((where + ".Principal", "must be '*' (the only principal of a stack policy), got %s"
                             % shown(statement.get("Principal"))))
        if "Resource" not in statement and "NotResource" not in statement:
            problems.append((where, "needs Resource or NotResource (such as '*' or 'LogicalResourceId/NAME')"))
    return problems


def run_setting_problems(settings):
    """(field, message) for each setting the run itself uses for the endpoint (its AWS connection, the time its stack
    operation may take, the fleet dashboards' name), whether it is kept or removed: wrong, it would fail the
    endpoint's AWS calls, or a task that runs once for the whole batch."""
    problems = []
    wait = settings.get(PREFIX + "wait_timeout", 1800)
    # Ansible's task timeout: 0 is no limit; the operating system's alarm takes 32 bits.
    wrong = _whole_number(wait, 0, MAX_AWS_INTEGER, "seconds", " (no limit)")
    if wrong:
        problems.append(("endpoint_monitoring_wait_timeout", wrong))
    profile = settings.get(PREFIX + "aws_profile") or ""
    known = _aws_profiles() if profile else None
    if known is not None and profile not in known:
        # boto3 would refuse it when the batch's comparison makes its first client, for every endpoint at once.
        close = difflib.get_close_matches(profile, sorted(known), n=1)
        problems.append(("endpoint_monitoring_aws_profile", "%s is in neither the AWS config file nor the shared "
                         "credentials file%s" % (shown(profile), " (did you mean %r?)" % close[0] if close else "")))
    url = settings.get(PREFIX + "aws_endpoint_url") or ""
    if url and not _endpoint_url_ok(url):
        problems.append(("endpoint_monitoring_aws_endpoint_url", "%s is not an http:// or https:// URL such as "
                         "http://127.0.0.1:4566" % shown(url)))
    problems.extend(("endpoint_monitoring_aws_config" + field, message)
                    for field, message in aws_config_problems(settings.get(PREFIX + "aws_config")))
    name = settings.get(PREFIX + "fleet_dashboard_name", "")
    # CloudWatch dashboard names: letters, digits, - and _, 255 at most; the region and a page number follow it.
    longest = MAX_DASHBOARD_NAME - len("-%s-99" % (settings.get(PREFIX + "region") or "ap-southeast-1"))
    if not isinstance(name, str) or not DASHBOARD_NAME.match(name) or len(name) > longest:
        problems.append(("endpoint_monitoring_fleet_dashboard_name",
                         "%s is not a CloudWatch dashboard name: 1 to %d letters, digits, - and _ (with the region "
                         "and page number that follow it, 255 at most)" % (shown(name), longest)))
    return problems


def _aws_profiles():
    """The profiles of the AWS config and shared credentials files, as botocore reads them; None if it cannot."""
    if Session is None:
        return None
    try:
        return set(Session().available_profiles)
    except Exception:  # a config file botocore cannot read: boto3 will say so itself
        return None


def _endpoint_url_ok(url):
    """An http(s) URL botocore takes as an endpoint (it refuses the others when it makes a client)."""
    if not isinstance(url, str) or not ENDPOINT_URL.match(url):
        return False
    return is_valid_endpoint_url is None or is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)


# botocore's Config: the numbers it passes on as they are, and the retry settings it checks itself.
AWS_CONFIG_NUMBERS = {"connect_timeout": (0, "seconds"), "read_timeout": (0, "seconds"),
                      "max_pool_connections": (1, "connections")}
RETRY_NUMBERS = {"max_attempts": 0, "total_max_attempts": 1}


def aws_config_problems(config):
    """(field suffix, message) for each problem of an endpoint_monitoring_aws_config mapping (botocore's Config)."""
    if not config:
        return []
    problems = []
    for key, (low, unit) in AWS_CONFIG_NUMBERS.items():
        value = config.get(key)
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        if value is not None and not (number and not math.isnan(value) and low <= value <= MAX_AWS_INTEGER):
            problems.append((".%s" % key, "must be a number of %s from %d to %d, got %s"
                             % (unit, low, MAX_AWS_INTEGER, shown(value))))
    retries = config.get("retries")
    if retries is not None and not isinstance(retries, dict):
        problems.append((".retries", "must be a mapping (mode, max_attempts or total_max_attempts), got %s"
                         % shown(retries)))
    elif retries:
        for key, low in RETRY_NUMBERS.items():
            wrong = _whole_number(retries[key], low, MAX_AWS_INTEGER, "attempts") if key in retries else None
            if wrong:
                problems.append((".retries.%s" % key, wrong))
    if problems or Config is None:
        return problems
    try:
        Config(**config)
    except TypeError as e:  # an argument Config does not have: "Got unexpected keyword argument 'retry'"
        problems.append(("", "%s; see botocore's Config for its settings" % e))
    except Exception as e:  # botocore's own checks: retry mode and settings
        problems.append(("", str(e)))
    return problems


def shown(value):
    """A value as the user wrote it in YAML: text quoted, numbers and lists as they are, never the name of the class
    Ansible wraps it in."""
    return "%r" % (plain(value),)


def plain(value):
    """`value` as plain Python data. Templating hands over subclasses of str, int, list, dict... that carry
    Ansible's data tags, which error messages would then name (<class '..._AnsibleTaggedList'> cannot be
    converted to a dict)."""
    if isinstance(value, dict):
        return dict((plain(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


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
    described["plan_entry"] = plan_entry(settings, spec, described["fingerprint"], facts_mark, code_digest, facts,
                                         expectations(spec, dashboard["body_json"] if mode != "fleet" else None))
    return described


def _plan_subscriber(subscriber, topic_mode):
    """A subscriber as the plan needs it: in topic_mode shared, the region's topics are subscribed from every
    endpoint's subscribers (severities and raw delivery included); otherwise the listing is compared by address."""
    kept = ("protocol", "endpoint", "raw_message_delivery", "severities") if topic_mode == "shared" \
        else ("protocol", "endpoint")
    return dict((k, subscriber[k]) for k in kept if k in subscriber)


def plan_entry(settings, spec=None, fingerprint_value=None, facts_mark=None, code_digest=None, facts=None,
               expected=None):
    """The compact entry monitoring_plan compares with what is deployed. For an endpoint to keep present it also
    carries the settings, the code digest and the SageMaker facts (for an endpoint the inventory names only) that
    its spec is built from: the plan builds the spec again for the endpoints that need a change, so that the
    per-endpoint results every endpoint keeps for the whole run stay small. `expected` is what the plan checks of
    the deployed alarms and dashboard (drift.expectations)."""
    endpoint = settings[PREFIX + "endpoint_name"]
    topic_mode = (spec or {}).get("topic_mode") or "per_endpoint"
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
        "subscribers": [_plan_subscriber(s, topic_mode) for s in (spec or {}).get("subscribers") or []],
        "topic_mode": topic_mode,
        # The user's topics the alarms notify (existing mode): the plan checks them before any write.
        "topic_arns": ((spec or {}).get("topic_arns") or {}) if topic_mode == "existing" else {},
    }
    if topic_mode == "shared":
        # What the region's shared topics stack is made with: the plan checks that the endpoints of a region agree.
        entry["shared_stack"] = {"topic_kms_key": settings.get(PREFIX + "topic_kms_key") or "",
                                 "role_arn": settings.get(PREFIX + "role_arn") or "",
                                 "notification_arns": list(settings.get(PREFIX + "notification_arns") or []),
                                 "termination_protection": bool(settings.get(PREFIX + "termination_protection"))}
    if settings[PREFIX + "state"] == "present":
        entry.update(settings=settings, code=code_digest, facts=facts, expected=expected,
                     drift_checks=list(settings.get(PREFIX + "drift_checks") or []))
    return entry

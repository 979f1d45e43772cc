#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_fleet
short_description: Plan and apply the monitoring stacks and subscriptions of a whole fleet at once
version_added: 1.0.0
description:
  - Runs once for all the endpoints of a play. Per region, one paginated DescribeStacks shows which stacks are
    already as desired (a fingerprint of the applied template and tags is kept in the stack tag
    output C(MonitoringFingerprint)), so a run where nothing changed makes no call per endpoint.
  - For the other stacks it reads the deployed template and says each change in words, then starts the creates
    and updates together, at most O(concurrency) at a time, and waits for all of them in one loop. Each poll is
    one ListStacks of the region's stacks still in progress; the stacks of this run that are no longer among them
    are read once for their outcome and outputs, each by name, or from one listing of the region when that takes
    fewer calls, and their slots go to the next operations. The wait ends after O(wait_timeout) seconds.
  - Entries with C(state=absent) have their stack deleted, if it is tagged as this collection's and has no
    termination protection; the deletes are waited for in the same loop.
  - C(termination_protection) of each entry is set on creation and kept right afterwards (the listing shows it).
  - Webhook URLs of subscribers are hidden from the module's output and logs (they often hold tokens).
  - A stack left in ROLLBACK_COMPLETE by a failed creation holds nothing and is deleted and created again.
    Stacks not tagged as this collection's, stacks another operation is changing, and stacks stuck in a failed
    state are left alone with a message saying what to do.
  - Subscriptions come from one paginated ListSubscriptions per region; listed subscribers are subscribed once,
    unlisted ones are removed only with C(purge).
  - One endpoint's failure does not stop the others; each endpoint's result says what happened.
  - In check mode only read calls are made.
options:
  endpoints:
    description:
      - One entry per endpoint with C(endpoint), C(region), C(stack_name), C(template) (mapping), C(tags), and
        optionally C(subscribers), C(purge_subscriptions), C(create_timeout) (minutes), C(termination_protection)
        (bool) and C(state) (V(present), the default, or V(absent), which needs only C(endpoint), C(region) and C(stack_name)
        are needed).
    type: list
    elements: dict
    required: true
  concurrency:
    description: Stack operations in progress at once, per region. CloudFormation throttles past its own limits.
    type: int
    default: 10
  wait_timeout:
    description: Seconds to wait for all stack operations; stacks still in progress then are reported as failed.
    type: int
    default: 1800
  poll_interval:
    description:
      - The longest wait, in seconds, between two polls of the stacks in progress.
      - The wait is an eighth of the median time the run's finished operations took (a freed slot is not left
        idle for long), at least 0.5 seconds and at most this. Until an operation has finished, it starts at 0.5
        seconds and doubles after each poll.
    type: float
    default: 5.0
  fleet_dashboards:
    description:
      - Fleet dashboards to keep right, after the stacks, each C(region), C(name) (the pages are the name, or the
        name with -1, -2, ...), C(sections) (C([endpoint, widgets]) of this run's endpoints to show) and C(drop)
        (this run's endpoints not to show).
      - The deployed pages are read and merged with what this run knows; sections of endpoints the run does not
        know stay while their monitoring stacks exist. Dashboards with these names that this collection did not
        make are refused, not overwritten.
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors
"""

EXAMPLES = r"""
- name: Apply the fleet's stacks
  mlops.sagemaker_monitoring.monitoring_fleet:
    endpoints:
      - endpoint: churn
        region: eu-west-1
        stack_name: sagemaker-monitoring-churn
        template: "{{ lookup('ansible.builtin.file', 'churn.json') | from_json }}"
        tags: {managed-by: mlops.sagemaker_monitoring, sagemaker-endpoint: churn}
  run_once: true
"""

RETURN = r"""
fleet_dashboards:
  description: Per fleet dashboard name, C(status), C(changes), C(pages) (name, endpoints, widgets, metrics), C(error).
  returned: always
  type: dict
endpoints:
  description: Per endpoint name, its result.
  returned: always
  type: dict
  contains:
    status: {description: "C(changed), C(unchanged) or C(failed).", type: str, returned: always}
    action: {description: "C(create), C(recreate), C(update), C(delete) or C(none).", type: str, returned: always}
    changes: {description: Each change in words., type: list, elements: str, returned: always}
    outputs: {description: Stack outputs., type: dict, returned: always}
    pending_confirmation: {description: Subscribers not confirmed yet., type: list, elements: dict, returned: always}
    error: {description: Why the endpoint failed., type: str, returned: when failed}
"""

import collections
import json
import time

try:
    from botocore.exceptions import BotoCoreError, ClientError

    AWS_ERRORS = (BotoCoreError, ClientError)
except ImportError:
    AWS_ERRORS = ()  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    is_boto3_error_code,
    is_boto3_error_message,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    COLLECTION,
    ENDPOINT_TAG,
    MANAGED_BY_TAG,
    SpecError,
    check_template_limits,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.fleet import (
    FINGERPRINT_OUTPUT,
    SETTLED,
    fingerprint,
    is_unchanged,
    minify,
    outputs_of,
    subscriptions_by_topic,
    with_fingerprint,
    without_fingerprint,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.fleet_dashboards import (
    page_names,
    plan_fleet_dashboards,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.stack_plan import (
    BUSY_SUFFIX,
    IN_PROGRESS_STATES,
    PlanError,
    PollDelays,
    busy,
    parse_template,
    plan_stack,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.subscriptions import (
    PENDING,
    describe_plan,
    describe_raw_updates,
    plan_subscriptions,
    raw_delivery_updates,
    redact,
)

RETRY = AWSRetry.jittered_backoff(retries=10, delay=1, max_delay=30)


def _tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _live(stacks):
    """Stacks that still exist: some servers go on listing deleted ones, as DELETE_COMPLETE."""
    return [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]


@RETRY
def list_stacks(cfn):
    """The region's stacks by name (deleted ones, which some servers still list, left out), and how many calls
    the listing took."""
    stacks, calls = {}, 0
    for page in cfn.get_paginator("describe_stacks").paginate():
        calls += 1
        stacks.update((s["StackName"], s) for s in _live(page.get("Stacks", [])))
    return stacks, calls


@RETRY
def stacks_in_progress(cfn):
    """Names of the region's stacks that an operation is working on. The answer stays short however many
    stacks the region holds, unlike a DescribeStacks of the whole region."""
    pages = cfn.get_paginator("list_stacks").paginate(StackStatusFilter=list(IN_PROGRESS_STATES))
    return set(s["StackName"] for page in pages for s in page.get("StackSummaries", []))


@RETRY
def describe_stack(cfn, name):
    """The stack by name, or None when there is none (deleted, or rolled back and deleted after a failed creation)."""
    try:
        stacks = cfn.describe_stacks(StackName=name).get("Stacks") or []
    except is_boto3_error_message("does not exist"):
        return None
    live = _live(stacks)
    return live[0] if live else None


@RETRY
def list_subscriptions(sns):
    pages = sns.get_paginator("list_subscriptions").paginate()
    return [s for page in pages for s in page.get("Subscriptions", [])]


@RETRY
def list_dashboards(cloudwatch, prefix):
    pages = cloudwatch.get_paginator("list_dashboards").paginate(DashboardNamePrefix=prefix)
    return [d["DashboardName"] for page in pages for d in page.get("DashboardEntries", [])]


def _body(text):
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _failure_reason(cfn, stack_id):
    try:
        events = cfn.describe_stack_events(aws_retry=True, StackName=stack_id)["StackEvents"]
    except AWS_ERRORS:
        return ""
    reasons = [e.get("ResourceStatusReason") for e in events
               if e.get("ResourceStatus", "").endswith("_FAILED") and e.get("ResourceStatusReason")]
    return reasons[-1] if reasons else ""


class Region:
    """Plans and applies the endpoints of one region."""

    def __init__(self, module, region, entries):
        self.module = module
        self.region = region
        self.entries = entries
        self.cfn = module.client("cloudformation", retry_decorator=RETRY, region=region)
        self.sns = module.client("sns", retry_decorator=RETRY, region=region)
        self.results = {}
        self.listing_calls = 1  # pages of the region's DescribeStacks listing, known once it has been listed

    def result(self, entry, **values):
        result = self.results.setdefault(entry["endpoint"], {
            "endpoint": entry["endpoint"], "region": self.region, "stack_name": entry["stack_name"],
            "status": "unchanged", "action": "none", "changes": [], "outputs": {}, "pending_confirmation": []})
        result.update(values)
        return result

    def fail(self, entry, error):
        self.result(entry, status="failed", error="endpoint %r: %s" % (entry["endpoint"], error))

    # ---------------------------------------------------------------- plan
    def plan_removal(self, entry, stack):
        name = entry["stack_name"]
        if busy(name, stack):
            self.fail(entry, busy(name, stack))
            return None
        try:
            deployed = None
            if stack is not None:
                deployed = parse_template(self.cfn.get_template(aws_retry=True, StackName=name).get("TemplateBody"))
            plan = plan_stack(name, stack, deployed, None, {}, state="absent")
        except PlanError as e:
            self.fail(entry, str(e))
            return None
        except AWS_ERRORS as e:
            self.fail(entry, "failed to read stack %s: %s" % (name, e))
            return None
        if plan["action"] == "none":
            return None
        if stack.get("EnableTerminationProtection"):
            self.fail(entry, "stack %s has termination protection: set endpoint_monitoring_termination_protection: "
                             "false and run monitor_endpoints.yml first, then remove it" % name)
            return None
        self.result(entry, status="changed", action="delete", outputs=outputs_of(stack), changes=plan["changes"])
        return {"entry": entry, "action": "delete", "stack": stack}

    def plan(self, listing):
        ops = []
        for entry in self.entries:
            if entry.get("state") == "absent":
                op = self.plan_removal(entry, listing.get(entry["stack_name"]))
                if op:
                    ops.append(op)
                else:
                    self.result(entry)
                continue
            tags = dict(entry.get("tags") or {})
            desired_fingerprint = fingerprint(entry["template"], tags, entry.get("subscribers"))
            stack = listing.get(entry["stack_name"])
            self.result(entry, outputs=outputs_of(stack))
            protect = bool(entry.get("termination_protection"))
            protection_change = None
            if stack is not None and bool(stack.get("EnableTerminationProtection")) != protect:
                protection_change = "~ termination protection %s -> %s" % (
                    "on" if not protect else "off", "on" if protect else "off")
            if is_unchanged(stack, desired_fingerprint):
                if protection_change:
                    self.result(entry, status="changed", action="update", changes=[protection_change])
                    ops.append({"entry": entry, "action": "protect", "stack": stack, "protect": protect})
                continue
            if busy(entry["stack_name"], stack):
                self.fail(entry, busy(entry["stack_name"], stack))
                continue
            try:
                template = parse_template(entry["template"])
            except ValueError as e:
                self.fail(entry, "the template is neither JSON nor YAML: %s" % e)
                continue
            body = minify(with_fingerprint(template, tags, value=desired_fingerprint))
            try:
                check_template_limits(entry["endpoint"], template, body)
            except SpecError as e:
                self.result(entry, status="failed", error=str(e))
                continue
            try:
                deployed = None
                if stack is not None and stack["StackStatus"] != "ROLLBACK_COMPLETE":
                    deployed = without_fingerprint(parse_template(self.cfn.get_template(
                        aws_retry=True, StackName=entry["stack_name"]).get("TemplateBody")))
                plan = plan_stack(entry["stack_name"], stack, deployed, template, tags)
            except PlanError as e:
                self.fail(entry, str(e))
                continue
            except AWS_ERRORS as e:
                self.fail(entry, "failed to read stack %s: %s" % (entry["stack_name"], e))
                continue
            changes = plan["changes"]
            action = plan["action"]
            if action == "none":
                # Same template and tags, but another fingerprint: the subscribers' settings changed, or the stack
                # comes from an earlier version. Record it (and check the subscriptions' attributes below).
                changes = ["~ output %s recorded" % FINGERPRINT_OUTPUT]
                action = "update"
            if protection_change and action == "update":
                changes = changes + [protection_change]
            self.result(entry, status="changed", action=action, changes=changes)
            ops.append({"entry": entry, "action": action, "body": body, "tags": tags, "stack": stack,
                        "protect": protect, "protection_change": bool(protection_change)})
        return ops

    # ---------------------------------------------------------------- apply
    def _start(self, op):
        op["started"] = time.time()
        entry = op["entry"]
        name = entry["stack_name"]
        if op["action"] == "delete":
            self.cfn.delete_stack(aws_retry=True, StackName=name)
            op["phase"] = "teardown"
            return True
        if op["action"] == "protect" or op.get("protection_change"):
            self.cfn.update_termination_protection(aws_retry=True, StackName=name,
                                                   EnableTerminationProtection=op["protect"])
            if op["action"] == "protect":
                return False
        if op["action"] == "recreate" and op.get("phase") != "create":
            self.cfn.delete_stack(aws_retry=True, StackName=name)
            op["phase"] = "delete"
            return True
        if op["action"] in ("create", "recreate"):
            created = self.cfn.create_stack(
                aws_retry=True, StackName=name, TemplateBody=op["body"], Tags=_tag_list(op["tags"]),
                OnFailure="DELETE", TimeoutInMinutes=int(entry.get("create_timeout") or 30),
                EnableTerminationProtection=bool(entry.get("termination_protection")))
            op["stack_id"] = created["StackId"]
            op["phase"] = "create"
            return True
        try:
            updated = self.cfn.update_stack(aws_retry=True, StackName=name, TemplateBody=op["body"],
                                            Tags=_tag_list(op["tags"]))
        except is_boto3_error_message("No updates are to be performed"):
            return False
        op["stack_id"] = updated["StackId"]
        op["phase"] = "update"
        return True

    def _settle(self, op, stack):
        """None while in progress; True when done; an error message when it failed."""
        status = (stack or {}).get("StackStatus")
        if op["phase"] == "teardown":
            if stack is None or status == "DELETE_COMPLETE":
                return True
            if status == "DELETE_FAILED":
                return "could not delete the stack: %s" % (stack.get("StackStatusReason") or _failure_reason(
                    self.cfn, op["entry"]["stack_name"]))
            return None
        if op["phase"] == "delete":
            if stack is None or status == "DELETE_COMPLETE":
                op["phase"] = "create-pending"  # created again on the next round
                return None
            if status == "DELETE_FAILED":
                return "could not delete the failed stack (%s)" % stack.get("StackStatusReason", "")
            return None
        if stack is None:
            if op["phase"] == "create":
                return "creation failed and was rolled back: %s" % _failure_reason(self.cfn, op["stack_id"])
            return "the stack disappeared"
        if status.endswith(BUSY_SUFFIX):
            return None
        if status in SETTLED:
            return True
        return "stack is %s: %s" % (status, _failure_reason(self.cfn, op.get("stack_id") or op["entry"]["stack_name"]))

    def _describe(self, names):
        """The named stacks (a missing one is absent), in as few calls as it takes: one DescribeStacks per stack,
        or the region's listing when that takes fewer calls."""
        names = list(names)
        if len(names) > self.listing_calls:
            listing, self.listing_calls = list_stacks(self.cfn)
            return dict((n, listing[n]) for n in names if n in listing)
        described = dict((n, describe_stack(self.cfn, n)) for n in names)
        return dict((n, s) for n, s in described.items() if s is not None)

    def apply(self, ops, concurrency, deadline, poll_interval):
        pending = collections.deque(ops)
        in_flight = []
        delays = PollDelays(poll_interval)
        delay = delays.delay
        last_poll = time.time()
        while pending or in_flight:
            while pending and len(in_flight) < concurrency:
                op = pending.popleft()
                try:
                    if self._start(op):
                        in_flight.append(op)
                except is_boto3_error_code("AlreadyExistsException"):
                    self.fail(op["entry"], "stack %s was created by another run or a person since this run listed "
                                           "the stacks; run again when that operation is done"
                              % op["entry"]["stack_name"])
                except AWS_ERRORS as e:  # pylint: disable=duplicate-except
                    self.fail(op["entry"], "%s of stack %s failed: %s" % (op["action"], op["entry"]["stack_name"], e))
            if not in_flight:
                continue
            if time.time() >= deadline:
                for op in in_flight:
                    self.fail(op["entry"], "stack %s did not finish within wait_timeout (%ds); it is still being "
                                           "worked on by CloudFormation: run again later"
                              % (op["entry"]["stack_name"], self.module.params["wait_timeout"]))
                return
            # Delays count start to start: the calls of a round (starting operations, describing finished stacks)
            # come out of the wait rather than adding to it.
            time.sleep(max(0.0, min(last_poll + delay, deadline) - time.time()))
            last_poll = time.time()
            try:
                working = stacks_in_progress(self.cfn)
            except AWS_ERRORS as e:
                self.module.warn("listing the stacks in progress failed, trying again: %s" % e)
                continue
            still, finished = [], []
            for op in in_flight:
                name = op["entry"]["stack_name"]
                if op["phase"] == "create-pending":
                    try:
                        op["action"] = "create"
                        self._start(op)
                        op["action"] = "recreate"
                        still.append(op)
                    except AWS_ERRORS as e:
                        self.fail(op["entry"], "creating stack %s again failed: %s" % (name, e))
                elif name in working:
                    still.append(op)
                else:
                    finished.append(op)  # or not listed yet: ListStacks may lag behind a CreateStack
            stacks = {}
            if finished:
                try:
                    stacks = self._describe(op["entry"]["stack_name"] for op in finished)
                except AWS_ERRORS as e:
                    self.module.warn("describing the stacks that finished failed, trying again: %s" % e)
                    still.extend(finished)
                    finished = []
            durations = []
            for op in finished:
                stack = stacks.get(op["entry"]["stack_name"])
                outcome = self._settle(op, stack)
                if outcome is None:
                    still.append(op)
                    continue
                durations.append(last_poll - op["started"])
                if outcome is True:
                    if op["phase"] != "teardown":
                        self.result(op["entry"], outputs=outputs_of(stack))
                else:
                    self.fail(op["entry"], outcome)
            in_flight = still
            delay = delays.after_poll(durations)

    # ---------------------------------------------------------------- fleet dashboards
    def monitored(self, listing):
        """Endpoints with a monitoring stack of this collection in the region, after this run."""
        endpoints = set()
        for stack in listing.values():
            tags = dict((t["Key"], t["Value"]) for t in stack.get("Tags", []))
            if tags.get(MANAGED_BY_TAG) == COLLECTION and tags.get(ENDPOINT_TAG):
                endpoints.add(tags[ENDPOINT_TAG])
        for entry in self.entries:
            result = self.results.get(entry["endpoint"], {})
            if entry.get("state") == "absent":
                endpoints.discard(entry["endpoint"])
            elif result.get("status") != "failed":
                endpoints.add(entry["endpoint"])
        return endpoints

    def dashboards(self, requests, listing, check_mode):
        results = {}
        if not requests:
            return results
        cloudwatch = self.module.client("cloudwatch", retry_decorator=RETRY, region=self.region)
        monitored = self.monitored(listing)
        for request in requests:
            name = request["name"]
            result = results[name] = {"region": self.region, "status": "unchanged", "changes": [], "pages": []}
            try:
                deployed = dict((page, _body(cloudwatch.get_dashboard(aws_retry=True, DashboardName=page)
                                             .get("DashboardBody"))) for page in page_names(name, list_dashboards(
                                                 cloudwatch, name)))
                plan = plan_fleet_dashboards(name, deployed, [tuple(s) for s in request.get("sections") or []],
                                             request.get("drop") or [], monitored)
            except AWS_ERRORS as e:
                result.update(status="failed", error="fleet dashboard %s: failed to read it: %s" % (name, e))
                continue
            except ValueError as e:  # DashboardError: past CloudWatch's limits
                result.update(status="failed", error="fleet dashboard %s: %s" % (name, e))
                continue
            result.update(pages=plan["pages"], changes=plan["changes"])
            if plan["refused"]:
                result.update(status="failed", error="; ".join(plan["refused"]))
            if not plan["changes"]:
                continue
            if result["status"] != "failed":
                result["status"] = "changed"
            if check_mode:
                continue
            try:
                for page, body in plan["put"]:
                    answer = cloudwatch.put_dashboard(aws_retry=True, DashboardName=page,
                                                      DashboardBody=json.dumps(body, separators=(",", ":")))
                    problems = answer.get("DashboardValidationMessages") or []
                    if problems:
                        self.module.warn("fleet dashboard %s: CloudWatch says %s" % (page, problems))
                if plan["delete"]:
                    cloudwatch.delete_dashboards(aws_retry=True, DashboardNames=plan["delete"])
            except AWS_ERRORS as e:
                result.update(status="failed", error="fleet dashboard %s: failed to write it: %s" % (name, e))
        return results

    # ---------------------------------------------------------------- subscriptions
    def subscribe(self, check_mode):
        wanted = [e for e in self.entries if self.results[e["endpoint"]]["status"] != "failed"
                  and e.get("state") != "absent" and (e.get("subscribers") or e.get("purge_subscriptions"))]
        if not wanted:
            return
        try:
            existing = subscriptions_by_topic(list_subscriptions(self.sns))
        except AWS_ERRORS as e:
            for entry in wanted:
                self.fail(entry, "failed to list SNS subscriptions: %s" % e)
            return
        for entry in wanted:
            result = self.results[entry["endpoint"]]
            settings_changed = result["status"] == "changed"
            topic = result["outputs"].get("TopicArn")
            plan = plan_subscriptions(existing.get(topic, []) if topic else [], entry.get("subscribers") or [],
                                      purge=bool(entry.get("purge_subscriptions")))
            lines = describe_plan(plan)
            raw_updates = []
            if settings_changed:
                # Only where the fingerprint says the settings changed: a run with no change reads no attributes.
                try:
                    raw_updates = raw_delivery_updates(plan["keep"], lambda arn: self.sns.get_subscription_attributes(
                        aws_retry=True, SubscriptionArn=arn).get("Attributes", {}))
                except AWS_ERRORS as e:
                    self.fail(entry, "failed to read the subscriptions of %s: %s" % (topic, e))
                    continue
                lines += describe_raw_updates(raw_updates)
            pending = [{"protocol": s["Protocol"], "endpoint": redact(s["Protocol"], s["Endpoint"])}
                       for s in plan["pending"]]
            if lines:
                result["changes"] = result["changes"] + lines
                result["status"] = "changed"
            if not check_mode and topic:
                try:
                    for sub in plan["subscribe"]:
                        kwargs = dict(TopicArn=topic, Protocol=sub["protocol"], Endpoint=sub["endpoint"],
                                      ReturnSubscriptionArn=True)
                        if sub.get("raw_message_delivery"):
                            kwargs["Attributes"] = {"RawMessageDelivery": "true"}
                        arn = self.sns.subscribe(aws_retry=True, **kwargs).get("SubscriptionArn", PENDING)
                        if sub["protocol"] in ("email", "https") or arn.lower().startswith("pending"):
                            pending.append({"protocol": sub["protocol"], "endpoint": redact(sub["protocol"], sub["endpoint"])})
                    for sub in plan["unsubscribe"]:
                        self.sns.unsubscribe(aws_retry=True, SubscriptionArn=sub["SubscriptionArn"])
                    for arn, wanted_sub in raw_updates:
                        self.sns.set_subscription_attributes(
                            aws_retry=True, SubscriptionArn=arn, AttributeName="RawMessageDelivery",
                            AttributeValue="true" if wanted_sub["raw_message_delivery"] else "false")
                except AWS_ERRORS as e:
                    self.fail(entry, "failed to update the subscriptions of %s: %s" % (topic, e))
                    continue
            result["pending_confirmation"] = pending


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            endpoints=dict(type="list", elements="dict", required=True),
            concurrency=dict(type="int", default=10),
            wait_timeout=dict(type="int", default=1800),
            poll_interval=dict(type="float", default=5.0),
            fleet_dashboards=dict(type="list", elements="dict", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for entry in p["endpoints"]:
        for sub in entry.get("subscribers") or []:
            if sub.get("protocol") in ("http", "https") and sub.get("endpoint"):
                module.no_log_values.add(sub["endpoint"])
    if p["concurrency"] < 1 or p["poll_interval"] <= 0 or p["wait_timeout"] < 1:
        module.fail_json(msg="concurrency, wait_timeout and poll_interval must be positive")
    by_region = collections.OrderedDict()
    for entry in p["endpoints"]:
        by_region.setdefault(entry["region"], []).append(entry)
    dashboards_by_region = {}
    for request in p["fleet_dashboards"]:
        by_region.setdefault(request["region"], [])
        dashboards_by_region.setdefault(request["region"], []).append(request)
    dashboards = {}

    deadline = time.time() + p["wait_timeout"]
    results = {}
    for region, entries in by_region.items():
        worker = Region(module, region, entries)
        try:
            listing, worker.listing_calls = list_stacks(worker.cfn)
        except AWS_ERRORS as e:
            for entry in entries:
                worker.fail(entry, "failed to list the stacks of %s: %s" % (region, e))
            results.update(worker.results)
            continue
        ops = worker.plan(listing)
        if not module.check_mode:
            worker.apply(ops, p["concurrency"], deadline, p["poll_interval"])
        worker.subscribe(module.check_mode)
        results.update(worker.results)
        dashboards.update(worker.dashboards(dashboards_by_region.get(region), listing, module.check_mode))

    changed = [r for r in results.values() if r["status"] == "changed"]
    changed_dashboards = [n for n in sorted(dashboards) if dashboards[n]["changes"]]
    response = dict(changed=bool(changed or changed_dashboards), endpoints=results, check_mode=module.check_mode,
                    fleet_dashboards=dashboards)
    if changed or changed_dashboards:
        response["diff"] = {"prepared": "\n".join(
            ["%s (%s):\n%s\n" % (r["stack_name"], r["action"], "\n".join(r["changes"]))
             for r in sorted(changed, key=lambda r: r["endpoint"])]
            + ["%s\n" % "\n".join(dashboards[n]["changes"]) for n in changed_dashboards])}
    module.exit_json(**response)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: monitoring_plan
short_description: Compare a batch of endpoints' monitoring with what is deployed, read-only, in a few listings
version_added: 1.0.0
description:
  - Runs once per play batch (C(run_once)) with the entries that M(mlops.sagemaker_monitoring.monitoring_prepare)
    computed for each endpoint, and says per endpoint whether its monitoring needs a change, and which.
  - Per region, one paginated DescribeStacks shows which stacks are already as desired (each carries a fingerprint
    of what was applied in its output C(MonitoringFingerprint)), and one paginated ListSubscriptions which
    subscribers are missing or unlisted. A run where nothing changed makes no call per endpoint.
  - Endpoints that the inventory names only (no variants) are completed from SageMaker, as the
    M(mlops.sagemaker_monitoring.sagemaker_endpoints) inventory plugin reads them. One paginated ListEndpoints per
    region tells which endpoints changed since their facts were last read; only those are described again. The
    facts read are returned in RV(facts), for the role to keep in Ansible's fact cache.
  - As guards, only stacks tagged C(managed-by=mlops.sagemaker_monitoring) are touched; stacks another operation is
    changing are refused; a stack left in C(ROLLBACK_COMPLETE) by a failed creation is created again; stacks
    stuck in a failed state are refused with the command that repairs them; a stack tagged as another endpoint's is
    refused.
  - For an endpoint in topic mode C(existing) whose stack is to be written, each topic it notifies is read once per
    region (GetTopicAttributes, never a write); one that does not exist or does not let C(cloudwatch.amazonaws.com)
    publish fails that endpoint, naming C(endpoint_monitoring_topic_arns.<severity>). The stack's former topic, which
    no alarm notifies in that mode, is kept with its subscriptions and said (RV(endpoints.retired_topic)), or removed
    with them when the endpoint's C(purge_subscriptions) is on.
  - For the endpoints in topic mode C(shared), per region, whether the shared topics stack
    (C(sagemaker-monitoring--shared-topics), a topic per severity) and its subscriptions need a change, from the same
    listings (RV(shared_topics)); each subscriber is subscribed once per region and severity it asks for. The raw
    delivery of the kept sqs and https subscriptions is read (GetSubscriptionAttributes), and where the stack holds
    what is wanted its topics and their policies (GetTopicAttributes, one call per topic). Endpoints of a region that
    disagree on what the one stack holds (its settings, a subscriber's raw delivery) fail, naming the field, before
    any write; so do all of them where the stack cannot be written safely.
  - Makes no write call, in check mode or not. One endpoint's failure does not stop the others.
options:
  endpoints:
    description:
      - One entry per endpoint, as RV(mlops.sagemaker_monitoring.monitoring_prepare#module:plan_entry) returns it,
        with C(host), the inventory host name the result is keyed by.
    type: list
    elements: dict
    required: true
  topic_policy_reads:
    description:
      - How many topic policies to read per region and run (GetTopicAttributes, one call per topic, as SNS reads no
        policies in batches). C(auto) reads what the budget of a no-change run leaves after the listings (0.2 calls
        per endpoint, counted with AWS's page sizes, and at least one), a random slice of the stacks each run; a
        number reads that many (0 reads none, a number at least the stacks' count reads all).
    type: raw
    default: auto
  drift_hosts:
    description:
      - Check only these hosts for drift (all when omitted). The role's confirmation after the apply names the hosts
        it repaired, so that a stack it updated for a settings change is checked by the next run (a plain update puts
        back only what it changes).
    type: list
    elements: str
  shared_topics:
    description:
      - Plan the shared topics of the regions whose endpoints are in topic mode C(shared) (RV(shared_topics)). The
        role's confirmation after the apply turns it off.
    type: bool
    default: true
  shared_topics_template_digest:
    description:
      - A digest of the shared topics stack's template, part of that stack's fingerprint, so that a new template is
        applied.
    type: str
    default: ""
  pending_subscriptions_quota:
    description:
      - How many subscriptions may wait for confirmation in an account and region before SNS refuses Subscribe
        (5,000 by default, SNS's quota; raise it if AWS raised yours). Where the run's new subscriptions that wait
        for their subscriber (email, email-json, http, https) would pass it, counted with those already waiting
        in the region's ListSubscriptions, the plan warns before anything is subscribed.
    type: int
    default: 5000
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Compare the play's endpoints with what is deployed
  mlops.sagemaker_monitoring.monitoring_plan:
    endpoints: "{{ ansible_play_batch | map('extract', hostvars, ['endpoint_monitoring_prepared', 'plan_entry']) }}"
  run_once: true
  register: endpoint_monitoring_plan
"""

RETURN = r"""
endpoints:
  description: Per inventory host, what its monitoring needs.
  returned: always
  type: dict
  contains:
    status: {description: "C(unchanged), C(changed) or C(failed).", type: str, returned: always}
    action:
      description: "What the stack needs: C(create), C(recreate), C(update), C(protect) (termination protection
        only), C(revert_drift) (what is deployed drifted from what the stack applied), C(delete) or C(none)."
      type: str
      returned: always
    changes: {description: Each change in words., type: list, elements: str, returned: always}
    outputs: {description: The deployed stack's outputs., type: dict, returned: always}
    protection_change: {description: Termination protection must be switched., type: bool, returned: always}
    subscriptions_change: {description: Subscribers must be added or removed., type: bool, returned: always}
    pending_confirmation:
      description: The endpoint's listed subscribers whose subscriptions still wait for confirmation (protocol, endpoint).
      type: list
      elements: dict
      returned: always
    confirmations_asked:
      description: How many of the subscriptions to make will wait for their subscriber's confirmation.
      type: int
      returned: always
    error: {description: Why the endpoint failed., type: str, returned: when failed}
    retired_topic:
      description:
        - The ARN of the stack's own topic, which no alarm notifies in the endpoint's topic mode (C(existing)) and
          which the stack template keeps, with its subscriptions (empty when there is none or it is purged).
      type: str
      returned: always
    topic_retirement:
      description: What becomes of that topic in this run (kept and retired, or removed with its subscriptions).
      type: list
      elements: str
      returned: when the run retires or removes the stack's former topic
    drift:
      description: What differs between the deployed alarms, dashboard or topic policy and what was applied.
      type: list
      elements: str
      returned: when the endpoint drifted
    fingerprint:
      description:
        - With C(stack), C(usage) and C(fleet_entry), what monitoring_prepare computes for the endpoint, from the
          facts read from SageMaker (not its spec, which the role computes again for the endpoints it changes).
      type: str
      returned: when the endpoint needs a change and the plan computed it, or its facts were read from SageMaker
changed_hosts: {description: Hosts whose monitoring needs a change., type: list, elements: str, returned: always}
pending_subscriptions:
  description:
    - Per region whose subscriptions were listed, C(pending) (subscriptions of the account waiting for
      confirmation), C(asked) (new subscriptions of this run that will wait for theirs) and C(quota).
  returned: always
  type: dict
facts:
  description: Per host, the SageMaker facts read in this run and the endpoint's LastModifiedTime, to cache.
  returned: always
  type: dict
calls:
  description: AWS calls the plan made, by operation.
  returned: always
  type: dict
aws_pages:
  description: The calls AWS would answer the plan's reads in, counted with AWS's page sizes.
  returned: always
  type: int
topic_policy_checks:
  description: Per region, how many topic policies were read (C(read)) of the stacks checked for drift (C(stacks)).
  returned: always
  type: dict
drifted_hosts: {description: Hosts whose deployed monitoring drifted., type: list, elements: str, returned: always}
shared_topics:
  description:
    - Per region (and connection) with endpoints in topic mode C(shared), what its shared topics stack and their
      subscriptions need.
  returned: always
  type: list
  elements: dict
  contains:
    region: {description: "The region.", type: str, returned: always}
    profile: {description: "The endpoints' AWS profile (empty for the default).", type: str, returned: always}
    endpoint_url: {description: "The endpoints' AWS endpoint URL (empty for AWS's own).", type: str, returned: always}
    key: {description: "The connection: region, profile and endpoint URL, joined by C(|).", type: str,
          returned: always}
    stack_name: {description: "The shared topics stack.", type: str, returned: always}
    status: {description: "C(unchanged), C(changed) or C(failed).", type: str, returned: always}
    action:
      description: "What the stack needs: C(create), C(recreate), C(update), C(protect) (termination protection
        only), C(revert_drift) (a topic or its policy was changed outside CloudFormation) or C(none)."
      type: str
      returned: always
    changes: {description: "Each change in words.", type: list, elements: str, returned: always}
    error: {description: "Why the region's shared topics cannot be applied (empty when they can).", type: str,
            returned: always}
    fingerprint: {description: "What the stack is to hold, kept as its output C(MonitoringFingerprint).", type: str,
                  returned: always}
    settings:
      description: The stack's settings (topic_kms_key, role_arn, notification_arns, termination_protection).
      type: dict
      returned: always
    outputs: {description: "The deployed stack's outputs.", type: dict, returned: always}
    subscribers:
      description: Per severity, the subscribers of its shared topic (protocol, endpoint, raw_message_delivery).
      type: dict
      returned: always
    subscribe: {description: "The severities whose subscriptions are to be made.", type: list, elements: str,
                returned: always}
    topics:
      description: The stack's topics (severity, name, logical_id, output), as its template writes them.
      type: list
      elements: dict
      returned: always
    hosts: {description: "The hosts of the region in topic mode shared.", type: list, elements: str, returned: always}
"""

import collections
import math
import random

try:
    from botocore.exceptions import BotoCoreError, ClientError

    AWS_ERRORS = (BotoCoreError, ClientError)
except ImportError:
    AWS_ERRORS = ()  # AnsibleAWSModule reports the missing library

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.catalog import SEVERITIES
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.drift import (
    CALLS_PER_ENDPOINT,
    POLICY_READ,
    alarm_drift,
    aws_pages,
    changed_alarms,
    cloudwatch_may_publish,
    dashboard_drift,
    policy_slice,
    topic_policy_drift,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import (
    describe,
    spec_from_settings,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import (
    SHARED_TOPICS_STACK,
    SpecError,
    names_prefix,
    shared_topic_name,
    spec_names,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.plan import (
    TOPIC_OUTPUT,
    describe_taken,
    group_subscriptions,
    live,
    namesakes,
    needs_own_topic_subscriptions,
    nothing_to_do,
    plan_endpoint,
    run_collisions,
    stack_resource_names,
    taken_names,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.shared_topics import (
    pending_of,
    plan_region_topics,
    region_topics,
    stack_topics,
    switch_gap,
    topics_drift,
    topics_fingerprint,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.subscriptions import (
    PENDING_QUOTA,
    count_pending,
    pending_quota_warning,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import (
    RETRY as SAGEMAKER_RETRY,
    components_by_endpoint,
    iso_time,
    list_inference_components,
    read_endpoint_facts,
    short_error,
)

RETRY = AWSRetry.jittered_backoff(retries=10, delay=1, max_delay=30)
# Items a page of each listing holds on AWS (its API reference), to count the calls AWS needs where a server
# answers in fewer pages.
PAGE_SIZES = {"describe_stacks": 100, "describe_alarms": 100, "list_subscriptions": 100, "list_topics": 100,
              "list_dashboards": 1000, "list_endpoints": 100, "list_stack_resources": 100}
# The results that go back for every endpoint, including unchanged ones: small, as a fleet has many.
DESCRIBED_KEYS = ("spec", "stack", "fingerprint", "usage", "fleet_entry")


class Region:
    """The listings of one region (and connection), read once and only as far as the batch needs them."""

    def __init__(self, module, region, profile, endpoint_url, calls):
        self.module = module
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.calls = calls
        extra = {"region": region, "config": client_config()}
        if profile:
            extra["profile_name"] = profile
        if endpoint_url:
            extra["endpoint"] = endpoint_url
        self._extra = extra
        self._clients = {}
        self._alarms = None
        self._dashboards = None
        self.aws_pages = 0  # the calls AWS would answer these listings in, from its page sizes

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = self.module.client(service, **self._extra)
        return self._clients[service]

    def _pages(self, service, operation, key, **kwargs):
        """The items under key (or under each of a tuple of keys) of every page."""
        items = []
        for page in self.client(service).get_paginator(operation).paginate(**kwargs):
            self.calls[operation] += 1
            for one in key if isinstance(key, tuple) else (key,):
                items.extend(page.get(one) or [])
        self.aws_pages += aws_pages(len(items), PAGE_SIZES.get(operation, len(items) or 1))
        return items

    def alarms(self):
        """The region's alarms of the collection (metric and composite), by name; read once."""
        if self._alarms is None:
            listed = RETRY(self._pages)("cloudwatch", "describe_alarms", ("MetricAlarms", "CompositeAlarms"),
                                        AlarmNamePrefix=names_prefix(), AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                                        MaxRecords=PAGE_SIZES["describe_alarms"])
            self._alarms = dict((a["AlarmName"], a) for a in listed)
        return self._alarms

    def dashboards(self):
        """The account's dashboards of the collection by name (dashboards are global); read once."""
        if self._dashboards is None:
            listed = RETRY(self._pages)("cloudwatch", "list_dashboards", "DashboardEntries",
                                        DashboardNamePrefix=names_prefix())
            self._dashboards = dict((d["DashboardName"], d) for d in listed)
        return self._dashboards

    def topic_policy(self, topic_arn):
        self.calls[POLICY_READ] += 1
        self.aws_pages += 1
        attributes = RETRY(self.client("sns").get_topic_attributes)(TopicArn=topic_arn)["Attributes"]
        return attributes.get("Policy")

    def stacks(self):
        pages = RETRY(self._pages)
        return dict((s["StackName"], s) for s in live(pages("cloudformation", "describe_stacks", "Stacks")))

    def held_names(self):
        """{kind: names} of the region's alarms, topics and dashboards whose names start with the collection's
        prefix (dashboards are global: all of the account's)."""
        prefix = names_prefix()
        topics = [t["TopicArn"].rsplit(":", 1)[-1] for t in RETRY(self._pages)("sns", "list_topics", "Topics")]
        return {"alarm": set(self.alarms()), "topic": set(t for t in topics if t.startswith(prefix)),
                "dashboard": set(self.dashboards())}

    def stack_resources(self, stack_name):
        """(kind, name) of the alarms, topic and dashboard a stack holds."""
        return stack_resource_names(RETRY(self._pages)("cloudformation", "list_stack_resources",
                                                       "StackResourceSummaries", StackName=stack_name))

    def stack_appeared(self, stack_name):
        """Whether the stack exists now, though the region's listing had none: another run is creating it."""
        self.calls["describe_stacks"] += 1
        self.aws_pages += 1
        try:
            stacks = RETRY(self.client("cloudformation").describe_stacks)(StackName=stack_name)["Stacks"]
        except AWS_ERRORS as e:
            if "does not exist" in str(e):
                return False
            raise
        return bool(live(stacks))

    def subscription_attributes(self, subscription_arn):
        self.calls["get_subscription_attributes"] += 1
        self.aws_pages += 1
        return RETRY(self.client("sns").get_subscription_attributes)(SubscriptionArn=subscription_arn)["Attributes"]

    def subscriptions(self):
        return group_subscriptions(RETRY(self._pages)("sns", "list_subscriptions", "Subscriptions"))

    def endpoints(self):
        pages = SAGEMAKER_RETRY(self._pages)
        return dict((e["EndpointName"], e) for e in pages("sagemaker", "list_endpoints", "Endpoints", MaxResults=100))

    def components(self):
        self.calls["list_inference_components"] += 1
        self.aws_pages += 1
        try:
            return components_by_endpoint(list_inference_components(self.client("sagemaker")))
        except AWS_ERRORS as e:
            self.module.warn("Could not list SageMaker inference components in %s, so endpoints named only by the "
                             "inventory are taken to have none: %s" % (self.region, short_error(e)))
            return {}


def _topic_gone(error):
    """Whether a GetTopicAttributes error says the topic does not exist (SNS: NotFound)."""
    return "NotFound" in str(error) or "does not exist" in str(error)


def _connection_key(entry):
    return (entry.get("profile") or "", entry.get("endpoint_url") or "", entry["region"])


class Plan:
    def __init__(self, module):
        self.module = module
        self.calls = collections.Counter()
        self.results = collections.OrderedDict()
        self.facts = {}
        self.pending = {}
        self.policy_checks = {}
        self.shared_topics = []
        self.aws_pages = 0

    def fail(self, entry, message):
        self.results[entry["host"]] = dict(
            nothing_to_do(), endpoint=entry["endpoint"], region=entry["region"], stack_name=entry["stack_name"],
            status="failed", error=message if message.startswith("endpoint %r" % entry["endpoint"])
            else "endpoint %r: %s" % (entry["endpoint"], message))

    def run(self, entries):
        refused = run_collisions(entries)
        groups = collections.OrderedDict()
        for i, entry in enumerate(entries):
            if i in refused:
                self.fail(entry, refused[i])
                continue
            groups.setdefault(_connection_key(entry), []).append(entry)
        for (profile, endpoint_url, region), group in groups.items():
            listings = Region(self.module, region, profile, endpoint_url, self.calls)
            try:
                self.plan_region(listings, group)
            except AWS_ERRORS as e:
                for entry in group:
                    if entry["host"] not in self.results:
                        self.fail(entry, "could not read what is deployed in %s: %s" % (region, short_error(e)))
            self.aws_pages += listings.aws_pages
        return self.results

    def complete_from_sagemaker(self, listings, group):
        """Endpoints named only by the inventory: their facts from SageMaker, read again only where ListEndpoints
        says the endpoint changed since they were last read."""
        wanted = [e for e in group if e["state"] == "present" and e.get("discover")]
        if not wanted:
            return list(group)
        ready = [e for e in group if not (e["state"] == "present" and e.get("discover"))]
        try:
            known = listings.endpoints()
        except AWS_ERRORS as e:
            # Only the endpoints that need SageMaker fail; those the inventory describes go on.
            for entry in wanted:
                self.fail(entry, "could not list the SageMaker endpoints of %s to read what the endpoint is (the "
                                 "inventory does not say: endpoint_monitoring_variants): %s"
                          % (listings.region, short_error(e)))
            return ready
        models, components = {}, None
        for entry in wanted:
            summary = known.get(entry["endpoint"])
            if summary is None:
                self.fail(entry, "SageMaker has no endpoint %r in %s, and the inventory does not say what it is "
                                 "(endpoint_monitoring_variants)" % (entry["endpoint"], listings.region))
                continue
            mark = iso_time(summary.get("LastModifiedTime"))
            if entry.get("fingerprint") and entry.get("facts_mark") == mark:
                ready.append(entry)
                continue
            if components is None:
                components = listings.components()
            self.calls["describe_endpoint"] += 1
            listings.aws_pages += 1
            try:
                read = read_endpoint_facts(listings.client("sagemaker"), entry["endpoint"], models, components,
                                           self.module.warn)
            except AWS_ERRORS as e:
                self.fail(entry, "could not read SageMaker endpoint %r in %s: %s"
                          % (entry["endpoint"], listings.region, short_error(e)))
                continue
            if read is None:
                self.fail(entry, "SageMaker endpoint %r in %s was deleted while it was read"
                          % (entry["endpoint"], listings.region))
                continue
            facts = read[2]
            try:
                completed = self.describe(dict(entry, facts=facts, facts_mark=mark))
            except SpecError as e:
                self.fail(entry, str(e))
                continue
            self.facts[entry["host"]] = {"endpoint": entry["endpoint"], "region": listings.region,
                                         "last_modified": mark, "facts": facts}
            ready.append(completed)
        return ready

    @staticmethod
    def describe(entry):
        """The entry completed with the endpoint's spec, fingerprint and usage, built from the settings, code digest
        and facts it carries by the code the prepare step uses. Raises SpecError."""
        settings = entry["settings"]
        described = describe(settings, spec_from_settings(settings, entry.get("facts")), entry.get("code"),
                             facts_mark=entry.get("facts_mark"), facts=entry.get("facts"))
        return dict(described["plan_entry"], host=entry["host"],
                    described=dict((k, described[k]) for k in DESCRIBED_KEYS))

    def plan_region(self, listings, group):
        group = self.complete_from_sagemaker(listings, group)
        if not group:
            return
        stacks = listings.stacks()
        subscriptions = {}
        if any(needs_own_topic_subscriptions(e, stacks.get(e["stack_name"])) for e in group):
            subscriptions = listings.subscriptions()
        created = []
        for entry in group:
            result = plan_endpoint(entry, stacks.get(entry["stack_name"]), subscriptions)
            if result["status"] == "changed" and entry["state"] == "present" and "described" not in entry:
                try:
                    entry = self.describe(entry)
                except SpecError as e:
                    self.fail(entry, str(e))
                    continue
            result.update(endpoint=entry["endpoint"], region=entry["region"], stack_name=entry["stack_name"])
            if result["status"] == "failed":
                result["error"] = "endpoint %r: %s" % (entry["endpoint"], result["error"])
            result.update(entry.get("described") or {})
            if result["status"] == "changed" and result["action"] in ("create", "recreate"):
                created.append((entry, result))
            self.results[entry["host"]] = result
        self.check_drift(listings, group, stacks)
        self.check_user_topics(listings, group)
        if created:
            self.check_names_free(listings, stacks, created)
        asked = 0
        if self.module.params["shared_topics"]:
            asked = self.plan_shared_topics(listings, group, stacks, subscriptions)
        if subscriptions:
            self.count_pending(listings.region, subscriptions, group, asked)

    def check_drift(self, listings, group, stacks):
        """Endpoints whose stack holds what is wanted (by its fingerprint): their alarms, dashboard and (for a slice
        of them per run) topic policy compared with what is deployed; an endpoint that drifted is changed, with a
        line per difference, and its stack is repaired by a drift-aware change set (action revert_drift)."""
        checked = []
        only = self.module.params["drift_hosts"]
        for entry in group:
            result = self.results.get(entry["host"])
            if only is not None and entry["host"] not in only:
                continue
            settled = result and result["status"] != "failed" and result["action"] in ("none", "protect")
            wanted = entry["state"] == "present" and entry.get("expected") and entry.get("drift_checks")
            shared = entry.get("topic_mode") == "shared"
            notified = result and (result["outputs"].get(TOPIC_OUTPUT) or entry.get("topic_arns") or shared)
            if settled and wanted and notified:
                checked.append((entry, result))
        if not checked:
            return
        try:
            alarms = listings.alarms() if any("alarms" in e["drift_checks"] for e, _result in checked) else {}
            dashboards = listings.dashboards() if any(
                "dashboard" in e["drift_checks"] and e["expected"].get("dashboard") for e, _result in checked) else {}
        except AWS_ERRORS as e:
            # What is deployed was found as applied; only its verification could not be made this time.
            self.module.warn("could not read the alarms and dashboards of %s to check %d stacks for drift; they are "
                             "checked again by the next run: %s" % (listings.region, len(checked), short_error(e)))
            return
        topics = [r["outputs"][TOPIC_OUTPUT] for e, r in checked
                  if "topic_policy" in e["drift_checks"] and r["outputs"].get(TOPIC_OUTPUT)]
        reads = self.policy_reads(len(group), listings.aws_pages)
        chosen = set(policy_slice(topics, reads, random.sample))
        self.policy_checks[listings.region] = {"read": len(chosen), "stacks": len(topics)}
        for entry, result in checked:
            topic = result["outputs"].get(TOPIC_OUTPUT)
            lines = []
            checks = entry["drift_checks"]
            differing = changed_alarms(entry["expected"], alarms, topic) if "alarms" in checks else []
            if differing:
                try:
                    described = self.describe(entry)["described"]
                except SpecError as e:
                    self.fail(entry, str(e))
                    continue
                result.update(described)
                spec = described["spec"]
                lines.extend(alarm_drift(spec, alarms, topic, differing))
            if "dashboard" in checks:
                lines.extend(dashboard_drift(entry["expected"], dashboards))
            if topic in chosen:
                try:
                    lines.extend(topic_policy_drift(topic, listings.topic_policy(topic)))
                except AWS_ERRORS as e:
                    self.module.warn("could not read the policy of topic %s to check it for drift; it is checked again "
                                     "by a later run: %s" % (topic, short_error(e)))
            if lines:
                result.update(status="changed", action="revert_drift", drift=lines,
                              changes=lines + result["changes"])

    def check_user_topics(self, listings, group):
        """Endpoints whose stack is to be written with topic_mode existing: refused, before any write, where a topic
        the user gave does not exist or does not let CloudWatch publish to it. Each topic is read once per region
        (GetTopicAttributes), and never written."""
        verdicts = {}
        for entry in group:
            result = self.results.get(entry["host"])
            writes_stack = result and result["status"] == "changed" and result["action"] != "none"
            if not (writes_stack and entry["state"] == "present" and entry.get("topic_arns")):
                continue
            problems = []
            for severity, arn in sorted(entry["topic_arns"].items()):
                if arn not in verdicts:
                    verdicts[arn] = self.user_topic_problem(listings, arn)
                if verdicts[arn]:
                    problems.append("endpoint_monitoring_topic_arns.%s: %s" % (severity, verdicts[arn]))
            if problems:
                self.fail(entry, "%s; nothing of this endpoint was written" % "; ".join(problems))

    @staticmethod
    def user_topic_problem(listings, arn):
        """Why the alarms could not notify the user's topic `arn` (None when they can)."""
        try:
            policy = listings.topic_policy(arn)
        except AWS_ERRORS as e:
            if _topic_gone(e):
                return ("topic %s does not exist in %s: create it (the collection never creates or changes the topics "
                        "you give) or correct the ARN" % (arn, listings.region))
            if "AuthorizationError" in str(e) or "AccessDenied" in str(e):
                return ("the runner may not read topic %s: allow it sns:GetTopicAttributes on that ARN (%s)"
                        % (arn, short_error(e)))
            return "could not read topic %s: %s" % (arn, short_error(e))
        if not cloudwatch_may_publish(policy):
            return ("the policy of topic %s does not let CloudWatch publish to it: add an Allow statement for "
                    "sns:Publish with Principal {\"Service\": \"cloudwatch.amazonaws.com\"} (the collection never "
                    "changes the topics you give)" % arn)
        return None

    def policy_reads(self, endpoints, pages_so_far):
        """How many topic policies this run reads in a region: what the budget of a no-change run leaves after the
        listings (at least one, so that a small fleet is read too), or the number asked for."""
        asked = self.module.params["topic_policy_reads"]
        if asked != "auto":
            return int(asked)
        return max(1, int(math.floor(CALLS_PER_ENDPOINT * endpoints)) - pages_so_far)

    def plan_shared_topics(self, listings, group, stacks, subscriptions):
        """The region's shared topics (topic_mode shared): what their stack and subscriptions need, from the
        listings already read, the raw delivery of the kept sqs and https subscriptions, and, where the stack holds
        what is wanted, its topics and their policies (GetTopicAttributes: one call per topic). Endpoints that
        disagree on what the one stack holds fail; all of the region's fail where the stack cannot be written
        safely. Returns how many new subscriptions will wait for confirmation."""
        shared = [e for e in group if e["state"] == "present" and e.get("topic_mode") == "shared"]
        shared = [e for e in shared if self.results.get(e["host"], {}).get("status") != "failed"]
        if not shared:
            return 0
        topics, refused = region_topics(shared)
        for entry in shared:
            if entry["host"] in refused:
                self.fail(entry, refused[entry["host"]] + "; nothing of this endpoint was written")
        shared = [e for e in shared if e["host"] not in refused]
        if not shared:
            return 0
        fingerprint = topics_fingerprint(topics, self.module.params["shared_topics_template_digest"])
        stack = stacks.get(SHARED_TOPICS_STACK)
        try:
            plan = plan_region_topics(stack, topics, fingerprint, subscriptions, listings.subscription_attributes)
        except AWS_ERRORS as e:
            self.module.warn("could not read the raw delivery of the shared topics' subscriptions in %s; it is checked "
                             "again by the next run: %s" % (listings.region, short_error(e)))
            plan = plan_region_topics(stack, topics, fingerprint, subscriptions)
        if plan["action"] in ("create", "recreate") and not plan["error"]:
            plan["error"] = self.shared_names_taken(listings, plan["action"])
            if plan["error"]:
                plan["status"] = "failed"
        if plan["action"] == "none" and plan["status"] != "failed":
            drift = self.shared_topics_drift(listings, plan["outputs"])
            if drift:
                plan.update(status="changed", action="revert_drift", changes=drift + plan["changes"])
        for entry in shared:
            result = self.results[entry["host"]]
            if plan["status"] == "failed":
                self.fail(entry, "the shared topics of %s (topic_mode shared): %s; nothing of this endpoint was "
                                 "written" % (listings.region, plan["error"]))
                continue
            result["pending_confirmation"] = pending_of(entry, plan["pending"])
            gap = switch_gap(entry, result, plan["pending"])
            if gap:
                result["changes"].append(gap)
                result["topic_retirement"].append(gap)
        if any(e.get("purge_subscriptions") for e in shared):
            self.module.warn("%s: endpoint_monitoring_purge_subscriptions removes no subscription of the shared topics "
                             "(topic_mode shared): a run sees only its own endpoints of the fleet, not who else is "
                             "subscribed; remove one with aws sns unsubscribe" % listings.region)
        key = {"region": listings.region, "profile": listings.profile or "", "endpoint_url": listings.endpoint_url or ""}
        self.shared_topics.append(dict(
            plan, key="%(region)s|%(profile)s|%(endpoint_url)s" % key, stack_name=SHARED_TOPICS_STACK,
            fingerprint=fingerprint, settings=topics["settings"], subscribers=topics["subscribers"],
            topics=stack_topics(), hosts=[e["host"] for e in shared], **key))
        return plan["confirmations_asked"] if plan["status"] != "failed" else 0

    def shared_topics_drift(self, listings, outputs):
        """Worded drift of a settled shared topics stack's topics: each read once (GetTopicAttributes); a topic
        that is gone is said, a read that fails otherwise is warned about and tried again by the next run."""
        policies = {}
        for topic in stack_topics():
            arn = outputs.get(topic["output"])
            if not arn:
                continue
            try:
                policies[arn] = listings.topic_policy(arn)
            except AWS_ERRORS as e:
                if _topic_gone(e):
                    policies[arn] = None
                else:
                    self.module.warn("could not read shared topic %s to check it for drift; it is checked again by "
                                     "the next run: %s" % (arn, short_error(e)))
        return topics_drift(outputs, policies)

    def shared_names_taken(self, listings, action):
        """Why the shared topics stack may not be created (empty when it may): a topic of its names that it does not
        hold already exists, and CloudFormation would take it over."""
        try:
            held = listings.held_names()
            own = listings.stack_resources(SHARED_TOPICS_STACK) if action == "recreate" else ()
        except AWS_ERRORS as e:
            return "could not check that the names of the shared topics are free: %s" % short_error(e)
        taken = taken_names([("topic", shared_topic_name(s)) for s in SEVERITIES], held, own)
        return describe_taken(taken, SHARED_TOPICS_STACK, listings.region) if taken else ""

    def count_pending(self, region, subscriptions, group, shared_asked=0):
        """The region's subscriptions waiting for confirmation (the whole account's, as ListSubscriptions lists
        them), and those this run's new subscriptions add (the shared topics' included); a warning before they
        would pass SNS's quota."""
        asked = shared_asked + sum(self.results[e["host"]]["confirmations_asked"] for e in group
                                   if e["host"] in self.results)
        pending = count_pending([s for subs in subscriptions.values() for s in subs])
        quota = self.module.params["pending_subscriptions_quota"]
        self.pending[region] = {"pending": pending, "asked": asked, "quota": quota}
        warning = pending_quota_warning(region, pending, asked, quota)
        if warning:
            self.module.warn(warning)

    def check_names_free(self, listings, stacks, created):
        """Endpoints whose stack is to be created (again): refused where an alarm, topic or dashboard holds a name
        the stack would take and is not in the endpoint's stack. CloudFormation would take it over (CreateTopic and
        PutDashboard answer with the existing one, PutMetricAlarm overwrites), and delete it with the stack."""
        try:
            held = listings.held_names()
        except AWS_ERRORS as e:
            for entry, _result in created:
                self.fail(entry, "could not check that the names of its alarms, topic and dashboard are free in %s: %s"
                          % (listings.region, short_error(e)))
            return
        for entry, result in created:
            own = ()
            if result["action"] == "recreate":
                try:
                    own = listings.stack_resources(entry["stack_name"])
                except AWS_ERRORS as e:
                    self.fail(entry, "could not read what stack %s holds in %s: %s"
                              % (entry["stack_name"], listings.region, short_error(e)))
                    continue
            wanted = spec_names(result["spec"], dashboard=(result.get("stack") or {}).get("dashboard") != "fleet")
            taken = taken_names(wanted, held, own)
            if not taken:
                continue
            try:
                appeared = result["action"] == "create" and listings.stack_appeared(entry["stack_name"])
            except AWS_ERRORS:
                appeared = False
            if appeared:
                # Created between the listing of stacks and that of names: what it holds is its own.
                self.fail(entry, "stack %s appeared while this run read what is deployed in %s: another run or a "
                          "person is creating it. Run again when it is done." % (entry["stack_name"], listings.region))
            else:
                self.fail(entry, describe_taken(taken, entry["stack_name"], listings.region,
                                                namesakes(stacks.values(), entry)))


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(endpoints=dict(type="list", elements="dict", required=True),
                           pending_subscriptions_quota=dict(type="int", default=PENDING_QUOTA),
                           topic_policy_reads=dict(type="raw", default="auto"),
                           drift_hosts=dict(type="list", elements="str"),
                           shared_topics=dict(type="bool", default=True),
                           shared_topics_template_digest=dict(type="str", default="")),
        supports_check_mode=True,
    )
    reads = module.params["topic_policy_reads"]
    if reads != "auto":
        try:
            valid = not isinstance(reads, bool) and int(str(reads)) >= 0
        except ValueError:
            valid = False
        if not valid:
            module.fail_json(msg="topic_policy_reads (endpoint_monitoring_topic_policy_reads) must be auto or a whole "
                                 "number of 0 or more, got %r" % (reads,))
    entries = module.params["endpoints"]
    for entry in entries:
        for sub in entry.get("subscribers") or []:
            if sub.get("protocol") in ("http", "https") and sub.get("endpoint"):
                module.no_log_values.add(sub["endpoint"])  # webhook URLs often hold tokens
    missing = [i for i, e in enumerate(entries) if not all(k in e for k in ("host", "endpoint", "region", "stack_name"))]
    if missing:
        module.fail_json(msg="endpoints[%d] lacks host, endpoint, region or stack_name" % missing[0])
    plan = Plan(module)
    # Without the specs: the role registers this result on every host of the batch, where each template lookup
    # copies it whole; the role computes each changed endpoint's spec again, per host (monitoring_prepare).
    results = collections.OrderedDict((host, dict((k, v) for k, v in result.items() if k != "spec"))
                                      for host, result in plan.run(entries).items())
    module.exit_json(
        changed=False, endpoints=results, facts=plan.facts, calls=dict(plan.calls),
        pending_subscriptions=plan.pending, aws_pages=plan.aws_pages, topic_policy_checks=plan.policy_checks,
        shared_topics=plan.shared_topics,
        drifted_hosts=[h for h, r in results.items() if r.get("drift")],
        changed_hosts=[h for h, r in results.items() if r["status"] == "changed"],
        failed_hosts=[h for h, r in results.items() if r["status"] == "failed"])


if __name__ == "__main__":
    main()

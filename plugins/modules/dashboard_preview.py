#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: dashboard_preview
short_description: Draw a CloudWatch dashboard body to a PNG and a static HTML page
version_added: 1.0.0
description:
  - Draws the dashboard body that M(mlops.sagemaker_monitoring.sagemaker_dashboard) computes as CloudWatch
    lays it out, on the 24-column grid with each widget at its place and with its title. Text widgets show
    their text, alarm-status widgets a coloured tile per alarm, metric widgets a line per metric with each
    alarm threshold as a horizontal line shaded on the side that alarms.
  - A graph's y axis is in the unit its thresholds are written in, and says it (V(ms) for latencies SageMaker
    reports in microseconds, V(% per vCPU) for CPU utilization summed over the vCPUs, ...); the lines are scaled
    to it. A graph whose lines are in several units gets an axis per unit, the others on the right.
  - A threshold's label is put where it crosses no line and no other label, beside its line, else further up or
    down with a dotted leader line to it, else shorter; one that finds no place is listed in the graph's legend.
  - Writes C(<name>.png) and C(<name>.html) (the picture and a list of the widgets) to O(dest).
  - With O(source=synthetic) the lines are made-up data shaped by the thresholds (quiet, with one
    excursion across each threshold) and no AWS call is made. With O(source=cloudwatch) they are the
    last O(hours) of GetMetricData and the alarm tiles take their states from DescribeAlarms; a line with no
    data (or whose query the service refuses) is drawn from synthetic data. Synthetic lines are dashed and
    marked C((synthetic)) in the legend.
  - "Each AWS call is retried in botocore's standard retry mode, 10 times unless O(aws_config) says otherwise (the
    preview playbook passes C(endpoint_monitoring_aws_config)): throttling, 5xx answers with or without an error
    code, dropped connections and timeouts, with a jittered backoff. Only a query refused for good (a 4xx answer,
    or a fault that outlasts the retries) is drawn from synthetic data."
  - Anomaly-detection bands are not queried; an approximate band is drawn around the line they belong to.
  - Reports C(changed) only when a file's content changes; in check mode nothing is written. The window of
    O(source=cloudwatch) ends at O(end_time), by default the next multiple of 5 minutes, so runs within
    the same 5 minutes draw the same picture.
  - Needs matplotlib on the host that runs the module (the controller, for this collection's playbooks).
options:
  body:
    description: The dashboard body, as returned in RV(mlops.sagemaker_monitoring.sagemaker_dashboard#module:body).
    type: dict
    required: true
  dest:
    description: Directory to write the files to; created if missing.
    type: path
    required: true
  name:
    description: Base name of the files (C(<name>.png), C(<name>.html)); usually the endpoint name.
    type: str
    required: true
  title:
    description: "Title of the HTML page. Default is C(Dashboard preview: <name>)."
    type: str
  source:
    description: Where the data of the lines comes from.
    type: str
    choices: [synthetic, cloudwatch]
    default: synthetic
  hours:
    description: Length of the time window, in hours (1 to 336).
    type: int
    default: 3
  end_time:
    description:
      - End of the time window, ISO 8601 in UTC (C(2025-06-01T12:00:00Z)), for a picture that can be drawn again
        the same. The x axes then show UTC clock times.
      - Default for O(source=cloudwatch) is the next multiple of 5 minutes; for O(source=synthetic) the axes show
        hours before now.
    type: str
  alarm_states:
    description:
      - Alarm name to state (C(OK), C(ALARM), C(INSUFFICIENT_DATA)), over what DescribeAlarms says.
      - An alarm named nowhere is drawn as C(INSUFFICIENT_DATA).
    type: dict
    default: {}
  seed:
    description: Seed of the synthetic data; the same seed draws the same data.
    type: int
    default: 0
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
author:
  - mlops.sagemaker_monitoring contributors (@example)
"""

EXAMPLES = r"""
- name: Compute the dashboard of an endpoint
  mlops.sagemaker_monitoring.sagemaker_dashboard:
    endpoint_name: churn-model
    region: eu-west-1
    alarms: "{{ spec.spec.alarms }}"
  register: dashboard

- name: Preview it with made-up data (no AWS call)
  mlops.sagemaker_monitoring.dashboard_preview:
    body: "{{ dashboard.body }}"
    dest: /tmp/preview
    name: churn-model

- name: Preview it with the last 6 hours of the endpoint's metrics and the alarms' states
  mlops.sagemaker_monitoring.dashboard_preview:
    body: "{{ dashboard.body }}"
    dest: /tmp/preview
    name: churn-model
    source: cloudwatch
    hours: 6
    region: eu-west-1
"""

RETURN = r"""
png:
  description: Path of the PNG.
  returned: success
  type: str
  sample: /tmp/preview/churn-model.png
html:
  description: Path of the HTML page.
  returned: success
  type: str
  sample: /tmp/preview/churn-model.html
width:
  description: Width of the picture in pixels.
  returned: success
  type: int
height:
  description: Height of the picture in pixels.
  returned: success
  type: int
widgets:
  description: Number of widgets drawn.
  returned: success
  type: int
lines:
  description: Number of metric lines drawn from data of their own.
  returned: success
  type: int
synthetic_lines:
  description: Labels of the lines drawn from synthetic data (widget title and line label).
  returned: success
  type: list
  elements: str
refused_lines:
  description: Labels of the lines whose GetMetricData query CloudWatch refused (drawn from synthetic data).
  returned: success
  type: list
  elements: str
end_time:
  description: End of the time window (UTC), when the window is tied to a time.
  returned: success
  type: str
alarm_states:
  description: The state each alarm tile was drawn in.
  returned: success
  type: dict
"""

import calendar
import datetime
import os
import tempfile
import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

try:
    import matplotlib  # noqa: F401  pylint: disable=unused-import

    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.warnings import warn

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import dashboard_preview as preview
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.cloudwatch_data import metric_data_pages

ALIGN_SECONDS = 300
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
# Errors that mean the caller cannot read CloudWatch at all: fail rather than draw everything made up.
FATAL_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
               "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException",
               "SignatureDoesNotMatch", "MissingAuthenticationToken")
THROTTLING_CODES = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded")


class ThrottlingRetry(AWSRetry):
    """More retries for throttling that outlasts the client's own (botocore's standard mode, which retries every
    transient fault). A query the service refuses (an emulator refusing an expression, say) is not asked again,
    and its lines are drawn from synthetic data instead."""

    @staticmethod
    def found(response_code, catch_extra_error_codes=None):
        return response_code in THROTTLING_CODES


def parse_end_time(text):
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return calendar.timegm(time.strptime(text, fmt))
        except ValueError:
            continue
    raise ValueError("end_time %r is not an ISO 8601 UTC time such as 2025-06-01T12:00:00Z" % text)


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_code(e):
    return getattr(e, "response", {}).get("Error", {}).get("Code", "")


def get_metric_data(client, queries, start, end):
    """{query id: (timestamps as epoch seconds, values)} of one request, all pages."""
    found = dict((q["Id"], ([], [])) for q in queries if q.get("ReturnData", True))
    for answer in metric_data_pages(client, queries, start, end):
        for result in answer.get("MetricDataResults", []):
            times, values = found.setdefault(result["Id"], ([], []))
            times.extend(calendar.timegm(t.utctimetuple()) for t in result.get("Timestamps", []))
            values.extend(result.get("Values", []))
    return found


def fetch_series(module, body, start, end):
    """Series of the lines CloudWatch has data for, and labels of the lines whose queries were refused."""
    clients = {}
    series = {}
    refused = []

    def client_for(region):
        region = region or module.region
        if region not in clients:
            clients[region] = module.client(
                "cloudwatch", region=region, retry_decorator=ThrottlingRetry.jittered_backoff(retries=8, delay=1),
                config=client_config())
        return clients[region]

    def run(request):
        try:
            return get_metric_data(client_for(request["region"]), request["queries"], start, end)
        except botocore.exceptions.ClientError as e:
            if error_code(e) in FATAL_CODES:
                module.fail_json_aws(e, msg="Failed to read metric data from CloudWatch")
            return None
        except botocore.exceptions.BotoCoreError as e:
            module.fail_json_aws(e, msg="Failed to read metric data from CloudWatch")

    end_epoch = calendar.timegm(end.utctimetuple())
    for request in preview.cloudwatch_requests(body):
        results = run(request)
        if results is None:
            # The whole widget was refused: try its metric lines one by one; expressions stay synthetic.
            results = {}
            refused.extend(q.get("Label", q["Id"]) for q in request["queries"]
                           if "Expression" in q and q["Id"] in request["keys"])
            for single in preview.single_queries(request):
                answer = run(single)
                if answer is None:
                    refused.append(single["queries"][0].get("Label", single["queries"][0]["Id"]))
                else:
                    results.update(answer)
        for query_id, key in request["keys"].items():
            times, values = results.get(query_id, ([], []))
            if values:
                series[key] = preview.series_from_result(times, values, end_epoch)
    return series, refused


def fetch_states(module, body):
    states = {}
    by_region = {}
    for name, region in preview.alarm_names(body):
        by_region.setdefault(region or module.region, []).append(name)
    for region, names in sorted(by_region.items()):
        client = module.client("cloudwatch", region=region, retry_decorator=AWSRetry.jittered_backoff(),
                               config=client_config())
        for start in range(0, len(names), 100):
            try:
                pages = client.get_paginator("describe_alarms").paginate(
                    AlarmNames=names[start:start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]).build_full_result()
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                module.fail_json_aws(e, msg="Failed to read the states of the dashboard's alarms")
            for alarm in pages.get("MetricAlarms", []) + pages.get("CompositeAlarms", []):
                states[alarm["AlarmName"]] = alarm["StateValue"]
    return states


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except (IOError, OSError):
        return None


def write(path, data):
    directory = os.path.dirname(path)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    module = AnsibleAWSModule(
        argument_spec=dict(
            body=dict(type="dict", required=True),
            dest=dict(type="path", required=True),
            name=dict(type="str", required=True),
            title=dict(type="str"),
            source=dict(type="str", choices=["synthetic", "cloudwatch"], default="synthetic"),
            hours=dict(type="int", default=3),
            end_time=dict(type="str"),
            alarm_states=dict(type="dict", default={}),
            seed=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    if not HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"))
    p = module.params
    name = p["name"]
    if not name or "/" in name or os.sep in name or name in (".", ".."):
        module.fail_json(msg="name %r must be a plain file name (no directory)" % name)
    if not 1 <= p["hours"] <= 336:
        module.fail_json(msg="hours must be from 1 to 336, got %d" % p["hours"])
    bad_states = dict((k, v) for k, v in p["alarm_states"].items() if v not in STATES)
    if bad_states:
        module.fail_json(msg="alarm_states: states must be one of %s, got %s" % (", ".join(STATES), bad_states))
    end_epoch = None
    if p["end_time"]:
        try:
            end_epoch = parse_end_time(p["end_time"])
        except ValueError as e:
            module.fail_json(msg=str(e))
    elif p["source"] == "cloudwatch":
        end_epoch = -(-int(time.time()) // ALIGN_SECONDS) * ALIGN_SECONDS
    body = p["body"]
    try:
        preview.layout(body)
        preview.metric_lines(body)
    except preview.PreviewError as e:
        module.fail_json(msg="dashboard %r: %s" % (name, e))

    series = {}
    states = {}
    refused = []
    if p["source"] == "cloudwatch":
        end = datetime.datetime.fromtimestamp(end_epoch, tz=datetime.timezone.utc)
        series, refused = fetch_series(module, body, end - datetime.timedelta(hours=p["hours"]), end)
        states = fetch_states(module, body)
        if refused:
            # Not module.warn: amazon.aws passes its warnings to exit_json, which ansible-core 2.19 deprecates.
            warn("CloudWatch refused the query of %d line%s, drawn from synthetic data instead: %s"
                 % (len(refused), "" if len(refused) == 1 else "s", ", ".join(refused)))
    states.update(p["alarm_states"])
    made_up = preview.synthetic_data(body, hours=p["hours"], seed=p["seed"], only_missing_from=series)
    series.update(made_up)

    widgets = body["widgets"]
    synthetic_lines = sorted("%s: %s" % (preview.widget_title(widgets[w]), line["label"])
                             for w, i, line in preview.metric_lines(body) if preview.series_key(w, i) in made_up)
    drawn = sum(1 for _w, _i, line in preview.metric_lines(body) if preview.needs_data(line))
    if p["source"] == "synthetic":
        note = "Synthetic data (made up from the alarm thresholds, seed %d), %d hours." % (p["seed"], p["hours"])
    else:
        note = "CloudWatch data of the %d hours to %s; %d of %d lines had none (or CloudWatch refused their query) " \
               "and are drawn from synthetic data (dashed)." % (p["hours"], iso(end_epoch), len(made_up), drawn)
    title = p["title"] or "Dashboard preview: %s" % name
    png_path = os.path.join(p["dest"], name + ".png")
    html_path = os.path.join(p["dest"], name + ".html")
    try:
        png = preview.render_png(body, series, states=states, hours=p["hours"], end_time=end_epoch)
        page = preview.render_html(body, name + ".png", title=title, note=note, series=series,
                                   states=states).encode("utf-8")
    except preview.PreviewError as e:
        module.fail_json(msg="dashboard %r: %s" % (name, e))

    existing = dict((path, read(path)) for path in (png_path, html_path))
    changes = [path for path, data in ((png_path, png), (html_path, page)) if existing[path] != data]
    if changes and not module.check_mode:
        try:
            if not os.path.isdir(p["dest"]):
                os.makedirs(p["dest"])
            for path, data in ((png_path, png), (html_path, page)):
                if path in changes:
                    write(path, data)
        except (IOError, OSError) as e:
            module.fail_json(msg="Failed to write the preview to %s: %s" % (p["dest"], e))

    width, height = preview.canvas_size(body)
    result = dict(
        changed=bool(changes),
        png=png_path,
        html=html_path,
        width=width,
        height=height,
        widgets=len(widgets),
        lines=drawn,
        synthetic_lines=synthetic_lines,
        refused_lines=refused,
        alarm_states=dict((n, states.get(n, preview.DEFAULT_STATE)) for n, _r in preview.alarm_names(body)),
    )
    if end_epoch is not None:
        result["end_time"] = iso(end_epoch)
    if changes:
        result["diff"] = {"prepared": "".join("%s %s\n" % ("+ new" if existing[path] is None else "~ redrawn", path)
                                              for path in changes)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()

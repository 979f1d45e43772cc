# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From one endpoint's role variables to its stack: checked settings, spec, dashboard and rendered template.

Controller-side code shared by the render_monitoring action (one endpoint, the host's own task) and the
monitor_fleet action (every endpoint of the play in one task). Both go through render_endpoint, so a template
rendered for review is the template that is applied.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import jinja2
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.dashboard import (
    ACCOUNT_PLACEHOLDER,
    DashboardError,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SpecError
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.task_args import (
    dashboard_result,
    monitoring_spec_result,
)

try:
    _YamlLoader = yaml.CSafeLoader
except AttributeError:  # PyYAML without libyaml
    _YamlLoader = yaml.SafeLoader

PREFIX = "endpoint_monitoring_"
# Set by the role for each endpoint, not by users: never a misspelling.
ROLE_OUTPUTS = ("endpoint_monitoring_result", "endpoint_monitoring_fleet")

# The three layers of each mapping or list that is merged from fleet, group and endpoint.
METRIC_LAYERS = ("endpoint_monitoring_metrics", "endpoint_monitoring_group_metrics",
                 "endpoint_monitoring_endpoint_metrics")
SUBSCRIBER_LAYERS = ("endpoint_monitoring_subscribers", "endpoint_monitoring_group_subscribers",
                     "endpoint_monitoring_endpoint_subscribers")

KMS_KEY = re.compile(r"^(alias/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
                     r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+))$")

_ARGUMENT_SPECS = {}
_TEMPLATES = {}
_VALIDATORS = {}


class RenderError(Exception):
    """A setting of one endpoint is wrong; the message names the endpoint and the field."""

    def __init__(self, endpoint, message):
        super(RenderError, self).__init__(message)
        self.endpoint = endpoint


def role_options(argument_specs_path, entry_point="main"):
    """The options of the role's entry point, read once per process from meta/argument_specs.yml."""
    if argument_specs_path not in _ARGUMENT_SPECS:
        with open(argument_specs_path) as f:
            specs = yaml.load(f, Loader=_YamlLoader)["argument_specs"]
        options = specs[entry_point]["options"]
        # Only what validation uses: descriptions stay in the file for ansible-doc.
        _ARGUMENT_SPECS[argument_specs_path] = dict(
            (name, dict((k, v) for k, v in option.items() if k in ("type", "elements", "choices", "default")))
            for name, option in options.items())
    return _ARGUMENT_SPECS[argument_specs_path]


def unknown_variables(names, options):
    """endpoint_monitoring_* variables the role does not read: misspellings, sorted."""
    return sorted(n for n in names if n.startswith(PREFIX) and not n.startswith(PREFIX + "_")
                  and n not in options and n not in ROLE_OUTPUTS)


def _validator(options):
    key = id(options)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = ArgumentSpecValidator(options)
    return _VALIDATORS[key]


def read_settings(template_value, variables, options):
    """The role's variables of one endpoint, templated and checked against the role's argument spec.

    template_value(value) templates one raw value in the endpoint's own variable context. Returns the settings
    with defaults filled in; raises RenderError naming the endpoint and the variable."""
    raw = {}
    for name in options:
        if name in variables:
            raw[name] = template_value(variables[name])
    endpoint = raw.get(PREFIX + "endpoint_name") or "?"
    result = _validator(options).validate(raw)
    if result.error_messages:
        first = result.errors[0]
        names = [n for n in options if n in str(first)]
        field = max(names, key=len) if names else "settings"
        message = str(first).replace("argument '%s' " % field, "")
        raise RenderError(endpoint, "endpoint %r: %s: %s" % (endpoint, field, message))
    return result.validated_parameters


def _template(path):
    if path not in _TEMPLATES:
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.dirname(path)), undefined=jinja2.StrictUndefined,
            trim_blocks=True, keep_trailing_newline=True, autoescape=False)
        environment.filters["to_json"] = lambda value: json.dumps(value, sort_keys=False)
        _TEMPLATES[path] = environment.get_template(os.path.basename(path))
    return _TEMPLATES[path]


def render_endpoint(settings, unknown, template_path, parse=True):
    """The endpoint's spec, dashboard and CloudFormation template from its checked settings: the template as a
    mapping, or with parse=False as its YAML text (a fleet run hashes the text and parses only what changed).

    Raises RenderError (a bad value, naming the endpoint and the field)."""
    endpoint = settings[PREFIX + "endpoint_name"]
    params = {
        "endpoint_name": endpoint,
        "region": settings[PREFIX + "region"],
        "variants": settings[PREFIX + "variants"],
        "endpoint_type": settings[PREFIX + "endpoint_type"],
        "multi_model": settings[PREFIX + "multi_model"],
        "inference_components": settings[PREFIX + "inference_components"],
        "instance_type": settings[PREFIX + "instance_type"] or None,
        "composite": settings[PREFIX + "composite"],
        "notify": settings[PREFIX + "notify"],
        "metric_layers": [{"variable": n, "value": settings[n]} for n in METRIC_LAYERS],
        "subscriber_layers": [{"variable": n, "value": settings[n]} for n in SUBSCRIBER_LAYERS],
        "stack_prefix": settings[PREFIX + "stack_prefix"],
        "ok_actions": settings[PREFIX + "ok_actions"],
        "tags": settings[PREFIX + "tags"],
        "known_variables": sorted(settings),
        "unknown_variables": list(unknown),
    }
    try:
        spec = monitoring_spec_result(params)["spec"]
        dashboard = dashboard_result({
            "endpoint_name": spec["endpoint"], "region": spec["region"], "variants": spec["variants"],
            "endpoint_metrics": spec["endpoint_metrics"], "components": spec["components"],
            "composite": spec["composite"]["name"] if spec["composite"] else None, "alarms": spec["alarms"],
            "metrics": None, "account_id": ACCOUNT_PLACEHOLDER, "topic_name": spec["topic_name"]})
    except (SpecError, DashboardError) as e:
        raise RenderError(endpoint, str(e))
    kms_key = settings.get(PREFIX + "topic_kms_key") or ""
    if kms_key and not KMS_KEY.match(kms_key):
        raise RenderError(endpoint, "endpoint %r: endpoint_monitoring_topic_kms_key: %r is not a KMS key id, key ARN, "
                                    "alias/NAME or alias ARN" % (endpoint, kms_key))
    text = _template(template_path).render(
        endpoint_monitoring__spec={"spec": spec}, endpoint_monitoring__dashboard=dashboard,
        endpoint_monitoring__dashboard_mode=settings.get(PREFIX + "dashboard") or "endpoint",
        endpoint_monitoring__topic_kms_key=kms_key)
    return {"spec": spec, "dashboard": dashboard, "template": yaml.load(text, Loader=_YamlLoader) if parse else text}


def fleet_request(settings, rendered):
    """What monitoring_fleet needs to apply (or remove) one endpoint's stack."""
    spec = rendered["spec"] if rendered else None
    request = {
        "endpoint": settings[PREFIX + "endpoint_name"],
        "region": settings[PREFIX + "region"],
        "stack_name": settings[PREFIX + "stack_prefix"] + settings[PREFIX + "endpoint_name"],
        "state": settings[PREFIX + "state"],
    }
    if spec is not None:
        request.update(
            template=rendered["template"], tags=spec["tags"], subscribers=spec["subscribers"],
            purge_subscriptions=settings[PREFIX + "purge_subscriptions"],
            create_timeout=settings[PREFIX + "stack_create_timeout"],
            termination_protection=settings.get(PREFIX + "termination_protection", False))
    return request

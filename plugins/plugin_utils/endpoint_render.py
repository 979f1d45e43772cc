# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One endpoint's role variables, templated in its own context and checked against the role's argument spec.

Controller-side code of the monitoring_prepare action: Ansible resolves the variables (role defaults, group and
host vars, play vars, extra vars) for the host's own task; this module reads the role's options from
meta/argument_specs.yml and checks them, naming the endpoint and the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

import yaml

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import plain

try:
    _YamlLoader = yaml.CSafeLoader
except AttributeError:  # PyYAML without libyaml
    _YamlLoader = yaml.SafeLoader

PREFIX = "endpoint_monitoring_"

_ARGUMENT_SPECS = {}
_VALIDATORS = {}
_DIGESTS = {}


class RenderError(Exception):
    """A setting of one endpoint is wrong; the message names the endpoint and the field."""

    def __init__(self, endpoint, message):
        super(RenderError, self).__init__(message)
        self.endpoint = endpoint


def role_options(argument_specs_path, entry_point="main"):
    """The options of the role's entry point, read once per process from meta/argument_specs.yml."""
    argument_specs_path = os.path.realpath(argument_specs_path)
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
    """endpoint_monitoring_* variables the role does not read: misspellings, sorted. (The role's own results are
    registered as endpoint_monitoring__*, never a user's setting.)"""
    return sorted(n for n in names if n.startswith(PREFIX) and not n.startswith(PREFIX + "_") and n not in options)


def preload_validator(options):
    """Builds the validator of these options now (see monitoring_prepare: read once, before workers fork)."""
    _validator(options)


def _validator(options):
    key = id(options)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = ArgumentSpecValidator(options)
    return _VALIDATORS[key]


def read_settings(template_value, variables, options, default_endpoint="?"):
    """The role's variables of one endpoint, templated and checked against the role's argument spec.

    template_value(value) templates one raw value in the endpoint's own variable context. Returns the settings
    with defaults filled in; raises RenderError naming the endpoint and the variable."""
    raw = {}
    for name in options:
        if name in variables:
            try:
                raw[name] = plain(template_value(variables[name]))
            except AnsibleError as e:  # an undefined variable, a broken template: this endpoint's problem alone
                endpoint = raw.get(PREFIX + "endpoint_name") or default_endpoint
                raise RenderError(endpoint, "endpoint %r: %s: cannot be templated: %s"
                                  % (endpoint, name, _first_line(e)))
    endpoint = raw.get(PREFIX + "endpoint_name") or default_endpoint
    result = _validator(options).validate(raw)
    if result.error_messages:
        first = result.errors[0]
        names = [n for n in options if n in str(first)]
        field = max(names, key=len) if names else "settings"
        message = _expected(options[field], raw[field]) if field in raw else str(first).replace(
            "argument '%s' " % field, "")
        raise RenderError(endpoint, "endpoint %r: %s: %s" % (endpoint, field, message))
    return result.validated_parameters


# How a setting's type reads in a message (never a class name: the value is shown as the user wrote it).
_KINDS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false", "dict": "a mapping",
          "list": "a list", "path": "a path"}
_ELEMENTS = {"str": "texts", "dict": "mappings", "int": "whole numbers", "raw": "names or mappings"}


def _expected(option, value):
    """What the option takes and what it was given, for a value the role's argument spec refuses."""
    if option.get("choices"):
        return "must be one of %s, got %r" % (", ".join(str(c) for c in option["choices"]), value)
    kind = option.get("type", "str")
    words = _KINDS.get(kind, kind)
    if kind == "list" and option.get("elements") in _ELEMENTS:
        words = "a list of %s" % _ELEMENTS[option["elements"]]
    return "must be %s, got %r" % (words, value)


def _first_line(error):
    """Ansible's error message without the lines it adds about where the error was (origin, source excerpt)."""
    message = getattr(error, "message", None) or str(error)
    return str(message).strip().splitlines()[0] if str(message).strip() else type(error).__name__


def code_digest(*paths):
    """A digest of the files that turn a spec into a stack (the role's template, the dashboard code): a new
    version of either re-applies the stacks it changes. Read once per process."""
    key = tuple(os.path.realpath(p) for p in paths)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        for path in key:
            with open(path, "rb") as f:
                digest.update(f.read())
        _DIGESTS[key] = digest.hexdigest()[:16]
    return _DIGESTS[key]

# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""monitoring_prepare: one endpoint's settings checked and its monitoring computed, in the controller, with no AWS
call. See the module of the same name for the documentation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.plugins.action import ActionBase

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import dashboard as dashboard_code
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import (
    PREFIX,
    describe,
    needs_facts,
    plan_entry,
    run_setting_problems,
    shown,
    spec_from_settings,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_spec import SAGEMAKER_NAME, SpecError
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.regions import known_regions, region_problem
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.sagemaker_facts import FACTS_NAME
from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
    RenderError,
    code_digest,
    preload_validator,
    read_settings,
    role_options,
    unknown_variables,
)

# AWS connection options: set through module_defaults for the collection's action group (or for group/aws, which
# reaches amazon.aws's modules but not this collection's), they are the endpoint's defaults where its own
# endpoint_monitoring_* variable is empty.
CONNECTION_DEFAULTS = {"region": "region", "profile": "aws_profile", "endpoint_url": "aws_endpoint_url"}
CONNECTION_ALIASES = {"region": ("region", "aws_region", "ec2_region"), "profile": ("profile", "aws_profile"),
                      "endpoint_url": ("endpoint_url", "aws_endpoint_url", "ec2_url", "s3_url")}
AWS_GROUPS = ("group/ansible.builtin.aws", "group/amazon.aws.aws")
ARGS = dict(
    argument_specs=dict(type="path", required=True),
    template=dict(type="path", required=True),
    include_spec=dict(type="bool", default=False),
    region=dict(type="str", aliases=["aws_region", "ec2_region"]),
    profile=dict(type="str", aliases=["aws_profile"]),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url", "ec2_url", "s3_url"]),
    # Other options module_defaults may give the group's modules; not used here.
    access_key=dict(type="str", no_log=True, aliases=["aws_access_key_id", "aws_access_key", "ec2_access_key"]),
    secret_key=dict(type="str", no_log=True, aliases=["aws_secret_access_key", "aws_secret_key", "ec2_secret_key"]),
    session_token=dict(type="str", no_log=True, aliases=["aws_session_token", "security_token", "access_token"]),
    validate_certs=dict(type="bool"),
    aws_ca_bundle=dict(type="path"),
    aws_config=dict(type="dict"),
    debug_botocore_endpoint_logs=dict(type="bool"),
)
# Stands in for the facts SageMaker will give, so that an endpoint named only by the inventory has its other
# settings checked before any AWS call.
PLACEHOLDER_FACTS = {"endpoint_type": "realtime", "multi_model": False, "inference_components": [],
                     "variants": [{"name": "AllTraffic", "instance_type": "ml.m5.large"}]}


# Ansible loads this plugin in its main process before it starts a worker per host (to read its class), and each
# worker is a fork of that process: what is read here once is already there in every worker, instead of being read
# again for each endpoint (the role's argument spec is a large YAML file).
_ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles",
                     "endpoint_monitoring")
ROLE_ARGUMENT_SPECS = os.path.join(_ROLE, "meta", "argument_specs.yml")
ROLE_TEMPLATE = os.path.join(_ROLE, "templates", "monitoring_stack.yml.j2")
if os.path.exists(ROLE_ARGUMENT_SPECS) and os.path.exists(ROLE_TEMPLATE):
    preload_validator(role_options(ROLE_ARGUMENT_SPECS))
    code_digest(ROLE_TEMPLATE, dashboard_code.__file__)
    known_regions()


def _environment_region():
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or ""


def cached_facts(task_vars, endpoint, region):
    """The facts of the endpoint a former run read from SageMaker (Ansible's fact cache), and the endpoint's
    LastModifiedTime they were read at; (None, None) when there are none for this endpoint and region."""
    cached = (task_vars.get("ansible_facts") or {}).get(FACTS_NAME)
    same_endpoint = isinstance(cached, dict) and cached.get("endpoint") == endpoint and cached.get("region") == region
    if same_endpoint and isinstance(cached.get("facts"), dict) and cached.get("last_modified"):
        return cached["facts"], cached["last_modified"]
    return None, None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGS)
        options = role_options(args["argument_specs"])
        host = task_vars.get("inventory_hostname") or ""
        name, at, host_region = host.partition("@")
        try:
            settings = read_settings(self._templar.template, task_vars, options, default_endpoint=name or "?")
        except RenderError as e:
            result.update(failed=True, msg=str(e), endpoint=e.endpoint)
            return result
        settings[PREFIX + "endpoint_name"] = settings.get(PREFIX + "endpoint_name") or name
        if at and not settings.get(PREFIX + "region"):
            settings[PREFIX + "region"] = host_region
        aws_defaults = self._aws_group_defaults()
        for arg, setting in CONNECTION_DEFAULTS.items():
            if not settings.get(PREFIX + setting):
                settings[PREFIX + setting] = args.get(arg) or aws_defaults.get(arg) or (
                    _environment_region() if arg == "region" else "")
        endpoint = settings[PREFIX + "endpoint_name"]
        region = settings[PREFIX + "region"]
        result.update(changed=False, endpoint=endpoint, region=region,
                      stack_name=settings[PREFIX + "stack_prefix"] + str(endpoint), state=settings[PREFIX + "state"])
        digest = code_digest(args["template"], dashboard_code.__file__)
        try:
            result.update(self._prepare(settings, unknown_variables(task_vars, options), task_vars, digest))
        except SpecError as e:
            result.update(failed=True, msg=str(e))
            return result
        result["plan_entry"]["host"] = task_vars.get("inventory_hostname")
        if result.get("spec"):
            # per production variant, the alarm names to give SageMaker's deployment guardrails
            result["guardrail_alarms"] = dict((variant, guardrail["alarms"])
                                              for variant, guardrail in result["spec"]["guardrails"].items())
        if not args["include_spec"]:
            # Every endpoint's result is kept for the whole run, most of them unchanged: the role asks for the spec
            # (several kB) again, by this same code, only for the endpoints that need a change.
            result.pop("spec", None)
        return result

    def _aws_group_defaults(self):
        """Region, profile and endpoint URL from module_defaults for group/aws or group/amazon.aws.aws (the play's,
        the blocks' and the task's, the nearest winning), which Ansible applies to amazon.aws's modules only."""
        found = {}
        for layer in self._task.module_defaults or []:
            for group in AWS_GROUPS:
                values = self._templar.template(layer.get(group)) or {}
                for option, aliases in CONNECTION_ALIASES.items():
                    for alias in aliases:
                        if values.get(alias):
                            found[option] = values[alias]
        return found

    def _prepare(self, settings, unknown, task_vars, digest):
        """Raises SpecError with every problem of the endpoint's settings: those of its spec, then those of the
        settings the run uses for it (connection, timeouts, fleet dashboard name)."""
        run_problems = ["%s: %s" % p for p in run_setting_problems(settings)]
        try:
            prepared = self._prepare_spec(settings, unknown, task_vars, digest)
        except SpecError as e:
            raise SpecError(e.endpoint, e.problems + run_problems)
        if run_problems:
            raise SpecError(settings[PREFIX + "endpoint_name"], run_problems)
        return prepared

    def _prepare_spec(self, settings, unknown, task_vars, digest):
        endpoint, region = settings[PREFIX + "endpoint_name"], settings[PREFIX + "region"]
        if settings[PREFIX + "state"] == "absent":
            self._check_names(endpoint, region, bool(settings.get(PREFIX + "allow_unlisted_region")))
            return {"facts_source": None, "plan_entry": plan_entry(settings)}
        facts, mark = None, None
        if needs_facts(settings):
            facts, mark = cached_facts(task_vars, endpoint, region)
            if facts is None:
                # Checked now with stand-in facts; the plan reads the real ones and builds the spec.
                spec_from_settings(settings, PLACEHOLDER_FACTS, unknown)
                return {"facts_source": "sagemaker", "plan_entry": plan_entry(settings, code_digest=digest)}
        prepared = describe(settings, spec_from_settings(settings, facts, unknown), digest, facts_mark=mark,
                            facts=facts)
        prepared["facts_source"] = "cache" if facts is not None else "inventory"
        return prepared

    @staticmethod
    def _check_names(endpoint, region, allow_unlisted_region=False):
        problems = []
        if not isinstance(endpoint, str) or not SAGEMAKER_NAME.match(endpoint):
            problems.append("endpoint_name: %s is not a SageMaker endpoint name" % shown(endpoint))
        region_wrong = region_problem(region, allow_unlisted_region)
        if region_wrong:
            problems.append("region: %s" % region_wrong)
        if problems:
            raise SpecError(endpoint, problems)

"""One endpoint's role settings as the endpoint_monitoring role's first task reads them, what monitoring_prepare
computes from them, and the stack template the role renders: the real role files, no stand-ins."""

import os

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils import dashboard as dashboard_code
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.endpoint_settings import (
    dashboard_of,
    describe,
    spec_from_settings,
)
from ansible_collections.mlops.sagemaker_monitoring.plugins.plugin_utils.endpoint_render import (
    code_digest,
    read_settings,
    role_options,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(ROOT, "roles", "endpoint_monitoring")
SPECS = os.path.join(ROLE, "meta", "argument_specs.yml")
TEMPLATE = os.path.join(ROLE, "templates", "monitoring_stack.yml.j2")
OPTIONS = role_options(SPECS)
DIGEST = code_digest(TEMPLATE, dashboard_code.__file__)
REGION = "us-east-1"
# The facts of a serverless endpoint as sagemaker_facts reads them (and Ansible's fact cache keeps them).
SERVERLESS = {"endpoint_type": "serverless", "multi_model": False, "inference_components": [],
              "variants": [{"name": "AllTraffic", "instance_type": None, "instance_count": None, "vcpus": None,
                            "gpus": None, "serverless": {"memory_size_mb": 2048, "max_concurrency": 5,
                                                         "provisioned_concurrency": 0}}]}


def variables(endpoint="churn", region=REGION, **values):
    """A host's variables: an endpoint the inventory describes (one variant, an instance type)."""
    base = {"inventory_hostname": endpoint, "endpoint_monitoring_endpoint_name": endpoint,
            "endpoint_monitoring_region": region, "endpoint_monitoring_variants": ["AllTraffic"],
            "endpoint_monitoring_instance_type": "ml.m5.xlarge"}
    base.update(("endpoint_monitoring_" + k if not k.startswith("endpoint_monitoring_") and k != "inventory_hostname"
                 else k, v) for k, v in values.items())
    return base


def settings(endpoint="churn", region=REGION, **values):
    """The checked settings, defaults filled in (values already templated)."""
    return read_settings(lambda value: value, variables(endpoint, region, **values), OPTIONS)


def bare(endpoint="churn", region=REGION, **values):
    """The settings of an endpoint an inventory names only: SageMaker says what it is."""
    return settings(endpoint, region, variants=[], instance_type="", **values)


def described(endpoint="churn", region=REGION, facts=None, facts_mark=None, **values):
    """What monitoring_prepare returns for the endpoint (spec, stack, fingerprint, usage, plan_entry)."""
    checked = bare(endpoint, region, **values) if facts is not None else settings(endpoint, region, **values)
    result = describe(checked, spec_from_settings(checked, facts), DIGEST, facts_mark=facts_mark, facts=facts)
    result["plan_entry"]["host"] = endpoint
    return result


def render_template(prepared, wanted=None):
    """The stack template the role's template.yml renders for a prepared (or planned) endpoint, as YAML text;
    wanted: the plan's result for the endpoint (its retired_topic), as apply.yml gives it."""
    with open(TEMPLATE) as f:
        source = f.read()
    context = {"endpoint_monitoring__spec": prepared["spec"], "endpoint_monitoring__stack": prepared["stack"],
               "endpoint_monitoring__fingerprint": prepared["fingerprint"],
               "endpoint_monitoring__dashboard": dashboard_of(prepared["spec"])}
    if wanted is not None:
        context["endpoint_monitoring__wanted"] = wanted
    return Templar(loader=DataLoader(), variables=context).template(trust_as_template(source))

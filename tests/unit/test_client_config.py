"""The retries of the clients the collection makes itself are the role's: the modules' default (client_config) and
the inventory plugin's default aws_config are the role's default endpoint_monitoring_aws_config."""

import os

import yaml

from ansible_collections.mlops.sagemaker_monitoring.plugins.inventory import sagemaker_endpoints
from ansible_collections.mlops.sagemaker_monitoring.plugins.module_utils.client_config import client_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def role_default():
    with open(os.path.join(ROOT, "roles", "endpoint_monitoring", "defaults", "main.yml")) as f:
        return yaml.safe_load(f)["endpoint_monitoring_aws_config"]


def test_the_modules_retry_as_the_role_does_and_keep_their_other_options():
    assert client_config() == role_default()
    assert client_config(read_timeout=300) == dict(role_default(), read_timeout=300)
    first = client_config()
    first["retries"]["max_attempts"] = 1
    assert client_config() == role_default()  # each call gets a fresh mapping


def test_the_inventory_plugin_retries_as_the_role_does():
    options = yaml.safe_load(sagemaker_endpoints.DOCUMENTATION)["options"]
    assert options["aws_config"]["default"] == role_default()

# -*- coding: utf-8 -*-
# Copyright: contributors to mlops.sagemaker_monitoring
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The botocore configuration of the AWS clients the collection's modules make themselves."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# botocore's standard retry mode retries throttling (every error code botocore knows for it), answers with status 500,
# 502, 503 or 504 whether or not they carry an AWS error code, dropped and reset connections, and connect and read
# timeouts, each after a jittered exponential backoff (a random share of 1 s x 2^n for throttling, of 50 ms x 2^n
# otherwise, at most 20 s), up to max_attempts times after the first attempt. The role's endpoint_monitoring_aws_config
# has the same default; a module's aws_config option (which the role and the playbooks set from it) is merged over
# this configuration and wins.
DEFAULT_RETRIES = {"mode": "standard", "max_attempts": 10}


def client_config(**options):
    """botocore Config options for a module's client: the default retries and `options` (read_timeout...)."""
    return dict(options, retries=dict(DEFAULT_RETRIES))

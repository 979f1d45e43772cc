"""Run a module's main() in-process, as Ansible runs it, and read its JSON result."""

import json

import pytest

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    import contextlib

    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


def run_module(module, args, capsys):
    """Run module.main() with args; return (exit code, result dict)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            module.main()
    return info.value.code, json.loads(capsys.readouterr().out)


def run_aws_module(module, args, capsys, moto, check_mode=False):
    """Run an AWS module against the moto server `moto` (every AWS call tried once); return (exit code, result)."""
    aws = {"endpoint_url": moto.url, "region": "us-east-1", "_ansible_check_mode": check_mode,
           "aws_config": {"retries": {"mode": "standard", "total_max_attempts": 1}}}
    return run_module(module, dict(aws, **args), capsys)

"""Fixtures of the unit tests: a moto server on 127.0.0.1, started once for the tests that need one."""

import os

import pytest

from moto_support import Moto


def pytest_configure(config):
    # moto says so for every alarm of a template; it keeps the stack, its outputs and tags, which is all we read
    config.addinivalue_line("filterwarnings", "ignore:Tried to parse AWS:UserWarning")


@pytest.fixture(scope="session")
def moto_server():
    server = Moto()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server, monkeypatch, tmp_path):
    """The moto server, emptied, and an environment in which boto3 finds nothing but test credentials."""
    moto_server.reset()
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return moto_server

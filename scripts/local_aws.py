"""Start and stop the AWS-compatible servers the demo and the tests use, on free loopback ports.

LocalStack (host mode, its own virtual environment at .venv-localstack) is real for stacks, alarms,
alarm evaluation and SNS delivery; moto is real for the SageMaker API and the CloudFormation Dashboard
resource. Both listen on 127.0.0.1 only. The collection reaches them through AWS_URL / endpoint_url.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCALSTACK_PYTHON = os.path.join(ROOT, ".venv-localstack", "bin", "python")
HOST = "127.0.0.1"
LOCALSTACK_SERVICES = "cloudformation,cloudwatch,sns,sqs,sts,iam"

# Credentials the local servers accept; never real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
}


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_http(url, process, timeout, log_path):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited with %s; see %s" % (process.returncode, log_path))
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError("server at %s not ready after %ss; see %s" % (url, timeout, log_path))


DRIFT_CHECKS = {"localstack": "topic_policy", "moto": "dashboard"}


class Server:
    def __init__(self, name, process, port, log_path, workdir=None):
        self.name = name
        self.process = process
        self.port = port
        self.url = "http://%s:%d" % (HOST, port)
        self.log_path = log_path
        self.workdir = workdir

    def env(self, region="us-east-1"):
        """Environment for a process that should talk to this server (ansible-playbook, boto3)."""
        env = dict(LOCAL_CREDENTIALS)
        env.update({
            "AWS_URL": self.url,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            # What the role checks for drift, of what this server's CloudFormation really keeps as the stack says:
            # LocalStack makes no AWS::CloudWatch::Dashboard and leaves an alarm as it was when a stack update
            # changes it; moto makes no alarms and no topic policy. Checking those would report, on every run, what
            # the server skipped as drift. (tests/integration/test_drift_localstack.py checks LocalStack's alarms
            # of stacks it only creates.)
            "SAGEMAKER_MONITORING_DRIFT_CHECKS": DRIFT_CHECKS[self.name],
        })
        return env

    def client(self, service, region="us-east-1"):
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=region,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def split_env(localstack, moto, region="us-east-1"):
    """Environment for a process whose SageMaker calls go to moto (where the SageMaker API is real) and all
    others to LocalStack, through botocore's own variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SAGEMAKER): no
    AWS_URL, which amazon.aws's modules would apply to every service."""
    env = localstack.env(region)
    env.pop("AWS_URL")
    env["AWS_ENDPOINT_URL_SAGEMAKER"] = moto.url
    return env


def start_localstack(log_dir=None, timeout=90):
    if not os.path.exists(LOCALSTACK_PYTHON):
        raise RuntimeError("LocalStack is not installed at %s: run `make setup`" % LOCALSTACK_PYTHON)
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="localstack-")
    log_path = os.path.join(log_dir or workdir, "localstack-%d.log" % port)
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("AWS_") or key.startswith("PYTHON") or key == "VIRTUAL_ENV":
            env.pop(key)
    env.update({
        "GATEWAY_SERVER": "hypercorn",  # binds the host given below only (twisted listens everywhere)
        "GATEWAY_LISTEN": "%s:%d" % (HOST, port),
        "SERVICES": LOCALSTACK_SERVICES,
        "DNS_ADDRESS": "0",  # no DNS server on port 53
        "DISABLE_EVENTS": "1",  # no usage analytics
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "LOCALSTACK_VOLUME_DIR": os.path.join(workdir, "volume"),
        "TMPDIR": workdir,
    })
    log = open(log_path, "w")
    # A neutral working directory: LocalStack's own logging module must not shadow Python's.
    process = subprocess.Popen([LOCALSTACK_PYTHON, "-m", "localstack.runtime.main"], cwd=workdir, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server("localstack", process, port, log_path, workdir)
    try:
        _wait_http(server.url + "/_localstack/health", process, timeout, log_path)
    except Exception:
        server.stop()
        raise
    return server


def start_moto(log_dir=None, timeout=60):
    port = free_port()
    log_dir = log_dir or tempfile.mkdtemp(prefix="moto-")
    log_path = os.path.join(log_dir, "moto-%d.log" % port)
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server("moto", process, port, log_path)
    try:
        _wait_http(server.url + "/moto-api/", process, timeout, log_path)
    except Exception:
        server.stop()
        raise
    return server

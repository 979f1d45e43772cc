"""The test proxy itself: what it records, the shape of its faults as botocore reads them, determinism."""

import os
import socket
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))

import aws_proxy  # noqa: E402

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield "http://127.0.0.1:%d" % port
    server.stop()


def client(service, url, config=NO_RETRY):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=config)


def test_records_service_and_operation_of_each_protocol(moto_url):
    with aws_proxy.AwsProxy(moto_url) as proxy:
        client("cloudformation", proxy.url).describe_stacks()
        client("sns", proxy.url).create_topic(Name="proxy-topic")
        client("cloudwatch", proxy.url).describe_alarms(AlarmNamePrefix="x")
        client("sagemaker", proxy.url).list_endpoints()
        client("sqs", proxy.url).list_queues()
        client("sts", proxy.url).get_caller_identity()
        assert [c.key for c in proxy.snapshot()] == [
            ("cloudformation", "DescribeStacks"), ("sns", "CreateTopic"), ("monitoring", "DescribeAlarms"),
            ("sagemaker", "ListEndpoints"), ("sqs", "ListQueues"), ("sts", "GetCallerIdentity")]
        assert [c.status for c in proxy.snapshot()] == [200] * 6
        assert [c.read_only for c in proxy.snapshot()] == [True, False, True, True, True, True]
        assert [w.operation for w in proxy.writes()] == ["CreateTopic"]
        assert proxy.snapshot()[1].params["Name"] == "proxy-topic" and proxy.snapshot()[1].mentions("proxy-topic")
        assert proxy.snapshot()[2].protocol == "json" and proxy.snapshot()[2].params == {"AlarmNamePrefix": "x"}


def test_cbor_requests_are_classified_by_path():
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
               "Authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/monitoring/aws4_request, x"}
    assert aws_proxy.classify("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm",
                              headers, b"\xa0")[:4] == ("monitoring", "eu-west-1", "PutMetricAlarm", "cbor")


@pytest.mark.parametrize("service, call, code", [
    ("cloudformation", lambda c: c.describe_stacks(), "Throttling"),
    ("sns", lambda c: c.list_topics(), "Throttling"),
    ("cloudwatch", lambda c: c.describe_alarms(), "Throttling"),
    ("sqs", lambda c: c.list_queues(), "Throttling"),
    ("sagemaker", lambda c: c.list_endpoints(), "ThrottlingException"),
])
def test_throttling_reads_as_throttling_to_botocore(moto_url, service, call, code):
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["throttle"]) as proxy:
        with pytest.raises(ClientError) as raised:
            call(client(service, proxy.url))
        error = raised.value.response
        assert error["Error"]["Code"] == code
        assert error["Error"]["Message"] == "Rate exceeded"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert proxy.faulted()[0].fault == "throttle"


@pytest.mark.parametrize("kind, status, code", [("500", 500, "InternalFailure"), ("503", 503, "ServiceUnavailable")])
@pytest.mark.parametrize("service", ["cloudformation", "cloudwatch", "sagemaker"])
def test_server_errors(moto_url, kind, status, code, service):
    calls = {"cloudformation": lambda c: c.describe_stacks(), "cloudwatch": lambda c: c.describe_alarms(),
             "sagemaker": lambda c: c.list_endpoints()}
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=[kind]) as proxy:
        with pytest.raises(ClientError) as raised:
            calls[service](client(service, proxy.url))
        assert raised.value.response["Error"]["Code"] == code
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_cbor_error_body_reads_as_throttling():
    from botocore.parsers import RpcV2CBORParser

    call = aws_proxy.Call(1, "POST", "/service/S/operation/DescribeAlarms", "monitoring", "us-east-1",
                          "DescribeAlarms", "cbor", {}, b"", "throttle", 0)
    status, headers, body = aws_proxy.error_response("throttle", call, {})
    parsed = RpcV2CBORParser().parse({"status_code": status, "headers": headers, "body": body}, None)
    assert parsed["Error"]["Code"] == "Throttling" and parsed["Error"]["Message"] == "Rate exceeded"


def test_reset_closes_the_connection_without_an_answer(moto_url):
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["reset"]) as proxy:
        with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
            client("cloudformation", proxy.url).describe_stacks()
        assert proxy.snapshot()[0].status is None and proxy.snapshot()[0].fault == "reset"


def test_delay_answers_correctly_after_a_pause(moto_url):
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["delay"], delay=(0.3, 0.4)) as proxy:
        start = time.time()
        assert client("sagemaker", proxy.url).list_endpoints()["Endpoints"] == []
        assert time.time() - start >= 0.3
        assert proxy.snapshot()[0].status == 200 and proxy.snapshot()[0].fault == "delay"


def test_botocore_retries_get_through_faults_and_decisions_repeat_with_the_seed(moto_url):
    # server errors and resets: botocore's standard mode waits ~50 ms for those, against ~1 s for throttling
    retrying = Config(retries={"max_attempts": 10, "mode": "standard"})
    kinds = ["500", "503", "reset"]
    outcomes = []
    for _ in range(2):
        with aws_proxy.AwsProxy(moto_url, fault_rate=0.5, kinds=kinds, seed=11) as proxy:
            cfn = client("cloudformation", proxy.url, retrying)
            for _ in range(10):
                cfn.describe_stacks()
            outcomes.append([c.fault for c in proxy.snapshot()])
            assert proxy.faulted(), "a 50 % fault rate faulted nothing"
    assert outcomes[0] == outcomes[1]
    with aws_proxy.AwsProxy(moto_url, fault_rate=0.5, kinds=kinds, seed=12) as proxy:
        cfn = client("cloudformation", proxy.url, retrying)
        for _ in range(10):
            cfn.describe_stacks()
        assert [c.fault for c in proxy.snapshot()] != outcomes[0][:len(proxy.snapshot())]


def test_refuses_other_than_loopback():
    with pytest.raises(ValueError):
        aws_proxy.AwsProxy("http://10.0.0.1:4566")
    with pytest.raises(ValueError):
        aws_proxy.AwsProxy("http://127.0.0.1:4566", kinds=["explode"])

"""The test proxy itself: what it records, the shape of its faults as botocore reads them, determinism."""

import json
import os
import socket
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

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


@pytest.mark.parametrize("kind, status", [("html500", 500), ("html502", 502), ("html503", 503), ("html504", 504)])
@pytest.mark.parametrize("service", ["cloudformation", "cloudwatch", "sagemaker", "sns"])
def test_bare_error_pages_have_no_aws_error_code_and_standard_retries_get_through(moto_url, kind, status, service):
    calls = {"cloudformation": lambda c: c.describe_stacks(), "cloudwatch": lambda c: c.describe_alarms(),
             "sagemaker": lambda c: c.list_endpoints(), "sns": lambda c: c.list_topics()}
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=[kind]) as proxy:
        with pytest.raises(ClientError) as raised:
            calls[service](client(service, proxy.url))
        # botocore makes the status its code: nothing a retry decorator matching AWS error codes knows
        assert raised.value.response["Error"]["Code"] == str(status)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert proxy.snapshot()[0].fault == kind
    # every other call a bare page: botocore's standard mode retries on the status alone
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=[kind],
                            fault_filter=lambda call: call.index % 2) as proxy:
        calls[service](client(service, proxy.url, Config(retries={"max_attempts": 3, "mode": "standard"})))
        assert [c.status for c in proxy.snapshot()] == [status, 200]


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


def raw_request(url, operation="ListTopics"):
    """Send one SNS query request on a plain socket and read what comes back: (bytes read, error)."""
    port = int(url.rsplit(":", 1)[1])
    body = ("Action=%s&Version=2010-03-31" % operation).encode()
    head = ("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sns/aws4_request, x\r\n"
            "Content-Length: %d\r\n\r\n" % len(body)).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + body)
        try:
            return connection.recv(65536), None
        except OSError as e:
            return None, e


def topic_names(moto_url):
    return [t["TopicArn"].rsplit(":", 1)[-1] for t in client("sns", moto_url).list_topics()["Topics"]]


def test_drop_closes_cleanly_and_reset_abortively_both_without_an_answer_or_effect(moto_url):
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["drop"]) as proxy:
        assert raw_request(proxy.url) == (b"", None)  # FIN: the end of the stream where the answer should be
        with pytest.raises(ConnectionClosedError):
            client("sns", proxy.url).create_topic(Name="dropped-topic")
        assert [(c.fault, c.status) for c in proxy.snapshot()] == [("drop", None)] * 3  # the SDK tried twice
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["reset"]) as proxy:
        data, error = raw_request(proxy.url)
        assert data is None and isinstance(error, ConnectionResetError)  # RST
    assert "dropped-topic" not in topic_names(moto_url)


def wait_for(predicate, seconds=10):
    """Wait until the proxy's handler thread has recorded what it saw (it may finish after the client)."""
    deadline = time.time() + seconds
    while not predicate() and time.time() < deadline:
        time.sleep(0.02)
    return predicate()


def test_timeout_forwards_the_call_then_withholds_the_answer_until_the_client_gives_up(moto_url):
    impatient = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=1)
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["timeout"], timeout_hold=30) as proxy:
        start = time.time()
        with pytest.raises(ReadTimeoutError):
            client("sns", proxy.url, impatient).create_topic(Name="timed-out-topic")
        assert time.time() - start < 10  # the client's read timeout ended it, not the proxy's hold
        (call,) = proxy.snapshot()
        assert wait_for(lambda: call.gave_up is not None) and call.gave_up is True
        assert (call.fault, call.status, call.upstream_status) == ("timeout", None, 200)
    assert "timed-out-topic" in topic_names(moto_url)  # forwarded: the call took effect, its answer was lost

    # a client that waits longer than the hold sees the connection closed without an answer
    patient = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=30)
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["timeout"], timeout_hold=0.5) as proxy:
        with pytest.raises(ConnectionClosedError):
            client("sns", proxy.url, patient).create_topic(Name="held-topic")
        assert proxy.snapshot()[0].gave_up is False
    assert "held-topic" in topic_names(moto_url)


TOPIC_STACK = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})


@pytest.mark.parametrize("client_tokens", [True, False], ids=["aws-promise", "emulator-alone"])
def test_a_create_whose_answer_was_lost_is_retried_with_its_token(moto_url, client_tokens):
    """botocore sends the very request again after a read timeout, ClientRequestToken and all. CloudFormation
    answers a repeated token as it answered the first request (the proxy keeps that promise for the emulator):
    the create succeeds, once. The emulator alone meets its own stack: AlreadyExistsException."""
    name = "lost-answer-%s" % client_tokens
    retrying = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=1)
    first_create = lambda call: call.operation == "CreateStack" and call.index == 1  # noqa: E731
    with aws_proxy.AwsProxy(moto_url, fault_rate=1.0, kinds=["timeout"], fault_filter=first_create,
                            client_tokens=client_tokens) as proxy:
        cfn = client("cloudformation", proxy.url, retrying)
        create = dict(StackName=name, TemplateBody=TOPIC_STACK, ClientRequestToken="token-%s" % name)
        if client_tokens:
            stack_id = cfn.create_stack(**create)["StackId"]
        else:
            with pytest.raises(ClientError) as raised:
                cfn.create_stack(**create)
            assert raised.value.response["Error"]["Code"] == "AlreadyExistsException"
        first, retry = [c for c in proxy.snapshot() if c.operation == "CreateStack"]
        assert (first.fault, first.upstream_status, first.status) == ("timeout", 200, None)
        assert retry.body == first.body and retry.replayed is client_tokens
    stacks = [s for s in client("cloudformation", moto_url).describe_stacks()["Stacks"] if s["StackName"] == name]
    assert len(stacks) == 1
    if client_tokens:
        assert stacks[0]["StackId"] == stack_id


def test_default_kinds_are_every_fault_and_take_turns_from_a_seeded_start():
    assert set(aws_proxy.FAULT_KINDS) == {"throttle", "500", "503", "html500", "html502", "html503", "html504",
                                          "reset", "drop", "timeout", "delay"}
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/sns/aws4_request, x"}

    def decisions(seed):
        proxy = aws_proxy.AwsProxy("http://127.0.0.1:1", fault_rate=0.2, seed=seed)
        return [proxy._record("POST", "/", headers, b"Action=ListTopics").fault for _ in range(400)]

    faults = [kind for kind in decisions(5) if kind]
    assert 50 < len(faults) < 110
    width = len(aws_proxy.FAULT_KINDS)
    for start in range(len(faults) - width + 1):
        assert sorted(faults[start:start + width]) == sorted(aws_proxy.FAULT_KINDS), start
    assert decisions(5) == decisions(5) and decisions(5) != decisions(6)


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


# ------------------------------------------------------------------------------- answers' items, AWS's clock
# moto's CloudFormation warns that it does not create AWS::CloudWatch::Alarm resources: the clock only counts them.
MOTO_ALARM_WARNING = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


def alarm(name, threshold=1):
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": name, "Namespace": "AWS/SageMaker", "MetricName": "ModelLatency", "Statistic": "Average",
        "Period": 60, "EvaluationPeriods": 1, "Threshold": threshold, "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": [{"Ref": "Topic"}]}}


def template(stack, alarms=3, threshold=1):
    """A stack of a topic and `alarms` alarms (the first with `threshold`), with the topic as output."""
    resources = {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": stack + "-topic"}}}
    for i in range(alarms):
        resources["Alarm%d" % i] = alarm("%s-alarm-%d" % (stack, i), threshold if i == 0 else 1)
    return json.dumps({"Resources": resources, "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}}})


class FakeClock:
    """Seconds from the real time at creation (the emulator's event timestamps are real), moved by hand."""

    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def status(cfn, stack):
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


@MOTO_ALARM_WARNING
def test_listing_answers_record_how_many_items_they_hold(moto_url):
    with aws_proxy.AwsProxy(moto_url) as proxy:
        cfn = client("cloudformation", proxy.url)
        before = len(cfn.describe_stacks()["Stacks"])
        for name in ("items-a", "items-b"):
            cfn.create_stack(StackName=name, TemplateBody=template(name, alarms=2))
        for i in range(4):  # moto's CloudFormation does not create alarms
            client("cloudwatch", proxy.url).put_metric_alarm(
                AlarmName="items-%d" % i, Namespace="N", MetricName="M", Statistic="Average", Period=60,
                EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
        sns = client("sns", proxy.url)
        topic = sns.create_topic(Name="items-topic")["TopicArn"]
        for i in range(3):
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="items%d@example.com" % i)
        proxy.clear()
        stacks = cfn.describe_stacks()["Stacks"]
        by_topic = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        alarms = client("cloudwatch", proxy.url).describe_alarms(AlarmNamePrefix="items-")["MetricAlarms"]
        endpoints = client("sagemaker", proxy.url).list_endpoints()["Endpoints"]
        calls = proxy.snapshot()
        assert len(stacks) == before + 2 and calls[0].items == len(stacks)
        assert len(by_topic) == 3 and calls[1].items == 3
        assert len(alarms) == 4 and calls[2].items == 4
        assert endpoints == [] and calls[3].items == 0
        assert all(c.response_bytes > 0 for c in calls)
    assert aws_proxy.count_items("CreateStack", "query", b"<StackId>x</StackId>") is None
    cbor = aws_proxy.cbor_encode({"MetricAlarms": [{"AlarmArn": "a", "AlarmName": "x"}, {"AlarmArn": "b"}]})
    assert aws_proxy.count_items("DescribeAlarms", "cbor", cbor) == 2


def test_alarm_writes_of_a_template_count_new_and_changed_alarms_only():
    first = aws_proxy.template_resources(template("t", alarms=3))
    assert aws_proxy.alarms_written(first) == 3
    assert aws_proxy.alarms_written(first, first) == 0
    changed = aws_proxy.template_resources(template("t", alarms=4, threshold=2))
    assert aws_proxy.alarms_written(changed, first) == 2  # Alarm0's threshold, new Alarm3
    assert aws_proxy.alarms_written(changed, None) == 4  # previous template unknown: all of them
    yaml_body = ("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
                 "  Health:\n    Type: AWS::CloudWatch::CompositeAlarm\n"
                 "    Properties:\n      AlarmRule: !Sub 'ALARM(${Topic})'\n      AlarmActions: [!Ref Topic]\n")
    assert aws_proxy.alarms_written(aws_proxy.template_resources(yaml_body)) == 1


@MOTO_ALARM_WARNING
def test_stack_clock_holds_a_stack_in_progress_until_aws_would_have_finished_it(moto_url):
    clock = FakeClock()
    stack_clock = aws_proxy.StackClock(hold=30.0, alarm_rate=3.0, clock=clock)
    with aws_proxy.AwsProxy(moto_url, stack_clock=stack_clock) as proxy:
        cfn = client("cloudformation", proxy.url)
        cfn.create_stack(StackName="clock-hold", TemplateBody=template("clock-hold", alarms=3))
        clock.advance(29.0)
        stack = cfn.describe_stacks(StackName="clock-hold")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_IN_PROGRESS" and "Outputs" not in stack
        listed = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "clock-hold"]
        assert [s["StackStatus"] for s in listed] == ["CREATE_IN_PROGRESS"]
        events = cfn.describe_stack_events(StackName="clock-hold")["StackEvents"]
        assert events and not [e for e in events if e["ResourceType"] == "AWS::CloudFormation::Stack"
                               and e["ResourceStatus"] == "CREATE_COMPLETE"]
        assert stack_clock.operations[0]["reported_complete"] is None
        clock.advance(1.5)
        stack = cfn.describe_stacks(StackName="clock-hold")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE" and stack["Outputs"][0]["OutputKey"] == "TopicArn"
        events = cfn.describe_stack_events(StackName="clock-hold")["StackEvents"]
        assert [e for e in events if e["ResourceType"] == "AWS::CloudFormation::Stack"
                and e["ResourceStatus"] == "CREATE_COMPLETE"]
        operation = stack_clock.operations[0]
        assert (operation["operation"], operation["alarms"]) == ("CREATE", 3)
        assert operation["ready"] - operation["written"] == 30.0 and operation["reported_complete"] == clock.now
        assert any(c.rewritten for c in proxy.snapshot()) and not proxy.faulted()


@MOTO_ALARM_WARNING
def test_stack_clock_releases_alarms_at_the_rate_region_wide_and_throttles_direct_writes(moto_url):
    clock = FakeClock()
    stack_clock = aws_proxy.StackClock(hold=2.0, alarm_rate=1.0, direct_burst=1.0, clock=clock)
    with aws_proxy.AwsProxy(moto_url, stack_clock=stack_clock) as proxy:
        east, west = client("cloudformation", proxy.url), boto3.client(
            "cloudformation", endpoint_url=proxy.url, region_name="eu-west-1", aws_access_key_id="test",
            aws_secret_access_key="test", config=NO_RETRY)
        for name in ("budget-a", "budget-b"):
            east.create_stack(StackName=name, TemplateBody=template(name, alarms=3))
        west.create_stack(StackName="budget-c", TemplateBody=template("budget-c", alarms=3))
        # us-east-1: a's alarms end at +3 s, b's (booked after them) at +6 s; eu-west-1 has a budget of its own
        assert [round(op["ready"] - op["written"]) for op in stack_clock.operations] == [3, 6, 3]
        clock.advance(4.0)
        assert (status(east, "budget-a"), status(east, "budget-b"), status(west, "budget-c")) == (
            "CREATE_COMPLETE", "CREATE_IN_PROGRESS", "CREATE_COMPLETE")
        put = dict(Namespace="N", MetricName="M", Statistic="Average", Period=60, EvaluationPeriods=1,
                   Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
        with pytest.raises(ClientError) as raised:  # booked until +6 s: 2 s ahead, more than the 1 s burst
            client("cloudwatch", proxy.url).put_metric_alarm(AlarmName="direct-east", **put)
        assert raised.value.response["Error"]["Code"] == "Throttling"
        boto3.client("cloudwatch", endpoint_url=proxy.url, region_name="eu-west-1", aws_access_key_id="test",
                     aws_secret_access_key="test", config=NO_RETRY).put_metric_alarm(AlarmName="direct-west", **put)
        clock.advance(2.0)
        assert status(east, "budget-b") == "CREATE_COMPLETE"
        client("cloudwatch", proxy.url).put_metric_alarm(AlarmName="direct-east", **put)
        summary = stack_clock.summary()
        # (NO_RETRY's max_attempts 1 is one retry: the throttled write was tried twice)
        assert summary["direct_alarms_admitted"] == 2 and summary["direct_alarms_throttled"] >= 1
        assert summary["regions"]["us-east-1"]["alarms"] == 6 and summary["regions"]["us-east-1"]["alarm_floor_s"] == 6
        assert set((c.operation, c.region, c.fault) for c in proxy.faulted()) == {
            ("PutMetricAlarm", "us-east-1", "throttle")}


@MOTO_ALARM_WARNING
def test_stack_clock_books_only_changed_alarms_and_refuses_writes_to_a_busy_stack(moto_url):
    clock = FakeClock()
    stack_clock = aws_proxy.StackClock(hold=10.0, alarm_rate=1.0, clock=clock)
    with aws_proxy.AwsProxy(moto_url, stack_clock=stack_clock) as proxy:
        cfn = client("cloudformation", proxy.url)
        cfn.create_stack(StackName="clock-update", TemplateBody=template("clock-update", alarms=3))
        with pytest.raises(ClientError) as raised:
            cfn.update_stack(StackName="clock-update", TemplateBody=template("clock-update", alarms=3, threshold=5))
        assert raised.value.response["Error"]["Code"] == "ValidationError"
        assert "CREATE_IN_PROGRESS" in raised.value.response["Error"]["Message"]
        assert proxy.count("UpdateStack") == 1 and stack_clock.summary()["writes_refused_busy"] == 1
        clock.advance(10.0)
        cfn.update_stack(StackName="clock-update", TemplateBody=template("clock-update", alarms=3, threshold=5))
        assert stack_clock.operations[-1]["operation"] == "UPDATE" and stack_clock.operations[-1]["alarms"] == 1
        assert status(cfn, "clock-update") == "UPDATE_IN_PROGRESS"
        clock.advance(10.0)
        assert status(cfn, "clock-update") == "UPDATE_COMPLETE"

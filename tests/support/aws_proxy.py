"""A recording, fault-injecting HTTP proxy between an AWS SDK and an AWS-compatible server on 127.0.0.1.

    with AwsProxy(localstack.url) as proxy:                   # records every call
        run ansible with AWS_URL=proxy.url ...
        proxy.operations()                                    # {("cloudformation", "DescribeStacks"), ...}

    with AwsProxy(localstack.url, fault_rate=0.2, seed=7) as proxy:   # and answers 20 % of calls with faults
        ...
        proxy.faulted()                                       # the calls that got a fault, and which

Each call is recorded as (service, operation): the service from the SigV4 credential scope of the
Authorization header (``Credential=AK/20260101/us-east-1/SERVICE/aws4_request``: the signing name, so
CloudWatch is ``monitoring``), the operation from ``X-Amz-Target`` (JSON protocols: SageMaker, SQS, and
CloudWatch, which botocore 1.44 calls over JSON 1.0 with ``x-amzn-query-mode``), from the path of a Smithy
RPC v2 CBOR request (``/service/S/operation/OP``, the protocol CloudWatch's model lists first), or from the
``Action`` parameter of a query-protocol request (CloudFormation, SNS, STS, IAM, EC2), in the form body or
the query string.

Faults: whether a call gets one is drawn from the seed and the call's number, so a run's n-th call always
gets the same decision whatever the threads do; the kinds take turns, so any len(kinds) faults in a row hold one
of each. The default kinds (FAULT_KINDS) are every fault below:

    throttle  HTTP 400 Throttling / "Rate exceeded", shaped for the request's protocol (an XML ErrorResponse
              for query protocols, a JSON or CBOR body with ``__type`` and the ``x-amzn-query-error`` header
              for JSON and CBOR ones), as AWS answers when an account's API rate is exceeded
    500       HTTP 500 InternalFailure
    503       HTTP 503 ServiceUnavailable
    html500   HTTP 500 with a bare HTML page: no AWS error code, no request id (what a load balancer or proxy in
    html502   front of an AWS endpoint answers when the service behind it fails: 500 Internal Server Error,
    html503   502 Bad Gateway, 503 Service Temporarily Unavailable, 504 Gateway Timeout)
    html504
    reset     the connection is reset (TCP RST) after the request was read, without an answer
    drop      the connection is closed cleanly (TCP FIN) after the request was read, without an answer
    timeout   the call is FORWARDED, so it takes effect upstream, and its answer is withheld: the proxy holds the
              connection open without a byte of answer until the client gives up (its read timeout: recorded as
              ``Call.gave_up``) or ``timeout_hold`` seconds have passed, then closes it. Either way the answer of a
              call that took effect is lost, the case of a create whose retry meets what it created itself.
    delay     the call is forwarded and answered correctly after a pause (``delay``, 1-2 s by default)

A faulted call other than ``timeout`` and ``delay`` never reaches the upstream server: like a throttled call on
AWS, it has no effect there. (A ``delay`` longer than the client's read timeout is a call that reaches the
server after the client has given up on it and sent it again.) Only loopback addresses are served or forwarded to.

Client request tokens: a CloudFormation CreateStack, UpdateStack, DeleteStack, CreateChangeSet or ExecuteChangeSet
that repeats the client token (``ClientRequestToken``, ``ClientToken``) of one already answered with success gets
that answer again and is not forwarded, as CloudFormation promises for a retried request (LocalStack and moto
ignore the token and answer a retried create with AlreadyExistsException). ``client_tokens=False`` forwards every
call as it comes.

AWS's clock on a fast emulator (``StackClock``, for benchmarks on a real clock):

    with AwsProxy(localstack.url, stack_clock=StackClock(hold=30.0, alarm_rate=3.0)) as proxy:
        ...                                                  # each stack operation takes >= 30 s, alarms 3/s

An emulator finishes a stack in a fraction of a second. With a StackClock, the proxy forwards CreateStack and
UpdateStack at once (the emulator does the work) but reports the stack in progress (in DescribeStacks,
ListStacks and DescribeStackEvents) until the operation would have ended on AWS; see StackClock.

Each call also records the size of its answer and, for the listings whose page size AWS documents, how many
items the answer held (``Call.items``), so that a caller can count the pages AWS would have needed where the
emulator answers everything at once.
"""

import datetime
import http.client
import http.server
import json
import random
import re
import select
import socket
import struct
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ElementTree

HOST = "127.0.0.1"
# Bare error pages: no AWS error code, no request id (what sits in front of a service answers them).
PAGE_KINDS = {"html500": (500, "Internal Server Error"), "html502": (502, "Bad Gateway"),
              "html503": (503, "Service Temporarily Unavailable"), "html504": (504, "Gateway Timeout")}
FAULT_KINDS = ("throttle", "500", "503") + tuple(sorted(PAGE_KINDS)) + ("reset", "drop", "timeout", "delay")
# The CloudFormation writes whose client token makes a retry of them idempotent, and the token's parameter.
TOKEN_OPERATIONS = {"CreateStack": "ClientRequestToken", "UpdateStack": "ClientRequestToken",
                    "DeleteStack": "ClientRequestToken", "ExecuteChangeSet": "ClientRequestToken",
                    "CreateChangeSet": "ClientToken"}
READ_PREFIXES = ("Describe", "Get", "List")
# Headers that belong to one hop, not to the request or answer itself.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/aws4_request")
ERRORS = {
    # kind: (status, code, message, fault type)
    "throttle": (400, "Throttling", "Rate exceeded", "Sender"),
    "500": (500, "InternalFailure", "We encountered an internal error. Please try again.", "Receiver"),
    "503": (503, "ServiceUnavailable", "Service is unavailable. Please try again later.", "Receiver"),
}
# Error code in a JSON body's __type, per fault; query-compatible services (CloudWatch, SQS) also carry the
# query code in x-amzn-query-error, which botocore prefers.
JSON_CODES = {"throttle": "ThrottlingException", "500": "InternalFailure", "503": "ServiceUnavailable"}
XML_NAMESPACES = {
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}


# One key that every item of a listing holds exactly once, per listing operation: counting it in the answer
# counts the items, whatever the protocol (XML element, JSON key, CBOR text key).
ITEM_KEYS = {
    "DescribeStacks": "StackId",
    "ListStacks": "StackId",
    "ListSubscriptions": "SubscriptionArn",
    "ListSubscriptionsByTopic": "SubscriptionArn",
    "ListTopics": "TopicArn",
    "DescribeAlarms": "AlarmArn",
    "ListDashboards": "DashboardArn",
    "ListEndpoints": "EndpointArn",
    "DescribeStackEvents": "EventId",
}
ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
DIRECT_ALARM_WRITES = ("PutMetricAlarm", "PutCompositeAlarm")


def count_items(operation, protocol, data):
    """How many items a listing's answer holds (None for other operations)."""
    key = ITEM_KEYS.get(operation)
    if key is None or not data:
        return None
    if protocol == "query":
        return data.count(("<%s>" % key).encode())
    if protocol == "json":
        return data.count(('"%s"' % key).encode())
    if protocol == "cbor":
        return data.count(cbor_encode(key))
    return None


def is_read(operation):
    """Describe*, Get* and List* calls: the ones that change nothing."""
    return bool(operation) and operation.startswith(READ_PREFIXES)


class Call:
    """One request the proxy received."""

    def __init__(self, index, method, path, service, region, operation, protocol, params, body, fault, delay):
        self.index = index
        self.method = method
        self.path = path
        self.service = service
        self.region = region
        self.operation = operation
        self.protocol = protocol
        self.params = params
        self.body = body
        self.fault = fault
        self.delay = delay
        self.status = None  # the status the client got; None when it got no answer (reset, drop, timeout)
        self.upstream_status = None  # the status upstream answered a forwarded call (a timeout's too)
        self.gave_up = None  # whether the client closed the connection before it had its answer (None: not seen)
        self.replayed = False  # answered with the answer of an earlier call of the same client request token
        self.time = time.time()
        self.response_bytes = 0  # size of the answer's body
        self.items = None  # items in the answer of a listing (ITEM_KEYS), else None
        self.rewritten = False  # the answer was changed by the proxy's StackClock

    @property
    def key(self):
        return (self.service, self.operation)

    @property
    def read_only(self):
        return is_read(self.operation)

    def mentions(self, text):
        """Whether the request's body or path holds this text (a stack name, a topic ARN...)."""
        needle = text.encode() if isinstance(text, str) else text
        return needle in self.body or needle in urllib.parse.unquote(self.path).encode() or \
            needle in urllib.parse.unquote_plus(self.body.decode("latin-1")).encode("latin-1")

    def __repr__(self):
        return "<Call #%d %s:%s %s%s>" % (self.index, self.service, self.operation, self.status,
                                          " fault=%s" % self.fault if self.fault else "")


def classify(method, path, headers, body):
    """(service, region, operation, protocol, params) of one AWS API request."""
    service = region = None
    match = CREDENTIAL.search(headers.get("Authorization", "") or "")
    split = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    if match is None and "X-Amz-Credential" in query:  # a presigned URL
        match = CREDENTIAL.search("Credential=" + query["X-Amz-Credential"][0])
    if match:
        region, service = match.group(3), match.group(4)
    target = headers.get("X-Amz-Target")
    content_type = (headers.get("Content-Type") or "").lower()
    if headers.get("smithy-protocol", "").lower() == "rpc-v2-cbor" or "/operation/" in split.path:
        operation = split.path.rstrip("/").rsplit("/operation/", 1)[-1]
        return service, region, operation, "cbor", {}
    if target:
        try:
            params = json.loads(body.decode("utf-8")) if body else {}
        except ValueError:
            params = {}
        return service, region, target.rsplit(".", 1)[-1], "json", params if isinstance(params, dict) else {}
    params = dict((k, v[0]) for k, v in query.items())
    if body and ("x-www-form-urlencoded" in content_type or not content_type):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update((k, v[0]) for k, v in form.items())
    if "Action" in params:
        return service, region, params["Action"], "query", params
    return service, region, "%s %s" % (method, split.path), "rest", params


def cbor_encode(value):
    """The CBOR subset an error body needs: maps, text, integers, booleans, null."""
    def head(major, n):
        if n < 24:
            return struct.pack(">B", major << 5 | n)
        for info, fmt, limit in ((24, ">B", 0xFF), (25, ">H", 0xFFFF), (26, ">I", 0xFFFFFFFF)):
            if n <= limit:
                return struct.pack(">B", major << 5 | info) + struct.pack(fmt, n)
        return struct.pack(">BQ", major << 5 | 27, n)

    if value is None:
        return b"\xf6"
    if value is True or value is False:
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return head(3, len(data)) + data
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor_encode(k) + cbor_encode(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return head(4, len(value)) + b"".join(cbor_encode(v) for v in value)
    raise TypeError("cannot encode %r" % (value,))


def error_response(kind, call, headers):
    """(status, headers, body) of an AWS error answer for this call, in its protocol's shape."""
    status, code, message, fault_type = ERRORS[kind]
    return error_answer(call, headers, status, code, message, fault_type, JSON_CODES[kind])


def error_answer(call, headers, status, code, message, fault_type="Sender", json_code=None):
    """(status, headers, body) of an AWS error with this code and message, in the call's protocol's shape."""
    request_id = str(uuid.uuid4())
    answer_headers = {"x-amzn-RequestId": request_id}
    if call.protocol in ("json", "cbor"):
        document = {"__type": json_code or code, "message": message}
        if headers.get("x-amzn-query-mode") or call.protocol == "cbor":
            # query-compatible services: botocore takes the code from this header
            answer_headers["x-amzn-query-error"] = "%s;%s" % (code, fault_type)
        if call.protocol == "cbor":
            answer_headers["smithy-protocol"] = "rpc-v2-cbor"
            answer_headers["Content-Type"] = "application/cbor"
            return status, answer_headers, cbor_encode(document)
        content_type = headers.get("Content-Type") or "application/x-amz-json-1.1"
        answer_headers["Content-Type"] = content_type
        return status, answer_headers, json.dumps(document).encode("utf-8")
    namespace = XML_NAMESPACES.get(call.service, "https://%s.amazonaws.com/doc/" % (call.service or "aws"))
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="%s"><Error><Type>%s</Type>'
            "<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
            % (namespace, fault_type, code, message, request_id))
    answer_headers["Content-Type"] = "text/xml"
    return status, answer_headers, body.encode("utf-8")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is dropped after this

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        proxy = self.server.proxy
        body = self._body()
        call = proxy._record(self.command, self.path, self.headers, body)
        if call.fault == "reset":
            # An abortive close: the client sees "connection reset by peer" while waiting for its answer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if call.fault == "drop":
            # An orderly close: the server's shutdown sends FIN, and the client reads the end of the stream where
            # its answer should be.
            self.close_connection = True
            return
        if call.fault in ERRORS:
            status, headers, data = error_response(call.fault, call, self.headers)
            self._answer(call, status, headers.items(), data)
            return
        if call.fault in PAGE_KINDS:
            status, reason = PAGE_KINDS[call.fault]
            page = "<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>" % (
                status, reason, status, reason)
            self._answer(call, status, [("Content-Type", "text/html")], page.encode(), reason)
            return
        clock = proxy.stack_clock
        refusal = clock.refusal(call) if clock is not None else None
        if refusal:
            status, headers, data = error_answer(call, self.headers, 400, "ValidationError", refusal)
            self._answer(call, status, headers.items(), data)
            return
        if clock is not None and call.operation in DIRECT_ALARM_WRITES and not clock.admit_direct_alarm(call.region):
            # An alarm written directly beyond the region's PutMetricAlarm rate: throttled, as AWS does.
            call.fault = "throttle"
            status, headers, data = error_response("throttle", call, self.headers)
            self._answer(call, status, headers.items(), data)
            return
        if call.fault == "delay":
            time.sleep(call.delay)
        try:
            status, reason, headers, data = proxy._send(call, self.command, self.path, self.headers, body)
        except (OSError, http.client.HTTPException) as e:
            if call.fault == "timeout":
                self._withhold(call, proxy.timeout_hold)
                return
            self._answer(call, 502, [("Content-Type", "text/plain")], ("upstream failed: %s" % e).encode())
            return
        call.upstream_status = status
        if clock is not None and not call.replayed:
            data = clock.after_answer(call, status, data)
        if call.fault == "timeout":
            self._withhold(call, proxy.timeout_hold)
            return
        self._answer(call, status, headers, data, reason)

    def _withhold(self, call, hold):
        """Keep the connection open without answering until the client closes it or `hold` seconds pass; then close
        it. Records whether the client gave up first."""
        deadline = time.time() + hold
        gave_up = False
        while not gave_up:
            remaining = deadline - time.time()
            if remaining <= 0 or not select.select([self.connection], [], [], remaining)[0]:
                break
            try:
                gave_up = self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:  # reset by the client
                gave_up = True
            if not gave_up:
                break  # the client sent more on this connection: not a client waiting for this answer
        call.gave_up = gave_up
        self.close_connection = True

    def _answer(self, call, status, headers, data, reason=None):
        call.status = status
        call.response_bytes = len(data or b"")
        if status == 200:
            call.items = count_items(call.operation, call.protocol, data)
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        try:
            self.end_headers()
            if self.command != "HEAD" and data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first (its read timeout)
            call.status = None
            call.gave_up = True
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class AwsProxy:
    """Forward everything to ``upstream`` (an http://127.0.0.1:PORT URL), record it, inject faults.

    fault_rate: share of calls that get a fault (0 to 1). kinds: which faults, taking turns.
    seed: makes the decisions repeatable. delay: (min, max) seconds of a ``delay`` fault.
    timeout_hold: at most how long a ``timeout`` fault holds the answer back (set it past the client's read timeout
    for the client to time out; a client that waits longer sees the connection closed without an answer).
    fault_filter: optional predicate on a Call; calls it rejects are never faulted.
    max_seconds: the proxy stops by itself after this long, whatever happens to the test.
    stack_clock: a StackClock: stack operations take AWS's time, alarm writes are held to a per-region rate.
    client_tokens: answer a CloudFormation write that repeats an answered ClientRequestToken as CloudFormation does.
    """

    def __init__(self, upstream, fault_rate=0.0, kinds=FAULT_KINDS, seed=0, delay=(1.0, 2.0), timeout_hold=5.0,
                 fault_filter=None, max_seconds=1800, upstream_timeout=120, stack_clock=None, client_tokens=True):
        split = urllib.parse.urlsplit(upstream)
        if split.scheme != "http" or split.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the proxy forwards only to a loopback http URL, not %r" % upstream)
        if set(kinds) - set(FAULT_KINDS) or not kinds:
            raise ValueError("fault kinds must be some of %s" % ", ".join(FAULT_KINDS))
        if not 0 <= fault_rate <= 1:
            raise ValueError("fault_rate is a share between 0 and 1")
        self.upstream = upstream
        self._upstream_host = split.hostname
        self._upstream_port = split.port or 80
        self.fault_rate = fault_rate
        self.kinds = tuple(kinds)
        self.seed = seed
        self.delay = delay
        self.timeout_hold = timeout_hold
        self.fault_filter = fault_filter
        self.max_seconds = max_seconds
        self.upstream_timeout = upstream_timeout
        self.stack_clock = stack_clock
        self.client_tokens = client_tokens
        self._answered_tokens = {}  # (region, operation, token) -> {"lock", "answer"}
        self.calls = []
        self._counter = 0
        self._faults = 0
        self._first_kind = random.Random("%s:kinds" % seed).randrange(len(self.kinds))
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self._timer = None
        self.url = None
        self.port = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self):
        self._server = _Server((HOST, 0), _Handler)
        self._server.proxy = self
        self.port = self._server.server_address[1]
        self.url = "http://%s:%d" % (HOST, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="aws-proxy-%d" % self.port, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.max_seconds, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self):
        if self._timer is not None:
            self._timer.cancel()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def env(self, base_env):
        """A copy of an environment for ansible-playbook or boto3 whose AWS calls go through this proxy."""
        env = dict(base_env)
        env["AWS_URL"] = self.url
        env["AWS_ENDPOINT_URL"] = self.url
        return env

    # -- what was seen ---------------------------------------------------------------------------------
    def clear(self):
        """Forget the calls recorded so far (fault decisions go on from the next call number)."""
        with self._lock:
            del self.calls[:]

    def snapshot(self):
        with self._lock:
            return list(self.calls)

    def operations(self):
        """The set of (service, operation) pairs called."""
        return set(c.key for c in self.snapshot())

    def writes(self):
        """Calls other than Describe*, Get*, List*."""
        return [c for c in self.snapshot() if not c.read_only]

    def faulted(self):
        return [c for c in self.snapshot() if c.fault]

    def count(self, operation, service=None):
        return sum(1 for c in self.snapshot() if c.operation == operation and service in (None, c.service))

    # -- inside ----------------------------------------------------------------------------------------
    def _decide(self, index, call):
        """Whether call number ``index`` gets a fault, and which; called in call order, under the lock."""
        if self.fault_rate <= 0 or (self.fault_filter is not None and not self.fault_filter(call)):
            return None, 0.0
        draw = random.Random("%s:%d" % (self.seed, index))
        if draw.random() >= self.fault_rate:
            return None, 0.0
        # The kinds take turns (from a point the seed picks), so that any len(kinds) faults hold one of each.
        kind = self.kinds[(self._first_kind + self._faults) % len(self.kinds)]
        self._faults += 1
        return kind, (draw.uniform(*self.delay) if kind == "delay" else 0.0)

    def _record(self, method, path, headers, body):
        service, region, operation, protocol, params = classify(method, path, headers, body)
        with self._lock:
            self._counter += 1
            index = self._counter
            call = Call(index, method, path, service, region, operation, protocol, params, body, None, 0.0)
            call.fault, call.delay = self._decide(index, call)
            self.calls.append(call)
        return call

    def _send(self, call, method, path, headers, body):
        """Forward the call upstream: (status, reason, headers, data). A CloudFormation write repeating the client
        request token of one already answered with success gets that answer, and is not forwarded again."""
        token = (call.params or {}).get(TOKEN_OPERATIONS.get(call.operation, "-"))
        if not (self.client_tokens and token and call.service == "cloudformation"):
            return self._forward(method, path, headers, body)
        key = (call.region, call.operation, token)
        with self._lock:
            request = self._answered_tokens.setdefault(key, {"lock": threading.Lock(), "answer": None})
        with request["lock"]:  # a retry that comes while the first is still upstream waits for its answer
            if request["answer"] is not None:
                call.replayed = True
                return request["answer"]
            answer = self._forward(method, path, headers, body)
            if answer[0] == 200:
                request["answer"] = answer
            return answer

    def _forward(self, method, path, headers, body):
        connection = http.client.HTTPConnection(self._upstream_host, self._upstream_port,
                                                timeout=self.upstream_timeout)
        try:
            forwarded = [(k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP]
            if body and not any(k.lower() == "content-length" for k, _ in forwarded):
                forwarded.append(("Content-Length", str(len(body))))
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in forwarded:
                connection.putheader(name, value)
            connection.endheaders(body or None)
            answer = connection.getresponse()
            data = answer.read()
            return answer.status, answer.reason, answer.getheaders(), data
        finally:
            connection.close()


# --------------------------------------------------------------------------------------- AWS's clock

def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _child(element, name):
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _parse_time(text):
    try:
        value = datetime.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def template_resources(body):
    """The Resources of a CloudFormation template (JSON or YAML, short-form tags read as plain values)."""
    if not body:
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        def any_tag(loader, _suffix, node):
            if isinstance(node, yaml.MappingNode):
                return loader.construct_mapping(node, deep=True)
            if isinstance(node, yaml.SequenceNode):
                return loader.construct_sequence(node, deep=True)
            return loader.construct_scalar(node)

        Loader.add_multi_constructor("!", any_tag)
        try:
            document = yaml.load(body, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError:
            return {}
    resources = document.get("Resources") if isinstance(document, dict) else None
    return resources if isinstance(resources, dict) else {}


def alarms_written(resources, previous=None):
    """How many alarm writes (PutMetricAlarm / PutCompositeAlarm) CloudFormation makes to apply a template:
    every alarm of a new stack; on an update, the alarms added or changed since `previous` (the Resources
    last applied; None when unknown: every alarm, an upper bound)."""
    count = 0
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") not in ALARM_TYPES:
            continue
        if previous is None or json.dumps(previous.get(logical_id), sort_keys=True, default=str) != \
                json.dumps(resource, sort_keys=True, default=str):
            count += 1
    return count


class StackClock:
    """Stack operations that take as long as on AWS, on an emulator that finishes them at once.

    Why: on LocalStack a stack is created in a fraction of a second, so a benchmark measures Ansible; on AWS a
    stack of this collection takes tens of seconds, and a region puts at most `alarm_rate` alarms a second
    (CloudWatch's PutMetricAlarm quota, 3/s by default, which the alarms CloudFormation creates count against).
    What bounds a real rollout is then the quota and the number of stacks in flight, which is what the real-clock
    benchmark must show.

    How (the proxy calls after_answer with every answer it forwards):

    - CreateStack / UpdateStack are forwarded at once; the emulator does the work. When the emulator accepts the
      operation, the proxy counts the alarm writes it implies (every AWS::CloudWatch::Alarm / CompositeAlarm of
      a new stack; on an update, those added or changed since the template the proxy last saw for that stack),
      and books them on the region's alarm budget: the alarms are released one after the other at `alarm_rate`
      a second, region-wide, first come first served, with no burst (a stack's alarms start when it is written,
      after the alarms booked before them). The operation ends at the later of `hold` seconds after the write
      (the time a stack takes on AWS when nothing is throttled) and the release of its last alarm. This is what
      CloudFormation does when PutMetricAlarm is throttled: it retries, and the stack takes longer, without an
      error reaching the user.
    - Until the operation ends, DescribeStacks and ListStacks report the stack CREATE_IN_PROGRESS or
      UPDATE_IN_PROGRESS (a stack being created shows no outputs yet), DescribeStackEvents leaves out the
      stack's own completion event, and a new CreateStack / UpdateStack / DeleteStack of it is refused with
      CloudFormation's ValidationError, as AWS refuses an operation on a busy stack.
    - An alarm written directly (PutMetricAlarm, PutCompositeAlarm) takes one slot of the same budget; when the
      budget is booked further than `direct_burst` seconds ahead, the call is throttled (HTTP 400 Throttling),
      as AWS answers a client above the quota.

    Each operation is recorded (operations): when written, alarms booked, when it could end, and when the proxy
    first reported it complete to a client. clock: a function returning the time in seconds (time.time; tests
    pass a fake one).
    """

    WRITES = ("CreateStack", "UpdateStack")
    STACK_READS = ("DescribeStacks", "ListStacks")

    def __init__(self, hold=30.0, alarm_rate=3.0, direct_burst=1.0, clock=time.time):
        if hold < 0 or alarm_rate <= 0:
            raise ValueError("hold must be >= 0 and alarm_rate > 0")
        self.hold = float(hold)
        self.alarm_rate = float(alarm_rate)
        self.direct_burst = float(direct_burst)
        self.clock = clock
        self.operations = []
        self.direct_admitted = 0
        self.direct_throttled = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._budget = {}  # region -> when the alarms booked so far are all released
        self._templates = {}  # (region, stack name) -> Resources last applied
        self._current = {}  # (region, stack name) -> its latest operation

    # -- the budget ---------------------------------------------------------------------------------------
    def _book(self, region, count, now):
        start = max(self._budget.get(region, now), now)
        done = start + count / self.alarm_rate
        self._budget[region] = done
        return done

    def admit_direct_alarm(self, region):
        with self._lock:
            now = self.clock()
            if self._budget.get(region, now) - now > self.direct_burst:
                self.direct_throttled += 1
                return False
            self._book(region, 1, now)
            self.direct_admitted += 1
            return True

    # -- operations ---------------------------------------------------------------------------------------
    def busy(self, region, stack_name, now=None):
        """The operation in progress on this stack, or None."""
        operation = self._current.get((region, stack_name))
        now = self.clock() if now is None else now
        return operation if operation is not None and now < operation["ready"] else None

    def refusal(self, call):
        """A ValidationError message for a write to a stack still in progress, else None."""
        if call.service != "cloudformation" or call.operation not in self.WRITES + ("DeleteStack",):
            return None
        name = (call.params or {}).get("StackName")
        with self._lock:
            operation = self.busy(call.region, name)
            if operation is None:
                return None
            self.refused += 1
        return "Stack:%s is in %s_IN_PROGRESS state and can not be updated." % (name, operation["operation"])

    def _register(self, call):
        params = call.params or {}
        name = params.get("StackName")
        key = (call.region, name)
        now = self.clock()
        resources = template_resources(params.get("TemplateBody"))
        with self._lock:
            if call.operation == "CreateStack":
                alarms = alarms_written(resources)
            elif "TemplateBody" in params:
                alarms = alarms_written(resources, self._templates.get(key))
            else:  # UsePreviousTemplate (parameters or tags only): no alarm changes
                alarms, resources = 0, self._templates.get(key, {})
            alarms_done = self._book(call.region, alarms, now)
            operation = {"region": call.region, "stack": name, "operation": call.operation[:-len("Stack")].upper(),
                         "written": now, "alarms": alarms, "alarms_done": alarms_done,
                         "ready": max(now + self.hold, alarms_done), "reported_complete": None}
            self._templates[key] = resources
            self._current[key] = operation
            self.operations.append(operation)

    def after_answer(self, call, status, data):
        """The answer the client gets for `call` (the emulator's, changed while operations are in progress)."""
        if call.service != "cloudformation" or status != 200:
            return data
        if call.operation in self.WRITES:
            self._register(call)
            return data
        if call.operation in self.STACK_READS or call.operation == "DescribeStackEvents":
            try:
                rewritten = self._rewrite(call, data)
            except ElementTree.ParseError:
                return data
            if rewritten is not None:
                call.rewritten = True
                return rewritten
        return data

    def _rewrite(self, call, data):
        with self._lock:
            if not any(key[0] == call.region for key in self._current):
                return None
            root = ElementTree.fromstring(data)
            namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
            now = self.clock()
            changed = False
            if call.operation == "DescribeStackEvents":
                parents = dict((child, parent) for parent in root.iter() for child in parent)
                for event in list(root.iter()):
                    if self._hides_event(call.region, event, now):
                        parents[event].remove(event)
                        changed = True
            else:
                for stack in root.iter():
                    changed = self._rewrite_stack(call.region, stack, now) or changed
        if not changed:
            return None
        if namespace:
            ElementTree.register_namespace("", namespace)
        return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)

    def _rewrite_stack(self, region, stack, now):
        name, status = _child(stack, "StackName"), _child(stack, "StackStatus")
        if name is None or status is None or (status.text or "") == "DELETE_COMPLETE":
            return False
        operation = self._current.get((region, name.text))
        if operation is None:
            return False
        if now < operation["ready"]:
            status.text = operation["operation"] + "_IN_PROGRESS"
            outputs = _child(stack, "Outputs")
            if operation["operation"] == "CREATE" and outputs is not None:
                stack.remove(outputs)
            return True
        if operation["reported_complete"] is None and (status.text or "").endswith("_COMPLETE"):
            operation["reported_complete"] = now
        return False

    def _hides_event(self, region, event, now):
        """A stack-level completion event of an operation still in progress."""
        name, kind, status = (_child(event, "StackName"), _child(event, "ResourceType"),
                              _child(event, "ResourceStatus"))
        if name is None or kind is None or status is None or kind.text != "AWS::CloudFormation::Stack":
            return False
        operation = self.busy(region, name.text, now)
        if operation is None or "IN_PROGRESS" in (status.text or "") and not (status.text or "").endswith(
                "CLEANUP_IN_PROGRESS"):
            return False
        stamp = _parse_time((_child(event, "Timestamp").text if _child(event, "Timestamp") is not None else ""))
        return stamp is None or stamp >= operation["written"] - 2.0

    # -- what happened -------------------------------------------------------------------------------------
    def summary(self):
        """Per region: operations, alarms booked, first write, last end, last completion reported (times in
        seconds of `clock`), and the alarm floor (alarms / rate)."""
        with self._lock:
            regions = {}
            for op in self.operations:
                r = regions.setdefault(op["region"], {"operations": 0, "alarms": 0, "first_write": op["written"],
                                                      "last_ready": op["ready"], "last_reported_complete": None,
                                                      "not_reported_complete": 0})
                r["operations"] += 1
                r["alarms"] += op["alarms"]
                r["first_write"] = min(r["first_write"], op["written"])
                r["last_ready"] = max(r["last_ready"], op["ready"])
                if op["reported_complete"] is None:
                    r["not_reported_complete"] += 1
                else:
                    r["last_reported_complete"] = max(r["last_reported_complete"] or 0, op["reported_complete"])
            for r in regions.values():
                r["alarm_floor_s"] = r["alarms"] / self.alarm_rate
            return {"hold_s": self.hold, "alarm_rate": self.alarm_rate, "regions": regions,
                    "direct_alarms_admitted": self.direct_admitted, "direct_alarms_throttled": self.direct_throttled,
                    "writes_refused_busy": self.refused}

    def clear(self):
        """Forget the operations recorded (the budget, the templates and operations in progress stay)."""
        with self._lock:
            del self.operations[:]
            self.direct_admitted = self.direct_throttled = self.refused = 0

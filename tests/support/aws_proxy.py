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
gets the same decision whatever the threads do; the kinds take turns, so any five faults hold one of each:

    throttle  HTTP 400 Throttling / "Rate exceeded", shaped for the request's protocol (an XML ErrorResponse
              for query protocols, a JSON or CBOR body with ``__type`` and the ``x-amzn-query-error`` header
              for JSON and CBOR ones), as AWS answers when an account's API rate is exceeded
    500       HTTP 500 InternalFailure
    503       HTTP 503 ServiceUnavailable
    reset     the connection is reset (TCP RST) after the request was read, without an answer
    delay     the call is forwarded and answered correctly after a pause (``delay``, 1-2 s by default)

A faulted call other than ``delay`` never reaches the upstream server: like a throttled call on AWS, it
has no effect there. Only loopback addresses are served or forwarded to.
"""

import http.client
import http.server
import json
import random
import re
import socket
import struct
import threading
import time
import urllib.parse
import uuid

HOST = "127.0.0.1"
FAULT_KINDS = ("throttle", "500", "503", "reset", "delay")
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
        self.status = None  # the status the client got; None for a reset or a failed forward
        self.time = time.time()

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
    request_id = str(uuid.uuid4())
    answer_headers = {"x-amzn-RequestId": request_id}
    if call.protocol in ("json", "cbor"):
        document = {"__type": JSON_CODES[kind], "message": message}
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
        if call.fault in ERRORS:
            status, headers, data = error_response(call.fault, call, self.headers)
            self._answer(call, status, headers.items(), data)
            return
        if call.fault == "delay":
            time.sleep(call.delay)
        try:
            status, reason, headers, data = proxy._forward(self.command, self.path, self.headers, body)
        except (OSError, http.client.HTTPException) as e:
            self._answer(call, 502, [("Content-Type", "text/plain")], ("upstream failed: %s" % e).encode())
            return
        self._answer(call, status, headers, data, reason)

    def _answer(self, call, status, headers, data, reason=None):
        call.status = status
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class AwsProxy:
    """Forward everything to ``upstream`` (an http://127.0.0.1:PORT URL), record it, inject faults.

    fault_rate: share of calls that get a fault (0 to 1). kinds: which faults, drawn evenly.
    seed: makes the decisions repeatable. delay: (min, max) seconds of a ``delay`` fault.
    fault_filter: optional predicate on a Call; calls it rejects are never faulted.
    max_seconds: the proxy stops by itself after this long, whatever happens to the test.
    """

    def __init__(self, upstream, fault_rate=0.0, kinds=FAULT_KINDS, seed=0, delay=(1.0, 2.0),
                 fault_filter=None, max_seconds=1800, upstream_timeout=120):
        split = urllib.parse.urlsplit(upstream)
        if split.scheme != "http" or split.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the proxy forwards only to a loopback http URL, not %r" % upstream)
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not kinds:
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
        self.fault_filter = fault_filter
        self.max_seconds = max_seconds
        self.upstream_timeout = upstream_timeout
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
        # The kinds take turns (from a point the seed picks), so that any five faults hold one of each.
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

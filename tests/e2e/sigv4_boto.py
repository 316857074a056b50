"""Checks our SigV4 verifier against an independent signer, botocore.

Called by sigv4_boto.sh as: sigv4_boto.py CHECKER. CHECKER is the
tests/sigv4check program; it reads requests as netstrings on stdin and
prints one "<AWS code> <message>" line per request.

Every request botocore signs must be accepted; every copy of it with one
byte changed (in the method, path, query, a signed header or the body when
its hash is signed) must be refused. The documented AWS examples are signed
by botocore too and must give the documented signatures.
"""
import datetime
import os
import subprocess
import sys
import time
from unittest import mock
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

CHECKER = sys.argv[1]
KEY, SECRET = "AKIDSPARKFORME2E", "sparkform/e2e+secret=="
OTHER_KEY, OTHER_SECRET = "AKIDOTHER", "other-secret"
# The example key of the AWS documentation.
EXAMPLE_KEY, EXAMPLE_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
EP = "http://127.0.0.1:9000"


def fail(msg):
    print("FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def host_of(url):
    p = urlsplit(url)
    default = {"http": 80, "https": 443}.get(p.scheme)
    return p.hostname if p.port in (None, default) else "%s:%d" % (p.hostname, p.port)


class Req:
    """A request as the server receives it."""

    def __init__(self, name, method, url, headers, body, now, body_signed):
        parts = urlsplit(url)
        self.name = name
        self.method = method
        self.path = parts.path
        self.query = parts.query if "?" in url else None
        self.headers = [(k, v if isinstance(v, str) else v.decode()) for k, v in headers.items()]
        # botocore's CRT signer (with python3-awscrt installed) sets Host
        # itself; the classic signer leaves it to the HTTP layer.
        if not any(k.lower() == "host" for k, _ in self.headers):
            self.headers.insert(0, ("Host", host_of(url)))
        self.body = body
        self.now = now
        self.body_signed = body_signed

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def signed_names(self):
        auth = self.header("authorization")
        if auth:
            return auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        for pair in self.query.split("&"):
            if pair.startswith("X-Amz-SignedHeaders="):
                return pair.split("=", 1)[1].split("%3B")
        fail(self.name + ": neither Authorization nor X-Amz-SignedHeaders")


def netstring(b):
    if isinstance(b, str):
        b = b.encode()
    return str(len(b)).encode() + b":" + b + b","


def encode(r):
    out = netstring(str(r.now)) + netstring(r.method) + netstring(r.path)
    out += netstring(b"-" if r.query is None else b"+" + r.query.encode())
    out += netstring(b"-" if r.body is None else b"+" + r.body)
    out += netstring(str(len(r.headers)))
    for k, v in r.headers:
        out += netstring(k) + netstring(v)
    return out


def verify_all(reqs):
    """Runs the checker once over every request; returns its codes."""
    p = subprocess.run(
        [CHECKER, "--region", REGION, "--service", "s3", "--key", KEY, SECRET,
         "--key", OTHER_KEY, OTHER_SECRET, "--key", EXAMPLE_KEY, EXAMPLE_SECRET],
        input=b"".join(encode(r) for r in reqs), capture_output=True, timeout=600)
    if p.returncode != 0:
        fail("sigv4check exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace")))
    lines = p.stdout.decode().splitlines()
    if len(lines) != len(reqs):
        fail("sigv4check answered %d of %d requests" % (len(lines), len(reqs)))
    return lines


def flip(s, i):
    """s with the byte at i replaced by another, never white space."""
    b = bytearray(s.encode() if isinstance(s, str) else s)
    b[i] = ord("y") if b[i] == ord("x") else ord("x")
    return bytes(b) if isinstance(s, bytes) else b.decode("utf-8", errors="surrogateescape")


def mutants(r):
    """(what changed, request, expected code or None for any refusal)."""
    def copy(**kw):
        c = Req.__new__(Req)
        c.__dict__.update(r.__dict__)
        c.headers = list(r.headers)
        c.__dict__.update(kw)
        return c

    yield "method", copy(method="POST" if r.method != "POST" else "PUT"), "SignatureDoesNotMatch"
    for i in range(len(r.path.encode())):
        yield "path byte %d" % i, copy(path=flip(r.path, i)), None
    if r.query:
        for i in range(len(r.query)):
            yield "query byte %d" % i, copy(query=flip(r.query, i)), None
    signed = set(r.signed_names()) | {"authorization"}
    for h, (k, v) in enumerate(r.headers):
        if k.lower() not in signed:
            continue
        for i in range(len(v)):
            headers = list(r.headers)
            headers[h] = (k, flip(v, i))
            yield "header %s byte %d" % (k, i), copy(headers=headers), None
    if r.body_signed and r.body:
        for i in range(len(r.body)):
            yield "body byte %d" % i, copy(body=flip(r.body, i)), "XAmzContentSHA256Mismatch"
    expires = [p.split("=", 1)[1] for p in (r.query or "").split("&")
               if p.startswith("X-Amz-Expires=")]
    if expires:
        yield "expiry passed", copy(now=r.now + int(expires[0]) + 1), "AccessDenied"
    else:
        yield "20 minutes later", copy(now=r.now + 1200), "RequestTimeTooSkewed"
        yield "20 minutes earlier", copy(now=r.now - 1200), "RequestTimeTooSkewed"


# ------------------------------------------------------------ signing

def fixed_time(dt):
    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return dt
    return mock.patch("botocore.auth.datetime.datetime", Fixed)


def sign(name, method, url, headers=None, body=b"", signer=S3SigV4Auth, creds=None,
         context=None, at=None, expires=None):
    """Signs with botocore's own signer classes, as its S3 client does."""
    creds = creds or Credentials(KEY, SECRET)
    req = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    if context:
        req.context.update(context)
    now = at or datetime.datetime.utcnow().replace(microsecond=0)
    with fixed_time(now):
        if expires:
            signer(creds, "s3", REGION, expires=expires).add_auth(req)
        else:
            signer(creds, "s3", REGION).add_auth(req)
    epoch = int(now.replace(tzinfo=datetime.timezone.utc).timestamp())
    sent = {k: v for k, v in req.headers.items()}
    payload = sent.get("X-Amz-Content-SHA256")
    presigned = expires is not None
    return Req(name, method, req.url, sent, None if presigned and method == "GET" else body,
               epoch, bool(payload) and payload != "UNSIGNED-PAYLOAD")


class Captured(Exception):
    pass


def client_requests():
    """Requests the real botocore S3 client builds (serialisation included),
    caught just before they would be sent."""
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    s3 = botocore.session.get_session().create_client(
        "s3", region_name=REGION, endpoint_url=EP, aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        # s3v4: botocore 1.29 still presigns with Signature Version 2 otherwise.
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 0}))
    seen = []

    def capture(request, **kwargs):
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        seen.append((request.method, request.url, dict(request.headers.items()), body or b""))
        raise Captured()

    s3.meta.events.register("before-send.s3", capture)
    calls = [
        ("ListObjectsV2 with continuation-token", lambda: s3.list_objects_v2(
            Bucket="analytics-dev", Prefix="spark events/über ✓", Delimiter="/", MaxKeys=5,
            ContinuationToken="1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=+x y")),
        ("PutObject", lambda: s3.put_object(
            Bucket="analytics-dev", Key="jobs/etl v2 (ü).py", Body=b"print('hello')\n",
            ContentType="text/x-python", Metadata={"owner": "data  team"})),
        ("PutBucketVersioning", lambda: s3.put_bucket_versioning(
            Bucket="analytics-dev", VersioningConfiguration={"Status": "Enabled"})),
        ("DeleteObjects", lambda: s3.delete_objects(
            Bucket="analytics-dev", Delete={"Objects": [{"Key": "a b"}, {"Key": "c+d"}]})),
    ]
    out = []
    for name, call in calls:
        seen.clear()
        now = int(time.time())
        try:
            call()
        except Captured:
            pass
        if len(seen) != 1:
            fail(name + ": the client did not build one request")
        method, url, headers, body = seen[0]
        payload = headers.get("X-Amz-Content-SHA256")
        out.append(Req("client " + name, method, url, headers, body, now,
                       payload not in (None, "UNSIGNED-PAYLOAD")))
    url = s3.generate_presigned_url(
        "get_object", ExpiresIn=900,
        Params={"Bucket": "analytics-dev", "Key": "jobs/etl v2 ü.py",
                "ResponseContentDisposition": 'attachment; filename="etl v2.py"'})
    out.append(Req("client presigned GetObject", "GET", url, {}, None, int(time.time()), False))
    return out


def aws_examples():
    """The signed examples of the S3 SigV4 documentation, signed again by
    botocore at their time: the values tests/unit/test_sigv4.c expects."""
    at = datetime.datetime(2013, 5, 24)
    host = "http://examplebucket.s3.amazonaws.com"

    class KeepDate(S3SigV4Auth):
        # botocore drops X-Amz-Date when a Date header is given; the
        # documented PUT example signs both.
        def _set_necessary_date_headers(self, request):
            request.headers["X-Amz-Date"] = request.context["timestamp"]

    ex = Credentials(EXAMPLE_KEY, EXAMPLE_SECRET)
    cases = [
        (sign("AWS GET object", "GET", host + "/test.txt", {"Range": "bytes=0-9"}, creds=ex, at=at),
         "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        (sign("AWS PUT object", "PUT", host + "/test%24file.text",
              {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
              b"Welcome to Amazon S3.", signer=KeepDate, creds=ex, at=at),
         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        (sign("AWS GET lifecycle", "GET", host + "/?lifecycle", creds=ex, at=at),
         "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        (sign("AWS GET bucket", "GET", host + "/?max-keys=2&prefix=J", creds=ex, at=at),
         "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        (sign("AWS presigned GET", "GET", host + "/test.txt", signer=S3SigV4QueryAuth, creds=ex,
              at=at, expires=86400),
         "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
    ]
    for r, want in cases:
        got = (r.header("authorization") or r.query).rsplit("Signature=", 1)[1]
        if got != want:
            fail("%s: botocore signs %s, the AWS documentation says %s" % (r.name, got, want))
    return [r for r, _ in cases]


def main():
    q = percent_encode_sequence([
        ("prefix", "spark events/über ✓"), ("marker", "a+b~c d"), ("tag", "b"), ("tag", "a"),
        ("empty", ""), ("slash", "/x/"),
    ]) + "&acl"
    key = percent_encode("dir a/ü +~.txt", safe="/~")
    reqs = [
        sign("GET with spaces and unicode in the query", "GET",
             "%s/analytics-dev/%s?%s" % (EP, key, q)),
        sign("PUT with a body", "PUT", EP + "/analytics-dev/" + key,
             {"Content-Type": "application/json", "x-amz-meta-owner": "  data   team ",
              "x-amz-storage-class": "STANDARD"}, b'{"spark": "events", "n": 1}\n'),
        sign("PUT with UNSIGNED-PAYLOAD", "PUT", "https://127.0.0.1:9443/analytics-dev/big.bin",
             {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, b"streamed body",
             context={"client_config": Config(s3={"payload_signing_enabled": False})}),
        sign("GET with a Date header instead of X-Amz-Date", "GET",
             EP + "/analytics-dev?versioning", {"Date": "now"}),
        sign("ListObjectsV2 with continuation-token", "GET", EP + "/analytics-dev?" +
             percent_encode_sequence([("list-type", "2"), ("prefix", "spark-events/"),
                                      ("continuation-token",
                                       "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=+"),
                                      ("delimiter", "/"), ("fetch-owner", "true")])),
        sign("presigned GET", "GET", "%s/analytics-dev/%s?%s" % (
            EP, key, percent_encode_sequence([("response-content-type", "text/plain; a=b"),
                                              ("versionId", "3 ü")])),
             signer=S3SigV4QueryAuth, expires=3600),
        sign("presigned PUT", "PUT", EP + "/analytics-dev/upload%20me", signer=S3SigV4QueryAuth,
             expires=600),
    ]
    reqs += client_requests()
    reqs += aws_examples()

    # Every request, as signed, is accepted.
    for r, line in zip(reqs, verify_all(reqs)):
        if not line.startswith("OK"):
            fail("%s was refused: %s" % (r.name, line))
        print("accepted: " + r.name, flush=True)

    # Signed by a key we know with the wrong secret, or by a key we do not.
    bad = [
        sign("wrong secret", "GET", EP + "/analytics-dev?acl", creds=Credentials(KEY, "wrong")),
        sign("unknown key", "GET", EP + "/analytics-dev?acl", creds=Credentials("AKIDNOBODY", "x")),
        sign("other key", "GET", EP + "/analytics-dev?acl",
             creds=Credentials(OTHER_KEY, OTHER_SECRET)),
    ]
    want = ["SignatureDoesNotMatch", "InvalidAccessKeyId", "OK"]
    for r, w, line in zip(bad, want, verify_all(bad)):
        if line.split(" ", 1)[0] != w:
            fail("%s: expected %s, got %s" % (r.name, w, line))

    # One byte changed anywhere that is signed: refused.
    cases = [(r.name, what, m, code) for r in reqs for what, m, code in mutants(r)]
    lines = verify_all([m for _, _, m, _ in cases])
    for (name, what, _, code), line in zip(cases, lines):
        got = line.split(" ", 1)[0]
        if got == "OK":
            fail("%s with %s changed was accepted" % (name, what))
        if code and got != code:
            fail("%s with %s changed: expected %s, got %s" % (name, what, code, line))
    print("%d signed requests accepted, %d one-byte changes refused" % (len(reqs), len(cases)))


main()

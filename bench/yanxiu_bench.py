"""What the Python benchmarks share: running commands, the JSON API, a `yanxiu serve` on
loopback with its accounts, signing in (with the TOTP second factor reviewers and admins
must have: enrolled on first sign-in, codes computed here per RFC 6238, never a code twice),
resumable uploads with curl, and the median."""
import base64
import hashlib
import hmac
import json
import os
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request

PASSWORD = "Lecture-2026-pass!"

# The server's config for benchmarks: cheap password hashing, quick workers.
BENCH_CONFIG = ("[control.hash_cost]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n"
                "[workers]\nheartbeat_seconds = 1\npoll_ms = 100\n")


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def call(base, method, path, token=None, body=None):
    """(status, JSON body) of an API call; error statuses are answers, not exceptions."""
    req = urllib.request.Request(base + path, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, data) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def api(base, method, path, token=None, body=None):
    """The JSON body of a successful API call; exits with the answer otherwise."""
    status, answer = call(base, method, path, token, body)
    if status >= 300:
        sys.exit(f"{method} {path}: {status} {answer}")
    return answer


def median(xs):
    """The median; with an even count, the mean of the two middle values."""
    s = sorted(x for x in xs if x is not None)
    n = len(s)
    if n == 0:
        return None
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


def start_server(binary, data, accounts, extra_config="", workers=1, log=None):
    """Starts `binary serve` on a free loopback port over `data`, after creating `accounts`
    ((username, role, department or None) with PASSWORD). Returns (process, base URL)."""
    config = os.path.join(data, "yanxiu.toml")
    with open(config, "w") as f:
        f.write(BENCH_CONFIG + extra_config)
    for user, role, dept in accounts:
        args = [binary, "admin", "create-user", "--data-dir", data, "--config", config,
                "--username", user, "--password", PASSWORD, "--role", role]
        if dept:
            args += ["--department", dept]
        run(*args)
    proc = subprocess.Popen([binary, "serve", "--data-dir", data, "--config", config,
                             "--http-addr", "127.0.0.1:0", "--workers", str(workers)],
                            stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, text=True,
                            env={**os.environ, "RUST_LOG": "warn"})
    line = proc.stdout.readline().strip()
    base = line.removeprefix("yanxiu: listening on ")
    if not base.startswith("http"):
        proc.kill()
        sys.exit(f"serve did not start: {line!r}")
    return proc, base


def totp(secret, step):
    """The six-digit TOTP code of `secret` for the 30 s time step `step` (RFC 6238, SHA-1)."""
    digest = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


# (base, username) -> [secret, last step used]
_SECRETS = {}


def _fresh_code(base, user):
    """A code the server has not seen for `user`: the next unused step of the ±1 skew."""
    entry = _SECRETS[(base, user)]
    while True:
        now = int(time.time()) // 30
        step = max(entry[1] + 1, now - 1)
        if step <= now + 1:
            entry[1] = step
            return totp(entry[0], step)
        time.sleep(1)


def _enrol(base, user, token):
    enrolment = api(base, "POST", "/api/v1/me/mfa/totp", token)
    b32 = re.search(r"[?&]secret=([A-Z2-7]+)", enrolment["otpauth_uri"]).group(1)
    secret = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    step = int(time.time()) // 30
    _SECRETS[(base, user)] = [secret, step]
    api(base, "POST", "/api/v1/me/mfa/totp/confirm", token, {"code": totp(secret, step)})


def login(base, user):
    """A session token for `user`, through the second factor when the account has one (or
    must: it is enrolled on its first sign-in)."""
    status, answer = call(base, "POST", "/api/v1/sessions", body={"username": user, "password": PASSWORD})
    if status == 202:
        grant = api(base, "POST", "/api/v1/sessions/second-factor",
                    body={"challenge": answer["challenge"], "code": _fresh_code(base, user)})
        return grant["token"]
    if status != 201:
        sys.exit(f"sign-in of {user}: {status} {answer}")
    if answer.get("restriction") == "mfa_enrolment":
        _enrol(base, user, answer["token"])
    return answer["token"]


def tus_upload(base, token, path, name="lecture.mp4"):
    """Uploads `path` with curl over tus in one streamed PATCH; the new resource's id."""
    size = os.path.getsize(path)
    meta = "filename " + base64.b64encode(name.encode()).decode()
    out = run("curl", "-sS", "-i", "-X", "POST", base + "/api/v1/uploads",
              "-H", "Tus-Resumable: 1.0.0", "-H", f"Upload-Length: {size}",
              "-H", f"Upload-Metadata: {meta}", "-H", f"Authorization: Bearer {token}").stdout
    location = re.search(r"(?im)^location:\s*(\S+)", out).group(1)
    url = location if location.startswith("http") else base + location
    out = run("curl", "-sS", "-i", "-X", "PATCH", url, "-T", path,
              "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0",
              "-H", "Content-Type: application/offset+octet-stream",
              "-H", f"Authorization: Bearer {token}", "-H", "Expect:").stdout
    return re.search(r"(?im)^yanxiu-resource-id:\s*(\S+)", out).group(1)


def review_and_publish(base, producer_token, rid, metadata=None):
    """The three review levels and publication, the producer's, the department reviewer's
    (`dept-reviewer`) and the centre's (`centre-reviewer`)."""
    if metadata:
        api(base, "PATCH", f"/api/v1/resources/{rid}", producer_token, {"metadata": metadata})
    review = lambda level: {"level": level, "decision": "approve", "comment": "符合要求"}  # noqa: E731
    api(base, "POST", f"/api/v1/resources/{rid}/reviews", producer_token, review("self"))
    api(base, "POST", f"/api/v1/resources/{rid}/reviews", login(base, "dept-reviewer"), review("department"))
    centre = login(base, "centre-reviewer")
    api(base, "POST", f"/api/v1/resources/{rid}/reviews", centre, review("technical"))
    api(base, "POST", f"/api/v1/resources/{rid}/publish", centre, {})

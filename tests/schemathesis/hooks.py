"""Schemathesis hooks for `run.sh` (loaded through SCHEMATHESIS_HOOKS).

- Held polls and streams are woken: each holds until a message arrives or its `timeout`
  (5-60 s) passes, and one operation's cases run one after another, so a run of held requests
  alone would take many minutes. While one is under way, a message is sent to its room every
  quarter second; it then answers within about that with the message. The first few polls that
  ask for the shortest timeout (5 s) are left alone, so the `timeout` answer is fuzzed too.
- A push subscription's keys that the schema allows are made a real P-256 key and secret: the
  schema can say their shape, not that the bytes are a point on the curve.
- `ast.parse` is called one thread at a time (see below).
"""

import ast
import http.client
import json
import os
import re
import threading
import urllib.request

import schemathesis

# CPython 3.11's `ast.parse` can fail with "SystemError: AST constructor recursion depth
# mismatch" when several threads call it at once (python/cpython#106905). Hypothesis calls it to
# describe the filters it builds, from every schemathesis worker.
_parse_lock = threading.Lock()
_parse = ast.parse


def _parse_one_at_a_time(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _parse_one_at_a_time

BASE_URL = os.environ["FUZZ_BASE_URL"]
WAKE_EVERY_SECS = 0.25


def _shortest_poll_timeout():
    with urllib.request.urlopen(f"{BASE_URL}/openapi.json", timeout=10) as answer:
        spec = json.load(answer)
    parameters = spec["paths"]["/api/poll"]["get"]["parameters"]
    timeout = next(p for p in parameters if p["name"] == "timeout")
    return timeout["schema"]["minimum"]


SHORTEST_POLL_TIMEOUT = str(_shortest_poll_timeout())
# How many polls may hold until their timeout: each costs the run that many seconds.
_unwoken_left = 3

# Each held request under way (by the id of its case object) and the event that stops its waker.
_wakers = {}
_wakers_lock = threading.Lock()


def _send(room):
    body = {"sender": "fuzz-waker", "text": "wake up"}
    if room is not None:
        body["room"] = room
    request = urllib.request.Request(
        f"{BASE_URL}/api/send",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except (OSError, http.client.HTTPException):
        # A room the poll itself is refused for (400), or the server going away: the poll's own
        # answer is what the checks judge.
        pass


def _wake(rooms, stop):
    while not stop.wait(WAKE_EVERY_SECS):
        for room in rooms:
            _send(room)


def _held_rooms(case):
    """The rooms a held request waits on (`None`: the default room), or `None` for a request
    that is not held (another operation, or a negative case refused at once)."""
    operation = (case.operation.method.upper(), case.operation.path)
    if operation == ("GET", "/api/poll"):
        room = (case.query or {}).get("room")
        return [room] if room is None or isinstance(room, str) else None
    if operation == ("POST", "/api/stream"):
        # A stream holds until news in any of its rooms, so waking its first room is enough.
        rooms = case.body.get("rooms") if isinstance(case.body, dict) else None
        if not isinstance(rooms, list):
            return None
        names = [r["room"] for r in rooms if isinstance(r, dict) and isinstance(r.get("room"), str)]
        return names[:1] or None
    return None


# A browser's subscription keys (a P-256 public key and a 16-byte secret), base64url.
PUSH_KEYS = {
    "p256dh": "BLn9b-VR0ca83knDNZ32dCHGyjJp-1riX9ZTN40MqV8K_LpQmLqxC_DoHvqvFXO_nGdAB4W9dogZb_sM-uV4JbY",
    "auth": "_ordMnz7uTCmrpBTeUV4Bw",
}


def _real_push_keys(case):
    if case.operation.path != "/api/me/push-subscriptions" or case.method.upper() != "POST":
        return
    keys = case.body.get("keys") if isinstance(case.body, dict) else None
    if not isinstance(keys, dict):
        return
    shapes = {"p256dh": r"[A-Za-z0-9_-]{86,88}={0,2}", "auth": r"[A-Za-z0-9_-]{22,24}={0,2}"}
    if all(isinstance(keys.get(k), str) and re.fullmatch(p, keys[k]) for k, p in shapes.items()):
        case.body["keys"] = dict(PUSH_KEYS)


@schemathesis.hook
def before_call(context, case, **kwargs):
    global _unwoken_left
    _real_push_keys(case)
    rooms = _held_rooms(case)
    if rooms is None:
        return
    is_poll = case.operation.path == "/api/poll"
    timeout = str((case.query or {}).get("timeout", "")).strip()
    with _wakers_lock:
        if is_poll and timeout == SHORTEST_POLL_TIMEOUT and _unwoken_left:
            _unwoken_left -= 1
            return
        stop = _wakers[id(case)] = threading.Event()
    threading.Thread(target=_wake, args=(rooms, stop), daemon=True).start()


def _stop_waker(case):
    with _wakers_lock:
        stop = _wakers.pop(id(case), None)
    if stop is not None:
        stop.set()


@schemathesis.hook
def after_call(context, case, response):
    _stop_waker(case)


@schemathesis.hook
def after_network_error(context, case, request):
    _stop_waker(case)

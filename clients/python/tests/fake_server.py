"""An in-memory stand-in for the AM worker routes, as an httpx.MockTransport handler (unit tests only)."""

import json
import threading
import time

import httpx


class FakeServer:
    def __init__(self, tasks=(), lease_ms=60_000, long_poll_s=0.05, arrive_late_s=0.0):
        self.lock = threading.Lock()
        #: How long a long-poll with nothing READY waits at most (the real server: its waitMs).
        self.long_poll_s = long_poll_s
        #: How long a long-poll takes to reach the server (to race it against a later request).
        self.arrive_late_s = arrive_late_s
        self.pending = {}  # requestId -> Event ending its long-poll
        self.ready = [dict(t) for t in tasks]
        self.lease_ms = lease_ms
        self.seq = 0
        self.claims = {}  # requestId -> claim reply
        self.requests = []  # (path, body)
        self.results = {}  # claimToken -> first accepted body
        self.released = []
        self.cancelled = False
        #: path -> list of things to do instead of answering: an httpx.Response, an exception to raise, or
        #: "lose" (do the work, then lose the reply with a ReadTimeout).
        self.faults = {}

    def transport(self):
        return httpx.MockTransport(self.handle)

    def posts(self, path):
        return [body for p, body in self.requests if p == path]

    def handle(self, request):
        path = request.url.path
        body = json.loads(request.content or b"{}")
        with self.lock:
            self.requests.append((path, body))
            fault = self.faults.get(path, []).pop(0) if self.faults.get(path) else None
        if isinstance(fault, httpx.Response):
            return fault
        if isinstance(fault, Exception):
            raise fault
        response = self.answer(path, body)
        if fault == "lose":
            raise httpx.ReadTimeout("reply lost", request=request)
        return response

    def answer(self, path, body):
        if path == "/v1/tasks/claim":
            request_id = body["requestId"]
            wait_s = min(body.get("waitMs", 0) / 1000, self.long_poll_s)
            if wait_s > 0:
                time.sleep(self.arrive_late_s)
            with self.lock:
                # A request with the requestId of a long-poll still waiting ends that long-poll first.
                prior = self.pending.pop(request_id, None)
            if prior is not None:
                prior.set()
            claim = self.claim(request_id)
            if claim is None and wait_s > 0:
                ended = threading.Event()
                with self.lock:
                    self.pending[request_id] = ended
                ended.wait(wait_s)
                with self.lock:
                    if self.pending.get(request_id) is ended:
                        del self.pending[request_id]
            return httpx.Response(204) if claim is None else httpx.Response(200, json=claim)
        if path.endswith("/heartbeat"):
            return httpx.Response(200, json={"leaseUntil": self.lease_until(), "cancelled": self.cancelled})
        if path.endswith("/progress"):
            return httpx.Response(202, json={"seq": self.next_seq()})
        if path.endswith("/release"):
            with self.lock:
                self.released.append(body["claimToken"])
            return httpx.Response(202, json={"seq": self.next_seq()})
        if path == "/v1/results":
            with self.lock:
                self.results.setdefault(body["claimToken"], body)
            reply = {"seq": self.next_seq()}
            if "next" in body:
                reply["next"] = self.claim(body["next"]["requestId"])
            return httpx.Response(202, json=reply)
        return httpx.Response(404, json={"code": "AM_ERR_ROUTE_NOT_FOUND"})

    def claim(self, request_id):
        with self.lock:
            if request_id in self.claims:
                return self.claims[request_id]
            if not self.ready:
                return None
            task = self.ready.pop(0)
            self.seq += 1
            claim = {
                "task": {"graphId": "g1", "kind": "work", "attempt": 1, "cycle": 1, "instructions": "", **task},
                "claimToken": str(self.seq),
                "leaseUntil": self.lease_until(),
                "leaseMs": self.lease_ms,
                "context": {"goal": "the goal", "dependencies": []},
            }
            self.claims[request_id] = claim
            return claim

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def lease_until(self):
        moment = time.gmtime(time.time() + self.lease_ms / 1000)
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", moment)


def problem(status, code):
    return httpx.Response(status, json={"status": status, "code": code, "detail": code.lower()})

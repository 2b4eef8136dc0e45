import threading
import time
import unittest

import httpx

from am_worker import AmClient, ApiError, NetworkError
from tests.fake_server import FakeServer, problem


def client_for(server, **options):
    return AmClient("http://am.test", "a-token-of-enough-length", base_delay=0.01, transport=server.transport(), **options)


class AmClientTest(unittest.TestCase):
    def test_a_claim_whose_reply_was_lost_is_asked_again_with_the_same_request_id(self):
        server = FakeServer([{"id": "a", "title": "A"}, {"id": "b", "title": "B"}])
        server.faults["/v1/tasks/claim"] = ["lose"]
        claim = client_for(server).claim("req-1", wait_ms=100)
        self.assertEqual(claim.task.id, "a")
        self.assertEqual([body["requestId"] for body in server.posts("/v1/tasks/claim")], ["req-1", "req-1"])
        self.assertEqual(server.ready, [{"id": "b", "title": "B"}])  # one task claimed, not two

    def test_204_is_no_task(self):
        self.assertIsNone(client_for(FakeServer()).claim("req-1", wait_ms=0))

    def test_5xx_and_unreachable_are_retried_then_answered(self):
        server = FakeServer([{"id": "a", "title": "A"}])
        server.faults["/v1/tasks/claim"] = [problem(503, "AM_ERR_NOT_READY"), httpx.ConnectError("refused")]
        self.assertEqual(client_for(server).claim("r", wait_ms=0).task.id, "a")
        self.assertEqual(len(server.posts("/v1/tasks/claim")), 3)

    def test_retries_end_after_the_attempts(self):
        server = FakeServer()
        server.faults["/v1/tasks/claim"] = [httpx.ConnectError("refused")] * 3
        with self.assertRaises(NetworkError):
            client_for(server).claim("r", attempts=3)
        self.assertEqual(len(server.posts("/v1/tasks/claim")), 3)

    def test_a_stop_event_ends_the_retries(self):
        server = FakeServer()
        server.faults["/v1/tasks/claim"] = [httpx.ConnectError("refused")] * 50
        stop = threading.Event()
        threading.Timer(0.05, stop.set).start()
        started = time.time()
        with self.assertRaises(NetworkError):
            AmClient("http://am.test", "t" * 20, base_delay=0.02, max_delay=0.02, transport=server.transport()).claim(
                "r", attempts=1000, stop=stop
            )
        self.assertLess(time.time() - started, 1.0)

    def test_a_rate_limit_waits_as_long_as_the_server_asks(self):
        server = FakeServer([{"id": "a", "title": "A"}])
        limited = httpx.Response(429, headers={"retry-after": "0.2"}, json={"code": "AM_ERR_RATE_LIMITED"})
        server.faults["/v1/tasks/claim"] = [limited]
        started = time.time()
        client_for(server).claim("r")
        self.assertGreaterEqual(time.time() - started, 0.2)

    def test_refusals_and_stale_claims_are_raised_at_once_with_their_code(self):
        server = FakeServer()
        server.faults["/v1/tasks/claim"] = [problem(401, "AM_ERR_AUTH_REVOKED")]
        server.faults["/v1/results"] = [problem(409, "AM_ERR_STALE_CLAIM")]
        client = client_for(server)
        with self.assertRaises(ApiError) as refused:
            client.claim("r")
        self.assertTrue(refused.exception.refused)
        self.assertEqual(refused.exception.code, "AM_ERR_AUTH_REVOKED")
        with self.assertRaises(ApiError) as stale:
            client.submit_result({"graphId": "g", "taskId": "a", "claimToken": "7", "status": "completed", "output": "x"})
        self.assertTrue(stale.exception.claim_gone)
        self.assertFalse(stale.exception.refused)
        self.assertEqual(len(server.posts("/v1/tasks/claim")), 1)
        self.assertEqual(len(server.posts("/v1/results")), 1)

    def test_a_foreign_claim_is_not_a_refusal_but_a_forbidden_role_is(self):
        self.assertFalse(ApiError(403, "AM_ERR_CLAIM_FOREIGN", "").refused)
        self.assertTrue(ApiError(403, "AM_ERR_AUTH_FORBIDDEN", "").refused)
        self.assertTrue(ApiError(409, "AM_ERR_CONFLICT", "").retryable)
        self.assertFalse(ApiError(409, "AM_ERR_STALE_CLAIM", "").retryable)


if __name__ == "__main__":
    unittest.main()

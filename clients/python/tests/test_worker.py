import threading
import time
import unittest
from unittest import mock

from am_worker import AmClient, Result, Worker, final_step
from tests.fake_server import FakeServer, problem


def make_worker(server, handler=None, **options):
    client = AmClient("http://am.test", "a-token-of-enough-length", base_delay=0.01, transport=server.transport())
    defaults = dict(claim_wait_ms=50, grace=1.0, release_within=1.0)
    defaults.update(options)
    return Worker(client, handler, **defaults) if handler else Worker(client, **defaults)


def wait_until(predicate, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


class WorkerTest(unittest.TestCase):
    def test_runs_every_task_once_on_its_threads_and_stops_at_once(self):
        server = FakeServer([{"id": f"t{i}", "title": f"Topic {i}"} for i in range(6)])
        worker = make_worker(server, concurrency=3)
        worker.start()
        self.assertTrue(wait_until(lambda: len(server.results) == 6))
        started = time.time()
        worker.stop()
        self.assertLess(time.time() - started, 1.0)
        self.assertEqual(sorted(body["taskId"] for body in server.results.values()), [f"t{i}" for i in range(6)])
        for token, body in server.results.items():
            self.assertEqual(body["claimToken"], token)
            self.assertEqual(body["status"], "completed")
            self.assertEqual(body["history"][0]["action"]["type"], "final")
            self.assertEqual(body["model"], "offline")
            self.assertIn("requestId", body["next"])
        self.assertEqual(worker.stats["completed"], 6)
        self.assertEqual(server.released, [])

    def test_stop_ends_a_waiting_long_poll_at_once(self):
        server = FakeServer(long_poll_s=10)
        worker = make_worker(server, claim_wait_ms=20_000, grace=3.0)
        worker.start()
        self.assertTrue(wait_until(lambda: len(server.pending) == 1))
        started = time.time()
        worker.stop()
        self.assertLess(time.time() - started, 1.0)
        request_ids = [body["requestId"] for body in server.posts("/v1/tasks/claim")]
        self.assertEqual(len(request_ids), 2)
        self.assertEqual(request_ids[0], request_ids[1])  # ended by asking again with the same id
        self.assertEqual(server.posts("/v1/tasks/claim")[1]["waitMs"], 0)

    def test_stop_ends_a_long_poll_that_reached_the_server_after_its_ending_request(self):
        server = FakeServer(long_poll_s=10, arrive_late_s=0.2)
        worker = make_worker(server, claim_wait_ms=20_000, grace=3.0)
        worker.start()
        self.assertTrue(wait_until(lambda: len(server.requests) == 1))  # sent, not yet arrived
        started = time.time()
        worker.stop()
        self.assertLess(time.time() - started, 1.5)
        self.assertEqual(server.pending, {})

    def test_a_result_whose_reply_was_lost_is_sent_again_unchanged(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}])
        server.faults["/v1/results"] = ["lose"]
        worker = make_worker(server)
        worker.start()
        self.assertTrue(wait_until(lambda: worker.stats["completed"] == 1))
        worker.stop()
        posts = server.posts("/v1/results")
        self.assertEqual(len(posts), 2)
        self.assertEqual(posts[0], posts[1])

    def test_a_stale_result_is_logged_and_dropped(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}, {"id": "b", "title": "Beta"}])
        server.faults["/v1/results"] = [problem(409, "AM_ERR_STALE_CLAIM")]
        lines = []
        worker = make_worker(server, log=lines.append)
        worker.start()
        self.assertTrue(wait_until(lambda: worker.stats["completed"] == 1))
        worker.stop()
        self.assertEqual(worker.stats["dropped"], 1)
        self.assertTrue(any("dropped the result of g1/a: AM_ERR_STALE_CLAIM" in line for line in lines), lines)
        self.assertEqual(len(server.posts("/v1/results")), 2)  # not retried

    def test_a_refused_token_stops_the_worker(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}])
        server.faults["/v1/tasks/claim"] = [problem(401, "AM_ERR_AUTH_REVOKED")]
        refused = threading.Event()
        worker = make_worker(server, on_refused=lambda error: refused.set())
        worker.start()
        self.assertTrue(refused.wait(2))
        worker.stop()
        self.assertEqual(worker.refused.code, "AM_ERR_AUTH_REVOKED")
        self.assertEqual(len(server.posts("/v1/tasks/claim")), 1)
        self.assertEqual(server.ready, [{"id": "a", "title": "Alpha"}])

    def test_a_cancelled_graph_stops_the_handler_and_drops_its_result(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}], lease_ms=150)
        server.cancelled = True
        seen = threading.Event()

        def handler(task, context):
            seen.set()
            self.assertTrue(context.cancelled.wait(2))
            return Result(output="late", history=[final_step("t", "late")])

        with mock.patch("am_worker.leases.MIN_PERIOD", 0.01):
            worker = make_worker(server, handler)
            worker.start()
            self.assertTrue(seen.wait(2))
            self.assertTrue(wait_until(lambda: worker.stats["dropped"] == 1))
            worker.stop()
        self.assertEqual(server.results, {})
        self.assertGreaterEqual(len([p for p, _ in server.requests if p.endswith("/heartbeat")]), 1)

    def test_stop_releases_a_task_that_does_not_finish_within_the_grace(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}])
        running = threading.Event()
        never = threading.Event()

        def stubborn(task, context):
            running.set()
            never.wait(10)  # ignores context.cancelled
            return "too late"

        worker = make_worker(server, stubborn, grace=0.2, release_within=1.0)
        worker.start()
        self.assertTrue(running.wait(2))
        started = time.time()
        worker.stop()
        self.assertLess(time.time() - started, 1.0)
        self.assertEqual(server.released, ["1"])
        self.assertEqual(worker.stats["released"], 1)
        never.set()
        self.assertEqual(server.results, {})

    def test_a_task_that_finishes_within_the_grace_is_submitted(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}])
        running = threading.Event()

        def brief(task, context):
            running.set()
            time.sleep(0.2)
            return "Alpha done"

        worker = make_worker(server, brief, grace=2.0)
        worker.start()
        self.assertTrue(running.wait(2))
        worker.stop()
        self.assertEqual([body["output"] for body in server.results.values()], ["Alpha done"])
        self.assertNotIn("next", server.posts("/v1/results")[0])  # a stopping worker asks for no next task
        self.assertEqual(server.released, [])

    def test_an_output_the_server_refuses_is_reported_as_a_failure(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}])
        server.faults["/v1/results"] = [problem(413, "AM_ERR_PAYLOAD_TOO_LARGE")]
        worker = make_worker(server)
        worker.start()
        self.assertTrue(wait_until(lambda: worker.stats["failed"] == 1))
        worker.stop()
        first, second = server.posts("/v1/results")
        self.assertEqual((first["status"], second["status"]), ("completed", "failed"))
        self.assertEqual(first["claimToken"], second["claimToken"])
        self.assertIn("AM_ERR_PAYLOAD_TOO_LARGE", second["error"]["message"])

    def test_a_handler_that_raises_reports_a_retryable_failure(self):
        server = FakeServer([{"id": "a", "title": "Alpha"}])

        def broken(task, context):
            raise RuntimeError("model unavailable")

        worker = make_worker(server, broken)
        worker.start()
        self.assertTrue(wait_until(lambda: worker.stats["failed"] == 1))
        worker.stop()
        body = server.posts("/v1/results")[0]
        self.assertEqual(body["status"], "failed")
        self.assertEqual(body["error"], {"message": "RuntimeError: model unavailable", "retryable": True})


if __name__ == "__main__":
    unittest.main()

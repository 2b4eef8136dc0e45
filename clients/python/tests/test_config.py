import json
import os
import tempfile
import unittest

from am_worker import ConfigError, load_config, parse_config

GOOD = {"client_agent_id": "w1", "server_url": "http://127.0.0.1:8080/", "auth_token": "a-token-of-enough-length"}


def parse(**changes):
    raw = {**GOOD, **changes}
    return parse_config(json.dumps({k: v for k, v in raw.items() if v is not ...}), "worker.json")


class ConfigTest(unittest.TestCase):
    def assert_field(self, field, **changes):
        with self.assertRaises(ConfigError) as caught:
            parse(**changes)
        self.assertEqual(caught.exception.field, field)
        self.assertTrue(str(caught.exception).startswith(f"worker.json: {field}: "), str(caught.exception))

    def test_reads_the_fields_it_uses_and_ignores_the_others(self):
        config = parse(mcpServers={"x": {"command": "y"}}, tool_modules=["m"], nats_url="nats://h:4222")
        self.assertEqual(config.client_agent_id, "w1")
        self.assertEqual(config.server_url, "http://127.0.0.1:8080")
        self.assertEqual(config.concurrency, 1)
        self.assertEqual(config.capabilities, ())
        self.assertNotIn(GOOD["auth_token"], repr(config))

    def test_takes_capabilities_and_concurrency(self):
        config = parse(capabilities=["code", "web"], concurrency=4)
        self.assertEqual(config.capabilities, ("code", "web"))
        self.assertEqual(config.concurrency, 4)

    def test_names_a_missing_required_field(self):
        self.assert_field("auth_token", auth_token=...)
        self.assert_field("client_agent_id", client_agent_id=...)
        self.assert_field("server_url", server_url=...)

    def test_names_a_field_of_the_wrong_shape(self):
        self.assert_field("auth_token", auth_token="short")
        self.assert_field("auth_token", auth_token=12345678901234567890)
        self.assert_field("client_agent_id", client_agent_id="_reserved")
        self.assert_field("server_url", server_url="ftp://example.com")
        self.assert_field("concurrency", concurrency=True)
        self.assert_field("concurrency", concurrency=0)
        self.assert_field("concurrency", concurrency="2")
        self.assert_field("capabilities", capabilities="code")
        self.assert_field("capabilities.1", capabilities=["code", ""])

    def test_names_the_file_when_it_is_not_json_or_missing(self):
        with self.assertRaises(ConfigError) as caught:
            parse_config("{nope", "worker.json")
        self.assertEqual(caught.exception.field, "(file)")
        with self.assertRaises(ConfigError) as caught:
            parse_config("[1]", "worker.json")
        self.assertEqual(caught.exception.field, "(root)")
        with tempfile.TemporaryDirectory() as folder:
            missing = os.path.join(folder, "none.json")
            with self.assertRaises(ConfigError) as caught:
                load_config(missing)
            self.assertEqual(str(caught.exception), f"{missing}: (file): file not found")


if __name__ == "__main__":
    unittest.main()

"""Reads a `mcp_client_config.json`: the fields a worker uses are checked, unknown ones are ignored.

The file is shared with the TypeScript worker and with tools that add their own fields (`mcpServers`,
`tool_modules`, …), so a field this client does not use never fails it; a field it uses and cannot
use fails with a ConfigError naming the file and the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, List, Tuple
from urllib.parse import urlparse

from .errors import ConfigError

AGENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_CAPABILITIES = 64
MAX_CAPABILITY_CHARS = 64
MAX_CONCURRENCY = 256


@dataclass(frozen=True)
class ClientConfig:
    """The fields of `mcp_client_config.json` a Python worker uses."""

    client_agent_id: str
    server_url: str
    auth_token: str = field(repr=False)
    #: Offered only tasks without a capability or with one of these. Default: none.
    capabilities: Tuple[str, ...] = ()
    #: Tasks run at once. Default 1.
    concurrency: int = 1


def load_config(path: str) -> ClientConfig:
    """Reads and checks the file; raises ConfigError(path, field, message) on the first problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise ConfigError(path, "(file)", "file not found") from None
    except OSError as error:
        raise ConfigError(path, "(file)", error.strerror or str(error)) from None
    return parse_config(text, path)


def parse_config(text: str, path: str = "mcp_client_config.json") -> ClientConfig:
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ConfigError(path, "(file)", f"not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, "(root)", f"expected a JSON object, got {_kind(raw)}")

    agent_id = _required_string(raw, "client_agent_id", path)
    if not AGENT_ID_PATTERN.match(agent_id):
        raise ConfigError(
            path,
            "client_agent_id",
            "an agent id is 1-64 characters of A-Z a-z 0-9 _ -, not starting with _ or -",
        )
    server_url = _required_string(raw, "server_url", path)
    parsed = urlparse(server_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(path, "server_url", f"expected an http(s) URL, got {server_url!r}")
    token = _required_string(raw, "auth_token", path)
    if not 16 <= len(token) <= 512:
        raise ConfigError(path, "auth_token", "expected 16 to 512 characters")
    return ClientConfig(
        client_agent_id=agent_id,
        server_url=server_url.rstrip("/"),
        auth_token=token,
        capabilities=_capabilities(raw.get("capabilities"), path),
        concurrency=_concurrency(raw.get("concurrency"), path),
    )


def _required_string(raw: dict, name: str, path: str) -> str:
    value = raw.get(name)
    if value is None:
        raise ConfigError(path, name, "required")
    if not isinstance(value, str):
        raise ConfigError(path, name, f"expected a string, got {_kind(value)}")
    if value == "":
        raise ConfigError(path, name, "must not be empty")
    return value


def _capabilities(value: Any, path: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(path, "capabilities", f"expected a list of strings, got {_kind(value)}")
    if len(value) > MAX_CAPABILITIES:
        raise ConfigError(path, "capabilities", f"at most {MAX_CAPABILITIES} capabilities")
    out: List[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_CAPABILITY_CHARS:
            raise ConfigError(
                path, f"capabilities.{index}", f"expected a string of 1 to {MAX_CAPABILITY_CHARS} characters"
            )
        out.append(item)
    return tuple(out)


def _concurrency(value: Any, path: str) -> int:
    if value is None:
        return 1
    # bool is an int in Python; `true` is not a concurrency.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, "concurrency", f"expected an integer, got {_kind(value)}")
    if not 1 <= value <= MAX_CONCURRENCY:
        raise ConfigError(path, "concurrency", f"expected 1 to {MAX_CONCURRENCY}, got {value}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


__all__ = ["ClientConfig", "ConfigError", "load_config", "parse_config"]

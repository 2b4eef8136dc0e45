"""`python3 client_worker.py --config FILE [--concurrency N] [--quiet] [--handler MODULE:FUNCTION]`

Exit codes: 0 after a graceful stop (SIGTERM/SIGINT), 1 when the server refused the agent (revoked,
rotated or wrong token), 2 on a bad config file or bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from datetime import datetime, timezone
from typing import Callable, List, Optional

from .client import AmClient
from .config import load_config
from .errors import ConfigError
from .offline import offline_handler
from .worker import Handler, Worker

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_CONFIG = 2


def main(argv: Optional[List[str]] = None) -> int:
    name = _program_name()
    parser = argparse.ArgumentParser(
        description="An AM worker in Python: claims READY tasks, runs a handler on them, posts the results.",
    )
    parser.add_argument("--config", required=True, help="a mcp_client_config.json (am agents add … --out FILE)")
    parser.add_argument("--concurrency", type=_positive_int, help="tasks at once (default: the config, else 1)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors")
    parser.add_argument(
        "--handler",
        default=None,
        help="MODULE:FUNCTION to run on each task, e.g. my_agent:handle (default: the offline handler)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help="seconds a running task may take to finish after SIGTERM before it is released (default 5)",
    )
    parser.add_argument("--wait-ms", type=int, default=20_000, help="claim long-poll, 0-30000 ms (default 20000)")
    args = parser.parse_args(argv)

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"{name}: {error}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    try:
        handler = _load_handler(args.handler)
    except (ImportError, AttributeError, ValueError) as error:
        print(f"{name}: --handler: {error}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    if not 0 <= args.wait_ms <= 30_000:
        print(f"{name}: --wait-ms: expected 0 to 30000", file=sys.stderr, flush=True)
        return EXIT_CONFIG

    say = _printer(sys.stdout, args.quiet)
    warn = _printer(sys.stderr, False)
    client = AmClient(config.server_url, config.auth_token)
    concurrency = args.concurrency or config.concurrency
    worker = Worker(
        client,
        handler,
        concurrency=concurrency,
        capabilities=config.capabilities,
        claim_wait_ms=args.wait_ms,
        grace=max(0.0, args.grace),
        log=say,
        warn=warn,
    )
    handler_name = getattr(handler, "__name__", repr(handler))
    say(
        f"worker {config.client_agent_id} polling {config.server_url} (python, concurrency {concurrency}, "
        f"handler {handler_name})"
    )
    code = worker.run()
    client.close()
    stats = worker.stats
    say(f"stopped (claimed {stats['claimed']}, completed {stats['completed']}, released {stats['released']})")
    if worker.refused is not None:
        warn(
            f"the server refused agent {config.client_agent_id} ({worker.refused.code}): if it was rotated, "
            "use the new config; if revoked, register a new agent"
        )
        return EXIT_REFUSED
    return code


def _program_name() -> str:
    """`client_worker` or `am-python-worker`: how the user started it, for the first word of errors."""
    base = os.path.basename(sys.argv[0] or "client_worker")
    return base[:-3] if base.endswith(".py") else base


def _load_handler(spec: Optional[str]) -> Handler:
    if spec is None:
        return offline_handler
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:FUNCTION, got {spec!r}")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise ValueError(f"{spec} is not callable")
    return handler


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"expected 1 to 256, got {value}")
    return value


def _printer(stream, quiet: bool) -> Callable[[str], None]:  # type: ignore[no-untyped-def]
    lock = threading.Lock()

    def write(line: str) -> None:
        if quiet:
            return
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with lock:
            stream.write(f"{stamp} {line}\n")
            stream.flush()

    return write


if __name__ == "__main__":
    sys.exit(main())

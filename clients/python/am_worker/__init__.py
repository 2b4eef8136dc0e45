"""am_worker: a Python worker for AgentManager (AM) over its HTTP API. Depends on httpx only.

    from am_worker import AmClient, Worker, Result, final_step, load_config

    def handle(task, context):
        answer = f"{task.title}: done"
        return Result(output=answer, history=[final_step("I did it.", answer)])

    config = load_config("mcp_client_config.json")
    worker = Worker(AmClient(config.server_url, config.auth_token), handle)
    worker.start()
"""

from .client import AmClient
from .config import ClientConfig, load_config, parse_config
from .errors import AmError, ApiError, ConfigError, NetworkError
from .model import Claim, Dependency, Result, Rework, Step, Task, TaskContext, final_step
from .offline import offline_handler
from .worker import Handler, Worker

__version__ = "0.1.0"

__all__ = [
    "AmClient",
    "AmError",
    "ApiError",
    "Claim",
    "ClientConfig",
    "ConfigError",
    "Dependency",
    "Handler",
    "NetworkError",
    "Result",
    "Rework",
    "Step",
    "Task",
    "TaskContext",
    "Worker",
    "final_step",
    "load_config",
    "offline_handler",
    "parse_config",
]

"""The errors a worker tells apart: a refused agent, a claim that is no longer ours, an outage to wait out."""

from __future__ import annotations

from typing import Optional

#: Codes that mean "this claim is no longer ours": the result (or heartbeat) is dropped, not retried.
CLAIM_GONE_CODES = frozenset({"AM_ERR_STALE_CLAIM", "AM_ERR_CLAIM_FOREIGN", "AM_ERR_GRAPH_CANCELLED"})

#: 403 codes that refuse the agent itself (as opposed to one claim held by another agent).
REFUSED_403_CODES = frozenset({"AM_ERR_AUTH_FORBIDDEN"})


class AmError(Exception):
    """Base class of every error this package raises."""


class ConfigError(AmError):
    """A `mcp_client_config.json` that cannot be used; `field` names the offending field."""

    def __init__(self, path: str, field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}")
        self.path = path
        self.field = field
        self.message = message


class NetworkError(AmError):
    """The server could not be reached or did not answer in time: always safe to retry."""

    retryable = True
    refused = False


class ApiError(AmError):
    """The server answered with an error (application/problem+json; `code` is stable)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        retry_after: Optional[float] = None,
        field: Optional[str] = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        #: Seconds the server asked us to wait (Retry-After), if it said.
        self.retry_after = retry_after
        self.field = field

    @property
    def refused(self) -> bool:
        """The token was refused (revoked, rotated, wrong) or may not do worker calls: no retry will help."""
        return self.status == 401 or (self.status == 403 and self.code in REFUSED_403_CODES)

    @property
    def claim_gone(self) -> bool:
        """The claim this call presented is no longer ours (stale, another agent's, graph cancelled)."""
        return self.code in CLAIM_GONE_CODES

    @property
    def retryable(self) -> bool:
        """5xx (not ready, store unavailable), a rate limit, or a lost optimistic race: ask again."""
        return self.status >= 500 or self.status == 429 or self.code == "AM_ERR_CONFLICT"

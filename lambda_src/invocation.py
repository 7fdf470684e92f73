"""The invocation's time budget and identity (request id, cold start)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from lambda_src.logs import bind_invocation

# Kept back from the invocation's remaining time so the handler can still log and return a
# response after the last database attempt gives up.
RESPONSE_RESERVE_SECONDS = 0.25

# Used when there is no Lambda context (a local run): long enough for any single call.
DEFAULT_BUDGET_SECONDS = 30.0

_cold_start = True


class LambdaContext(Protocol):
    """The two members of the Lambda context object this package uses."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass
class Deadline:
    """A point in time (on `clock`) by which the invocation's database work must end."""

    expires_at: float
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> "Deadline":
        return cls(expires_at=clock() + seconds, clock=clock)

    @classmethod
    def from_context(cls, context: LambdaContext | None) -> "Deadline":
        """The Lambda's remaining time less a small reserve for the response."""
        if context is None:
            return cls.after(DEFAULT_BUDGET_SECONDS)
        remaining_seconds = context.get_remaining_time_in_millis() / 1000.0
        return cls.after(max(0.0, remaining_seconds - RESPONSE_RESERVE_SECONDS))

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self.clock())

    def budget(self, cap_seconds: float) -> float:
        """The smaller of `cap_seconds` and the time left."""
        return min(cap_seconds, self.remaining())


def start_invocation(context: LambdaContext | None) -> Deadline:
    """Bind the request id and cold-start flag for logging and return the invocation's deadline."""
    global _cold_start
    deadline = Deadline.from_context(context)
    request_id = getattr(context, "aws_request_id", None)
    bind_invocation(request_id, _cold_start)
    _cold_start = False
    return deadline

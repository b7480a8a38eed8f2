"""Failures in the words of the library that raised them.

Real traces never say "timeout" in a field of their own: a request that timed out arrives as an
exception of whatever client gave up (httpx, requests, the OpenAI SDK, asyncio, gRPC, the OpenAI
Agents SDK), with that library's message. :class:`Failure` holds one such exception (its module,
class name and ``str()``), and :func:`exception` builds an instance whose type carries that module
and name, so the OpenTelemetry SDK records it as the real one would (``exception.type``
``httpx.ReadTimeout``, status description ``"ReadTimeout: timed out"``).

``kind`` is the simulator's own ground truth (what really happened), used for labels and tests
only; it is never written into a span.
"""

from __future__ import annotations

import asyncio
import functools
import random
from dataclasses import dataclass

__all__ = ["Failure", "exception", "llm_failure", "tool_failure", "timeout",
           "TIMEOUT_LIBRARIES"]


@dataclass(frozen=True, slots=True)
class Failure:
    """An exception as a library raises it: ``module.qualname`` and ``str(exc)``."""

    module: str
    qualname: str
    message: str
    kind: str  # timeout | rate_limit | server_error | malformed_output | cancelled | client_error

    @property
    def type_name(self) -> str:
        """The class name alone (``ReadTimeout``), as ``type(exc).__name__`` gives it."""
        return self.qualname.rsplit(".", 1)[-1]

    @property
    def qualified(self) -> str:
        """``module.qualname`` as the OTel SDK writes ``exception.type`` (builtins bare)."""
        return self.qualname if self.module == "builtins" else f"{self.module}.{self.qualname}"

    @property
    def otel_description(self) -> str:
        """The status description ``use_span`` sets: ``"{type(exc).__name__}: {exc}"``."""
        return f"{self.type_name}: {self.message}"

    @property
    def observe_message(self) -> str:
        """What Langfuse's ``@observe`` writes as status message: ``str(e) or type(e).__name__``."""
        return self.message or self.type_name

    @property
    def is_base_exception(self) -> bool:
        """``CancelledError`` derives from BaseException: ``use_span`` does not record it."""
        return self.kind == "cancelled"


@functools.lru_cache(maxsize=None)
def _exception_type(module: str, qualname: str) -> type[BaseException]:
    if (module, qualname) == ("builtins", "TimeoutError"):
        return TimeoutError
    if (module, qualname) == ("asyncio.exceptions", "CancelledError"):
        return asyncio.CancelledError
    # A stand-in carrying the library's module and name: the simulator does not import the
    # libraries it imitates, and the OTel SDK records only ``module.qualname`` and ``str()``.
    return type(qualname.rsplit(".", 1)[-1], (Exception,),
                {"__module__": module, "__qualname__": qualname})


def exception(f: Failure) -> BaseException:
    """An instance of the failure's exception type (never raised, only recorded)."""
    cls = _exception_type(f.module, f.qualname)
    return cls(f.message) if f.message else cls()


# ---- timeouts, by library ---------------------------------------------------------------------

def _requests_timeout(host: str, seconds: int) -> str:
    return (f"HTTPConnectionPool(host='{host}', port=80): Read timed out. "
            f"(read timeout={seconds})")


def _grpc_deadline(method: str) -> str:
    return ("<_InactiveRpcError of RPC that terminated with:\n"
            "\tstatus = StatusCode.DEADLINE_EXCEEDED\n"
            "\tdetails = \"Deadline Exceeded\"\n"
            f"\tdebug_error_string = \"UNKNOWN:Error received from peer  {{grpc_message:"
            f"\"Deadline Exceeded\", grpc_status:4, method:\"{method}\"}}\"\n>")


#: Library -> how a timeout of a call to ``target`` (a host, tool or method) reads.
TIMEOUT_LIBRARIES = ("httpx", "requests", "openai", "asyncio", "grpc", "agents")


def timeout(library: str, target: str = "api.internal", seconds: int = 10) -> Failure:
    """A timeout as ``library`` reports it (``target``: the host, tool or RPC it waited on)."""
    if library == "httpx":
        return Failure("httpx", "ReadTimeout", "timed out", "timeout")
    if library == "requests":
        return Failure("requests.exceptions", "ReadTimeout",
                       _requests_timeout(target, seconds), "timeout")
    if library == "openai":
        return Failure("openai", "APITimeoutError", "Request timed out.", "timeout")
    if library == "anthropic":
        return Failure("anthropic", "APITimeoutError", "Request timed out.", "timeout")
    if library == "asyncio":  # asyncio.wait_for / asyncio.timeout(): an empty message
        return Failure("builtins", "TimeoutError", "", "timeout")
    if library == "grpc":
        return Failure("grpc._channel", "_InactiveRpcError", _grpc_deadline(target), "timeout")
    if library == "agents":
        return Failure("agents.exceptions", "ToolTimeoutError",
                       f"Tool '{target}' timed out after {seconds} seconds.", "timeout")
    raise ValueError(f"unknown library {library!r}; known: {TIMEOUT_LIBRARIES + ('anthropic',)}")


CANCELLED = Failure("asyncio.exceptions", "CancelledError", "", "cancelled")


# ---- other failures ----------------------------------------------------------------------------

def llm_failure(r: random.Random, provider: str, model: str) -> Failure:
    """A failed LLM call: mostly rate limits and overload, sometimes a client time-out."""
    x = r.random()
    sdk = "anthropic" if provider == "anthropic" else "openai"
    if x < 0.55:
        if sdk == "anthropic":
            body = ("{'type': 'error', 'error': {'type': 'rate_limit_error', 'message': "
                    "'Number of request tokens has exceeded your per-minute rate limit'}}")
        else:
            body = ("{'error': {'message': 'Rate limit reached for " + model + " in organization"
                    " org-4fQ2 on tokens per min (TPM): Limit 2000000, Used 1996713, Requested "
                    "5212. Please try again in 117ms.', 'type': 'tokens', 'param': None, "
                    "'code': 'rate_limit_exceeded'}}")
        return Failure(sdk, "RateLimitError", f"Error code: 429 - {body}", "rate_limit")
    if x < 0.85:
        if sdk == "anthropic":
            return Failure("anthropic", "InternalServerError",
                           "Error code: 529 - {'type': 'error', 'error': {'type': "
                           "'overloaded_error', 'message': 'Overloaded'}}", "server_error")
        return Failure("openai", "InternalServerError",
                       "Error code: 500 - {'error': {'message': 'The server had an error while "
                       "processing your request. Sorry about that!', 'type': 'server_error', "
                       "'param': None, 'code': None}}", "server_error")
    return timeout(sdk)


def tool_failure(r: random.Random, tool: str, host: str) -> Failure:
    """A tool call that failed for a reason other than a time-out."""
    status = r.choice((500, 502, 503))
    phrase = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return Failure("httpx", "HTTPStatusError",
                   f"Server error '{status} {phrase[status]}' for url 'https://{host}/v1/{tool}'"
                   f"\nFor more information check: "
                   f"https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}",
                   "server_error")


MALFORMED_JSON = Failure("json.decoder", "JSONDecodeError",
                         "Expecting value: line 1 column 1 (char 0)", "malformed_output")

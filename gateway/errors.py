"""Problems only the gateway answers (the rest are the kernel's)."""

from sanlun.kernel.errors import ProblemError


class TooManyRequests(ProblemError):
    status, code, title = 429, "too_many_requests", "Too Many Requests"


class UpstreamCircuitOpen(ProblemError):
    status, code, title = 503, "upstream_circuit_open", "Service Unavailable"


class ContentTooLarge(ProblemError):
    status, code, title = 413, "content_too_large", "Content Too Large"


class UpstreamBusy(ProblemError):
    status, code, title = 503, "upstream_busy", "Service Unavailable"

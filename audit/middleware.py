"""Give every request a correlation id, so its audit events can be grouped."""

from audit.context import (
    correlation_id_is_valid,
    correlation_id_new,
    correlation_id_reset,
    correlation_id_set,
)

HEADER = "X-Correlation-ID"


class CorrelationIdMiddleware:
    """Adopt a valid incoming X-Correlation-ID (else a fresh one) and echo it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        correlation_id = (
            incoming if correlation_id_is_valid(incoming) else correlation_id_new()
        )
        request.correlation_id = correlation_id
        token = correlation_id_set(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            correlation_id_reset(token)
        response[HEADER] = correlation_id
        return response

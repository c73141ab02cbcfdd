"""The API's error bodies: every field error is a code and a message.

DRF answers a refused request `{field: ["message"]}`; here each message
becomes `{"code", "message"}` (and `params` for a domain problem), so a
client reads the stable code and shows the message, worded in the request's
`Accept-Language` (docs/api-errors.md).
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from ccm.problems import problem_register, problems_api

BODY_TOO_LARGE = problem_register(
    "api.body.too_large",
    _("The body is larger than %(limit)s bytes, the most this endpoint takes."),
)
BODY_TOO_LARGE_UNPACKED = problem_register(
    "api.body.too_large_unpacked",
    _(
        "The gzip body unpacks to more than %(limit)s bytes, the most this "
        "endpoint takes."
    ),
)

REQUEST_NUL = problem_register(
    "api.request.nul",
    _(
        "The request's %(part)s contains a NUL character (\\u0000), which no "
        "text may hold."
    ),
)


class BodyTooLarge(APIException):
    """A request body over the endpoint's byte limit: 413 with its problem."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, *, limit: int, unpacked: bool = False):
        kind = BODY_TOO_LARGE_UNPACKED if unpacked else BODY_TOO_LARGE
        self.problem = kind(limit=limit)
        super().__init__(str(self.problem), code=self.problem.code)


def exception_handler(exc, context):
    """Answer as DRF does, with validation errors as codes and messages.

    A body over Django's DATA_UPLOAD_MAX_MEMORY_SIZE, or over an endpoint's
    own limit, is a 413 naming the limit, not Django's bare 400 page.
    """
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge(limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, BodyTooLarge):
        return Response({"detail": [exc.problem.as_api()]}, status=exc.status_code)
    # Imported here: rest_framework.views loads the parser classes, and
    # ccm.parsers imports this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        response.data = problems_api(exc.detail)
    return response


class ApiError(serializers.Serializer):
    """One error of one field, as the API answers it."""

    code = serializers.CharField(help_text="Stable; listed in docs/api-errors.md.")
    message = serializers.CharField(help_text="In the Accept-Language language.")
    params = serializers.DictField(
        required=False, help_text="The values the message names (domain problems)."
    )


REFUSED = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description=(
        "Each refused field (nested fields nest; batch rows by number) maps to "
        "a list of errors {code, message, params}; the message is in the "
        "Accept-Language language (ar or en). Codes: docs/api-errors.md."
    ),
    examples=[
        OpenApiExample(
            "A channel the template does not support",
            value={
                "channels": [
                    {
                        "code": "trigger.channels.unsupported",
                        "message": "one-time-passcode does not support Email "
                        "(it supports SMS)",
                        "params": {
                            "code": "one-time-passcode",
                            "unknown": ["email"],
                            "supported": ["sms"],
                        },
                    }
                ]
            },
        )
    ],
)

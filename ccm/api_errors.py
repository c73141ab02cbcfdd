"""The API's error bodies: every field error is a code and a message.

DRF answers a refused request `{field: ["message"]}`; here each message
becomes `{"code", "message"}` (and `params` for a domain problem), so a
client reads the stable code and shows the message, worded in the request's
`Accept-Language` (docs/api-errors.md).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from ccm.problems import problems_api


def exception_handler(exc, context):
    """Answer as DRF does, with validation errors as codes and messages."""
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

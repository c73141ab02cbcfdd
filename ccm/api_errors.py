"""The API's error bodies: every field error is a code and a message.

DRF answers a refused request `{field: ["message"]}`; here each message
becomes `{"code", "message"}` (and `params` for a domain problem), so a
client reads the stable code and shows the message, worded in the request's
`Accept-Language` (docs/api-errors.md).
"""

from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from ccm.problems import problems_api


def exception_handler(exc, context):
    """Answer as DRF does, with validation errors as codes and messages."""
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        response.data = problems_api(exc.detail)
    return response

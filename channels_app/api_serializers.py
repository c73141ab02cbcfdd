"""The shapes of the trigger API's requests and answers (DRF serializers).

The field rules come from the models (customers, schedules); the views in
`channels_app.api` validate with them and the OpenAPI schema is drawn from them.
"""

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from ccm.api_errors import ApiError
from channels_app import problems
from channels_app.dispatching import AUTO
from channels_app.models import Channel, validate_schedule
from customers.models import Customer


class CustomerSerializer(serializers.ModelSerializer):
    """A customer's fields as the model defines them (lengths, choices, validators)."""

    class Meta:
        model = Customer
        fields = ["external_id", *Customer.EDITABLE]
        extra_kwargs = {
            # Upserted by external id: an existing one is no error.
            "external_id": {"validators": []},
            # A number typed any way is normalised; the model's rules judge it.
            "phone": {"max_length": 40},
            **{name: {"required": False} for name in Customer.EDITABLE},
        }

    def validate(self, attrs: dict) -> dict:
        if found := Customer.field_problems(attrs):
            raise ValidationError(found)
        return attrs


class DataSourceSerializer(serializers.Serializer):
    system = serializers.CharField(max_length=100)
    reference = serializers.CharField(max_length=200)


class TriggerSerializer(serializers.Serializer):
    template = serializers.SlugField(max_length=100)
    customer = CustomerSerializer()
    data = serializers.DictField()
    data_source = DataSourceSerializer()
    channels = serializers.JSONField(
        default=AUTO,
        help_text='"auto", or a list of channels: email, sms, letter.',
    )
    scope = serializers.CharField(max_length=100, required=False, allow_blank=True)
    schedule = serializers.DateTimeField(
        required=False, allow_null=True, validators=[validate_schedule]
    )
    correlation_key = serializers.CharField(
        max_length=200,
        allow_blank=True,
        default="",
        help_text="An account or case number shared by related communications.",
    )
    supersedes = serializers.ListField(
        child=serializers.SlugField(max_length=100),
        default=list,
        help_text="Template codes whose pending communications to this customer "
        "(with the same correlation key) this one cancels.",
    )
    waits_for = serializers.ListField(
        child=serializers.SlugField(max_length=100),
        default=list,
        help_text="Template codes that must have been sent to this customer "
        "(same correlation key) before this one goes.",
    )

    def validate_channels(self, value):
        return _channels_valid(value)

    def validate_supersedes(self, value):
        return _template_codes_valid(value)

    def validate_waits_for(self, value):
        return _template_codes_valid(value)


def _channels_valid(value):
    if value == AUTO:
        return value
    valid = set(Channel.values)
    if not isinstance(value, list) or not all(v in valid for v in value):
        raise ValidationError(problems.CHANNELS_INVALID(channels=Channel.values))
    return value


def _template_codes_valid(codes: list[str]) -> list[str]:
    from templates_app.models import Template

    if not codes:
        return []
    known = set(Template.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise ValidationError(
            [problems.TEMPLATE_UNKNOWN(code=code) for code in unknown]
        )
    return list(dict.fromkeys(codes))


class DispatchStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.CharField()
    status = serializers.CharField()
    address = serializers.CharField()
    decision = serializers.CharField()
    status_changed = serializers.DateTimeField()


class CommunicationStatusSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    template = serializers.CharField(source="template_code")
    version = serializers.IntegerField(source="template_version.number")
    customer = serializers.CharField(source="customer.external_id")
    correlation_key = serializers.CharField()
    supersedes = serializers.ListField(child=serializers.CharField())
    waits_for = serializers.ListField(child=serializers.CharField())
    batch = serializers.UUIDField(source="batch.public_id", allow_null=True)
    created = serializers.DateTimeField()
    dispatches = DispatchStatusSerializer(many=True)


class BatchRowSerializer(serializers.Serializer):
    """One row of a batch (documentation; rows are checked by batch_create)."""

    customer = CustomerSerializer()
    data = serializers.DictField()
    correlation_key = serializers.CharField(max_length=200, required=False)
    source_reference = serializers.CharField(max_length=200, required=False)
    scope = serializers.CharField(max_length=100, required=False)
    supersedes = serializers.ListField(child=serializers.SlugField(), required=False)
    waits_for = serializers.ListField(child=serializers.SlugField(), required=False)


class BatchCreateSerializer(serializers.Serializer):
    template = serializers.SlugField(max_length=100)
    channels = serializers.JSONField(
        default=AUTO,
        help_text='"auto", or a list of channels: email, sms, letter.',
    )
    source_system = serializers.CharField(max_length=100)
    schedule = serializers.DateTimeField(
        required=False, allow_null=True, validators=[validate_schedule]
    )
    # A plain list: a serializer per row costs too much at 100,000 rows; the
    # rows are checked whole by batch_create, with problems named by row.
    rows = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=True,
        help_text="The rows, numbered from 1 in the order sent; each one is "
        "{customer: {external_id, name?, email?, phone?, language?, time_zone?, "
        "postal_address?, digits?, calendar?}, data: {...}, correlation_key?, "
        "source_reference?, "
        "scope?, supersedes?, waits_for?}.",
    )

    def validate_channels(self, value):
        return _channels_valid(value)


class BatchRowProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    line = serializers.IntegerField(allow_null=True)
    external_id = serializers.CharField()
    problems = serializers.DictField(child=serializers.ListField(child=ApiError()))


class BatchStatusSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    template = serializers.CharField(source="template_code")
    channels = serializers.JSONField()
    status = serializers.CharField()
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    accepted = serializers.IntegerField()
    refused = serializers.IntegerField()
    error = serializers.CharField()
    scheduled_for = serializers.DateTimeField()
    created = serializers.DateTimeField()
    started = serializers.DateTimeField()
    finished = serializers.DateTimeField()

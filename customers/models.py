"""Customers, their contact points, the preference ledger and suppressions.

The models keep the app label `channels_app` they were created under: their
tables, permissions (`channels_app.view_customer`, ...) and the subject types
the audit chain has hashed ("channels_app.customer") stay valid. The code that
owns them lives here, below the rules and the channels that read them.
"""

import functools
import zoneinfo
from collections.abc import Mapping

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from ccm.bidi import bidi_controls_refuse, bidi_visible
from ccm.problems import Problem
from customers import problems
from templates_app.formats import Calendar, Digits
from templates_app.models import Channel, Language


@functools.cache
def time_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk: ~90 ms a call.
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in time_zones():
        raise ValidationError(
            _("%(value)s is not a known time zone (e.g. Asia/Riyadh)"),
            params={"value": value},
        )


def _phone_parsed(raw: str, region: str) -> "phonenumbers.PhoneNumber | Problem":
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        kind = problems.PARSE_PROBLEMS.get(exc.error_type, problems.PHONE_NOT_A_NUMBER)
        return kind(value=raw)
    if not phonenumbers.is_valid_number(number):
        return problems.PHONE_INVALID(value=raw)
    return number


def phone_problem(raw: str, *, region: str = "SA") -> Problem | None:
    """Return what is wrong with a phone number, or None when it normalises."""
    parsed = _phone_parsed(raw, region) if raw.strip() else None
    return parsed if isinstance(parsed, Problem) else None


def phone_normalise(raw: str, *, region: str = "SA") -> str:
    """Return the E.164 form of a phone number, or raise naming the problem.

    Numbers without a country code are read in `region` (the organisation's
    home country).
    """
    if not raw.strip():
        return ""
    parsed = _phone_parsed(raw, region)
    if isinstance(parsed, Problem):
        raise parsed.validation_error("phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class Customer(models.Model):
    """A customer as known by the system of record, with their contact points."""

    # What upstream systems, batch files and agents may set besides external_id.
    EDITABLE = (
        "name",
        "language",
        "time_zone",
        "email",
        "phone",
        "postal_address",
        "digits",
        "calendar",
    )

    external_id = models.CharField(_("external id"), max_length=100, unique=True)
    name = models.CharField(
        _("name"), max_length=200, validators=[bidi_controls_refuse]
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=Language.choices,
        default=Language.EN,
        error_messages={"invalid_choice": _("%(value)r is not one of en, ar")},
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    email = models.EmailField(
        _("email"),
        blank=True,
        error_messages={"invalid": _("%(value)r is not an email address")},
    )
    # E.164, normalised by phonenumbers before it is stored.
    phone = models.CharField(_("phone (E.164)"), max_length=20, blank=True)
    postal_address = models.TextField(_("postal address"), blank=True)
    # Blank: no preference, the template's default applies.
    digits = models.CharField(
        _("preferred digits"),
        max_length=8,
        choices=Digits.choices,
        blank=True,
        help_text=_("For Arabic messages; empty follows each template."),
    )
    calendar = models.CharField(
        _("preferred calendar"),
        max_length=10,
        choices=Calendar.choices,
        blank=True,
        help_text=_("For dates in messages; empty follows each template."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    # When the customer's personal data was erased on their request
    # (`subject_rights.erasure`); the row stays, anonymised.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        # The rows, permissions and audit subjects keep the label they were
        # created under: the audit chain hashes "channels_app.customer".
        app_label = "channels_app"
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["phone"], name="customer_phone_idx"),
            models.Index(fields=["email"], name="customer_email_idx"),
        ]

    def __str__(self) -> str:
        return f"{bidi_visible(self.name)} ({self.external_id})"

    @classmethod
    def field_problems(
        cls, values: Mapping[str, object]
    ) -> dict[str, list[str | Problem]]:
        """Return what is wrong with some customer field values, by field.

        The model's own rules (lengths, choices, the email and time zone
        validators, phone numbers that must normalise to E.164) serve the
        API, batch files and the admin alike. Only the fields given are judged.
        """
        found: dict[str, list[str | Problem]] = {}
        candidate = cls()
        for name, value in values.items():
            if name not in ("external_id", *cls.EDITABLE):
                found[name] = [str(_("unknown customer field"))]
            elif not isinstance(value, str):
                found[name] = [str(_("must be text"))]
            elif name == "phone" and value:
                if problem := phone_problem(value):
                    found[name] = [problem]
                else:
                    candidate.phone = phone_normalise(value)
            else:
                setattr(candidate, name, value)
        judged = set(values) - set(found)
        try:
            candidate.clean_fields(
                exclude=[f.name for f in cls._meta.fields if f.name not in judged]
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                found.setdefault(name, []).extend(messages)
        return found

    def address_for(self, channel: str) -> str:
        """Return the contact point used for a channel, or "" when there is none."""
        return {
            Channel.EMAIL: self.email,
            Channel.SMS: self.phone,
            Channel.LETTER: self.postal_address,
        }[channel]


class PreferenceEntry(models.Model):
    """One instruction in the preference and consent ledger; the newest wins.

    Blank `category` means every category; blank `scope` means customer-wide
    (every product and account); `channel` "any" means every channel.
    """

    ANY_CHANNEL = "any"

    class Source(models.TextChoices):
        API = "api", _("Upstream system (API)")
        ADMIN = "admin", _("Administration")
        CONTACT_CENTER = "contact_center", _("Contact center")
        CUSTOMER = "customer", _("Customer self-service")
        IMPORT = "import", _("Import")
        SMS_REPLY = "sms_reply", _("Customer's SMS reply (STOP)")
        COMPLAINT = "complaint", _("Spam complaint (mailbox provider)")

    class LegalBasis(models.TextChoices):
        CONSENT = "consent", _("Consent")
        CONTRACT = "contract", _("Contract")
        LEGAL_OBLIGATION = "legal_obligation", _("Legal obligation")
        LEGITIMATE_INTEREST = "legitimate_interest", _("Legitimate interest")

    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="preferences",
        verbose_name=_("customer"),
    )
    channel = models.CharField(
        _("channel"),
        max_length=16,
        choices=[(ANY_CHANNEL, _("Any channel")), *Channel.choices],
    )
    category = models.CharField(_("category"), max_length=64, blank=True)
    scope = models.CharField(
        _("scope (product or account)"), max_length=100, blank=True
    )
    opted_in = models.BooleanField(_("opted in"))
    source = models.CharField(_("source"), max_length=32, choices=Source.choices)
    legal_basis = models.CharField(
        _("legal basis"), max_length=32, choices=LegalBasis.choices
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    note = models.TextField(_("note"), blank=True)
    # Where the instruction came from: the message whose link the customer
    # followed (its communication's public id), their browser, the system.
    source_message = models.CharField(_("from message"), max_length=64, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=400, blank=True)
    source_system = models.CharField(_("source system"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        app_label = "channels_app"
        verbose_name = _("preference entry")
        verbose_name_plural = _("preference ledger")
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["customer", "-recorded_at"], name="preference_customer_idx"
            )
        ]

    def __str__(self) -> str:
        state = _("in") if self.opted_in else _("out")
        return f"{self.customer_id} {self.channel}/{self.category or '*'}: {state}"


class Suppression(models.Model):
    """A hard stop for an address on a channel; nothing overrides it."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        INVALID_NUMBER = "invalid_number", _("Invalid number")
        COMPLAINT = "complaint", _("Spam complaint")
        MANUAL = "manual", _("Manual")

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=320)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        app_label = "channels_app"
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "address"], name="suppression_unique_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.reason})"

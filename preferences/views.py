"""The public preference centre: reached only through a signed message link.

No login and no personal data in the address: the signed token names the
customer and the message. Without a valid token nothing is shown; an expired
one offers to send a fresh link to the address on file (email, else SMS).
Pages answer in the customer's language (or the one they pick), right to
left in Arabic, and are never cached, indexed or referred to another site.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from audit.services import event_record
from channels_app.dispatching import TriggerRefused, communication_trigger
from channels_app.models import Channel
from customers.links import LinkExpired, LinkInvalid, centre_url, link_read, link_token
from customers.models import Customer
from preferences.services import (
    CHANNELS,
    FORMAT_FIELDS,
    Choices,
    LinkRefused,
    centre_apply,
    centre_state,
    unsubscribe_one_click,
)
from templates_app.emails import email_message

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "ar")
# A fresh link goes to the address on file at most this often per customer.
RENEW_SECONDS = 600


def _private(response: HttpResponse) -> HttpResponse:
    # same-origin, not no-referrer: with no referrer a browser posts the form
    # with Origin "null", which the CSRF check refuses.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _language(request: HttpRequest, customer: Customer | None) -> str:
    chosen = request.GET.get("lang") or request.POST.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if customer is not None and customer.language in LANGUAGES:
        return customer.language
    return translation.get_language() or "en"


def _page(request, template: str, context: dict, *, language: str, status=200):
    with translation.override(language):
        response = render(
            request,
            f"preferences/{template}",
            {**context, "language": language, "rtl": language == "ar"},
            status=status,
        )
    response["Content-Language"] = language
    return _private(response)


def mask_email(address: str) -> str:
    """Return an email address with its mailbox hidden: r•••@example.com."""
    name, _at, domain = address.partition("@")
    return f"{name[:1]}•••@{domain}" if domain else "•••"


def mask_phone(number: str) -> str:
    """Return a phone number with all but its last four digits hidden."""
    return f"•••{number[-4:]}" if number else ""


def _refused(request: HttpRequest, error: LinkInvalid) -> HttpResponse:
    language = _language(request, None)
    if isinstance(error, LinkExpired):
        customer = Customer.objects.filter(pk=error.customer_id).first()
        if customer is not None:
            return _page(
                request,
                "expired.html",
                {
                    "token": request.resolver_match.kwargs["token"],
                    "email": mask_email(customer.email) if customer.email else "",
                    "phone": mask_phone(customer.phone) if customer.phone else "",
                },
                language=_language(request, customer),
                status=410,
            )
    return _page(request, "invalid.html", {}, language=language, status=403)


def _choices(request: HttpRequest, state) -> Choices:
    products = {
        product: request.POST.get(f"paperless-product-{n}") == "on"
        for n, (product, _p) in enumerate(state.products)
    }
    return Choices(
        marketing={
            (category.code, channel): request.POST.get(
                f"marketing-{category.code}-{channel}"
            )
            == "on"
            for category, _c in state.marketing
            for channel in CHANNELS
        },
        no_marketing=request.POST.get("no-marketing") == "on",
        paperless_all=request.POST.get("paperless-all") == "on",
        products=products,
        formats={
            name: request.POST[f"format-{name}"]
            for name in FORMAT_FIELDS
            if f"format-{name}" in request.POST
        },
    )


def _format_options(customer: Customer) -> list[dict]:
    """The centre's "how we write to you" questions, each with its options."""
    options = []
    for name in FORMAT_FIELDS:
        model_field = Customer._meta.get_field(name)
        choices = list(model_field.choices)
        if model_field.blank:
            choices.insert(0, ("", gettext_lazy("As each message is designed")))
        options.append(
            {
                "name": name,
                "legend": model_field.verbose_name,
                "current": getattr(customer, name),
                "choices": choices,
            }
        )
    return options


@require_http_methods(["GET", "POST"])
def centre(request: HttpRequest, token: str) -> HttpResponse:
    """Show the customer's choices; record what they change."""
    try:
        link = link_read(token)
    except LinkInvalid as error:
        return _refused(request, error)
    customer = Customer.objects.filter(pk=link.customer_id).first()
    if customer is None:
        return _refused(request, LinkInvalid("no such customer"))
    language = _language(request, customer)
    saved, refused, status = None, None, 200
    if request.method == "POST":
        state = centre_state(customer)
        try:
            saved = centre_apply(
                customer=customer,
                link=link,
                choices=_choices(request, state),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except ValidationError as error:
            # Nothing was recorded (one transaction); say what was refused.
            with translation.override(language):
                refused = "; ".join(
                    f"{Customer._meta.get_field(name).verbose_name}: " + " ".join(texts)
                    for name, texts in error.message_dict.items()
                )
            status = 400
        customer.refresh_from_db()
    state = centre_state(customer)
    return _page(
        request,
        "centre.html",
        {
            "token": token,
            "state": state,
            "marketing_rows": [
                (
                    category,
                    category.name_ar
                    if language == "ar" and category.name_ar
                    else category.name,
                    [(channel, chosen[channel]) for channel in CHANNELS],
                )
                for category, chosen in state.marketing
            ],
            "mandatory_names": [
                c.name_ar if language == "ar" and c.name_ar else c.name
                for c in state.mandatory
            ],
            "products": list(enumerate(state.products)),
            "formats": _format_options(customer),
            "saved": saved,
            "refused": refused,
            "contacts": [
                # Lazy: shown in the page's language, chosen in _page.
                (gettext_lazy("Email"), mask_email(customer.email))
                if customer.email
                else None,
                (gettext_lazy("SMS"), mask_phone(customer.phone))
                if customer.phone
                else None,
                (gettext_lazy("Letter"), gettext_lazy("your postal address on file"))
                if customer.postal_address
                else None,
            ],
        },
        language=language,
        status=status,
    )


@require_http_methods(["POST"])
def renew(request: HttpRequest, token: str) -> HttpResponse:
    """Send a fresh link for an expired one to the address on file.

    By email when there is one; otherwise by SMS to the number on file,
    through the outbox as a mandatory notice (PREFERENCE_LINK_SMS_TEMPLATE).
    """
    try:
        link_read(token)
    except LinkExpired as expired:
        customer = Customer.objects.filter(pk=expired.customer_id).first()
    except LinkInvalid as error:
        return _refused(request, error)
    else:
        # Still valid: nothing to renew, the centre itself answers.
        return centre(request, token)
    if customer is None or not (customer.email or customer.phone):
        return _refused(request, LinkInvalid("no address on file"))
    language = _language(request, customer)
    if cache.add(f"preferences-renew-{customer.pk}", 1, RENEW_SECONDS):
        if customer.email:
            _renew_by_email(customer)
        else:
            _renew_by_sms(customer)
    return _page(
        request,
        "renewed.html",
        {
            "email": mask_email(customer.email) if customer.email else "",
            "phone": mask_phone(customer.phone) if not customer.email else "",
        },
        language=language,
    )


def _link_sent_record(customer: Customer, channel: str) -> None:
    event_record(
        action="preferences.link.sent",
        actor_kind="customer",
        actor_label="customer (preference centre)",
        subject=customer,
        after={"channel": channel},
    )


def _renew_by_email(customer: Customer) -> None:
    fresh = centre_url(link_token(customer_id=customer.pk))
    with translation.override(customer.language):
        subject = _("Your communication preferences")
        intro = _("Follow this link to manage your communication preferences:")
        text = f"{intro}\n{fresh}"
        html = f'<p>{intro}</p><p><a href="{fresh}">{fresh}</a></p>'
    with transaction.atomic():
        _link_sent_record(customer, "email")
    email_message(
        subject=subject,
        html=html,
        text=text,
        language=customer.language,
        to=[customer.email],
    ).send()


def _renew_by_sms(customer: Customer) -> None:
    fresh = centre_url(link_token(customer_id=customer.pk, channel="sms"))
    try:
        with transaction.atomic():
            communication_trigger(
                template_code=settings.PREFERENCE_LINK_SMS_TEMPLATE,
                customer=customer,
                data={"link": fresh},
                channels=[Channel.SMS],
                requester_label="preference-centre",
                source_system="preference-centre",
            )
            _link_sent_record(customer, "sms")
    except TriggerRefused as refusal:
        # The page still answers as if sent: it must not tell who is on file.
        logger.warning(
            "fresh preference link not sent: %s", "; ".join(refusal.problems)
        )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One-click unsubscribe (RFC 8058): a bare POST opts out, no page, no cookie.

    A GET (a person following the footer link, or a mail scanner) only shows
    a button that posts; a forged or expired link is refused with 403 and
    changes nothing.
    """
    try:
        link = link_read(token)
    except LinkInvalid:
        return _private(
            HttpResponse(
                "This unsubscribe link is not valid or has expired.\n",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        )
    customer = Customer.objects.filter(pk=link.customer_id).first()
    language = _language(request, customer)
    if request.method == "GET":
        return _page(
            request,
            "unsubscribe.html",
            {"token": token, "done": False},
            language=language,
        )
    try:
        unsubscribe_one_click(
            link=link, user_agent=request.headers.get("User-Agent", "")
        )
    except LinkRefused:
        return _private(
            HttpResponse(
                "This unsubscribe link names no message.\n",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        )
    return _page(
        request, "unsubscribe.html", {"token": token, "done": True}, language=language
    )

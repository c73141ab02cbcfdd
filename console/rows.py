"""The rows of the console's two busiest tables, written as HTML here.

As Django admin builds its change list rows: the search results and the
timeline are the pages agents open most, and a template spends more on a
row's dozen nodes (a `{% url %}`, a choice's display, a translated label)
than the database spends finding it. Labels are translated once a page, and
every value put in a row goes through `html.escape` first.
"""

from functools import lru_cache
from html import escape

from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ccm.bidi import bidi_visible
from channels_app.models import Channel, Dispatch
from console import masking
from console.templatetags.console_tags import rule_outcomes
from customers.models import Customer
from customers.reasons import reason_display
from rules.labels import RULE_OUTCOMES


def timeline_rows(
    dispatches: list[dict], mask: masking.ContactMask | None
) -> list[dict]:
    """Return the timeline rows ready to print, each with its table row as HTML.

    With a `mask` (contact data not unmasked), addresses are masked, also
    where a row's decision names one.

    Built here rather than in the template, as Django admin builds its change
    list rows: the timeline is the hottest page, and a template spends more on
    a row's two dozen nodes than the database spends finding it.
    """
    # Labels translated once a page, not once a row.
    channels = {value: str(label) for value, label in Channel.choices}
    statuses = {value: str(label) for value, label in Dispatch.Status.choices}
    outcomes = {value: str(label) for value, label in RULE_OUTCOMES.items()}
    dispatch_url = _url_pattern("console:dispatch", get_script_prefix())
    arabic = (get_language() or "").startswith("ar")
    rows = []
    for dispatch in dispatches:
        pk, channel, status = dispatch["pk"], dispatch["channel"], dispatch["status"]
        decision = reason_display(dispatch["decision"])
        if mask is not None:
            decision = mask(decision)
        if dispatch["content_erased_at"]:
            title = _("erased on %(date)s") % {
                "date": date_format(timezone.localtime(dispatch["content_erased_at"]))
            }
        elif dispatch["subject"]:
            title = dispatch["subject"]
        elif channel == Channel.LETTER:
            title = _("Letter #%(id)s") % {"id": pk}
        else:
            title = _("Message #%(id)s") % {"id": pk}
        badges = []
        if dispatch["resend_of_id"]:
            badges.append(_("resend"))
        if dispatch["communication__reissue_of_id"]:
            badges.append(_("reissue"))
        row = {
            "pk": pk,
            "url": dispatch_url.format(pk),
            # A resend's own time, not its communication's (the original's).
            "when": date_format(
                timezone.localtime(dispatch["created"]), "SHORT_DATETIME_FORMAT"
            ),
            "channel": channel,
            "channel_label": channels.get(channel, channel),
            "template": dispatch["communication__template_code"],
            "template_name": (
                arabic
                and dispatch["communication__template_version__template__name_ar"]
            )
            or dispatch["communication__template_version__template__name"],
            "version": dispatch["communication__template_version__number"],
            "title": title if len(title) <= 80 else f"{title[:79]}…",
            "badges": badges,
            "address": dispatch["address"]
            if mask is None
            else masking.address_mask(channel, dispatch["address"]),
            "status": status,
            "status_label": statuses.get(status, status),
            "outcomes": [
                (outcome, outcomes.get(outcome, outcome))
                for outcome in rule_outcomes(dispatch["rule_decisions"])
            ],
            "decision": decision,
            "decision_short": decision if len(decision) <= 40 else f"{decision[:39]}…",
        }
        row["html"] = _timeline_row_html(row)
        rows.append(row)
    return rows


# One timeline row. Every value put in it goes through html.escape first.
TIMELINE_ROW = (
    '<tr class="dispatch-row" data-channel="{channel}" data-dispatch="{pk}">'
    '<td class="nowrap"><bdi dir="ltr">{when}</bdi></td>'
    '<td><span class="chan chan-{channel}">{channel_label}</span></td>'
    '<td><bdi>{template_name}</bdi> <small dir="ltr">{template} v{version}</small></td>'
    '<td><a class="open-dispatch" dir="auto" href="{url}">{title}</a>{badges}</td>'
    '<td dir="ltr">{address}</td>'
    '<td><span class="status status-{status}">{status_label}</span></td>'
    '<td class="why">{outcomes}{decision}</td></tr>\n'
)
TIMELINE_ROW_FIELDS = (
    "pk", "when", "channel", "channel_label", "template", "template_name", "version",
    "url", "title", "address", "status", "status_label",
)  # fmt: skip


def _timeline_row_html(row: dict) -> SafeString:
    """Return one timeline row as a table row, every value escaped.

    `html.escape` rather than `format_html`: at 25 rows a page, Django's lazy-
    aware escaping cost as much as the template loop this replaces.
    """
    values = {key: escape(str(row[key])) for key in TIMELINE_ROW_FIELDS}
    values["badges"] = "".join(
        f' <span class="badge">{escape(str(badge))}</span>' for badge in row["badges"]
    )
    values["outcomes"] = "".join(
        f'<span class="badge rule rule-{escape(outcome)}">{escape(str(label))}</span>'
        for outcome, label in row["outcomes"]
    )
    values["decision"] = (
        f'<span class="decision" title="{escape(row["decision"])}">'
        f"{escape(row['decision_short'])}</span>"
        if row["decision"]
        else ""
    )
    return mark_safe(TIMELINE_ROW.format_map(values))  # noqa: S308 (all escaped)


@lru_cache(maxsize=32)
def _url_pattern(name: str, _prefix: str) -> str:
    """Return the URL of view `name` with "{}" for its id (per script prefix)."""
    return reverse(name, args=[0]).replace("/0/", "/{}/")


# One search result; every value put in it goes through html.escape first.
SEARCH_ROW = (
    '<tr><td><a class="customer-link" href="{url}">{external_id}</a></td>'
    '<td><a href="{url}" dir="auto">{name}</a></td>'
    '<td dir="ltr">{email}</td><td dir="ltr">{phone}</td><td>{language}</td></tr>\n'
)


class ResultRows(list):
    """Search result rows, and their HTML as one string (a template loop costs more)."""

    @property
    def html(self) -> SafeString:
        return mark_safe("".join(row["html"] for row in self))  # noqa: S308 (each row escaped)


def search_rows(customers: list[dict]) -> ResultRows:
    """Return the search results ready to print, contact data masked.

    `customers` are the search's matches (`selectors.SearchResult`).
    """
    languages = {
        value: str(label)
        for value, label in Customer._meta.get_field("language").choices
    }
    customer_url = _url_pattern("console:customer", get_script_prefix())
    rows = []
    for customer in customers:
        html = SEARCH_ROW.format(
            url=escape(customer_url.format(customer["id"])),
            external_id=escape(customer["external_id"]),
            name=escape(bidi_visible(customer["name"])),
            email=escape(masking.email_mask(customer["email"])),
            phone=escape(masking.phone_mask(customer["phone"])),
            language=escape(languages.get(customer["language"], customer["language"])),
        )
        rows.append(
            {"pk": customer["id"], "html": mark_safe(html)}  # noqa: S308 (all escaped)
        )
    return ResultRows(rows)


def filter_fields(form) -> SafeString:
    """Return the timeline filter's labelled fields as HTML.

    The channel, status and template lists have a dozen or more options each;
    a template loop spends more on them than the page's query does.
    """
    parts = []
    for field in form:
        name = escape(field.name)
        label = f'<label for="id_{name}">{escape(str(field.label))}\n      '
        current = field.value()
        if field.name in ("since", "until"):
            value = "" if current is None else escape(str(current))
            control = (
                f'<input type="date" id="id_{name}" name="{name}" value="{value}">'
            )
        else:
            options = "".join(
                f'<option value="{escape(str(value))}"'
                f"{' selected' if value == current else ''}>"
                f"{escape(str(text))}</option>"
                for value, text in field.field.choices
            )
            control = f'<select id="id_{name}" name="{name}">{options}</select>'
        parts.append(f"{label}{control}</label>\n    ")
    return mark_safe("".join(parts))  # noqa: S308 (every value escaped)

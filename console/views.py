"""The contact-center console at /agent/: finding a customer and their timeline.

Search, the customer's page (timeline on every channel, contact points,
consent), unmasking their contact data and recording a preference given over
the phone. A dispatch's own pages are in `console.dispatch_views`, evidence
packs in `console.evidence_views`; who may see what in `console.access`.
Every view is a `console_view`; reads with rules come from
`console.selectors`, writes go through `console.services`.
"""

import secrets
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import masking, selectors, services
from console import rows as rows_html
from console.access import (
    SESSION_UNMASKED,
    UNMASK_SECONDS,
    console_view,
    contact_unmasked,
)
from console.forms import PreferenceForm, SearchForm, TimelineFilterForm, UnmaskForm
from customers.models import Customer

TIMELINE_PAGE_SIZE = 25
TIMELINE_MAX_PAGE = 10_000


def _contact(customer: Customer, unmasked: bool) -> dict:
    if unmasked:
        return {
            "email": customer.email,
            "phone": customer.phone,
            "postal_address": customer.postal_address,
        }
    return {
        "email": masking.email_mask(customer.email),
        "phone": masking.phone_mask(customer.phone),
        "postal_address": masking.text_mask(customer.postal_address),
    }


# The queries an agent searched for, in the session under opaque keys: the
# URL (and so every access log and Referer) carries the key, never the query.
SESSION_SEARCHES = "console_searches"
SEARCHES_KEPT = 20


def _search_keep(request: HttpRequest, query: str) -> str:
    """Keep `query` in the session; return the opaque key that names it."""
    searches = request.session.get(SESSION_SEARCHES, {})
    key = secrets.token_urlsafe(12)
    searches[key] = query
    request.session[SESSION_SEARCHES] = dict(list(searches.items())[-SEARCHES_KEPT:])
    return key


@console_view()
@require_http_methods(["GET", "POST"])
def search(request: HttpRequest) -> HttpResponse:
    """Find a customer by external id, name, email or phone.

    The query is posted, kept in the session and the browser sent on to
    `?s=<key>` (post, redirect, get): reloading and the back button show the
    results again, and no name, address or number is ever in a URL.
    """
    status, result, expired = 200, None, False
    if request.method == "POST":
        form = SearchForm(request.POST)
        if form.is_valid():
            query = form.cleaned_data["q"]
            if not query:
                return redirect("console:search")
            key = _search_keep(request, query)
            return redirect(f"{reverse('console:search')}?{urlencode({'s': key})}")
        status = 400
    else:
        key = request.GET.get("s", "")
        query = request.session.get(SESSION_SEARCHES, {}).get(key) if key else None
        expired = bool(key) and query is None
        form = SearchForm(initial={"q": query or ""})
        if query:
            result = selectors.customers_search(query)
    rows = rows_html.search_rows(result.customers if result else [])
    return render(
        request,
        "console/search.html",
        {
            "form": form,
            "result": result,
            "rows": rows,
            "expired": expired,
            "search_query": form["q"].value() or "",
        },
        status=status,
    )


@console_view()
@require_GET
def customer(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a customer's timeline on every channel, contact points and consent."""
    if (customer := selectors.customer_with_lists(pk)) is None:
        raise Http404
    filter_form = TimelineFilterForm(
        request.GET, template_codes=selectors.template_codes_for(customer)
    )
    filters = selectors.TimelineFilter()
    problems = []
    if filter_form.is_valid():
        filters = selectors.TimelineFilter(**filter_form.cleaned_data)
    else:
        problems = [
            f"{filter_form.fields[name].label}: {message}"
            for name, messages in filter_form.errors.items()
            for message in messages
        ]
    number = _page_number(request.GET.get("page"))
    if number is None:
        problems.append(
            _("The page must be a whole number from 1 to %(limit)s.")
            % {"limit": TIMELINE_MAX_PAGE}
        )
    page = _timeline_page(customer, filters, number or 1)
    unmasked = contact_unmasked(request, customer)
    mask = None
    if not unmasked:
        used = [(row["channel"], row["address"]) for row in page.rows]
        mask = masking.ContactMask.for_customer(customer, used)
    services.customer_viewed(customer=customer, actor=request.user, page=page.number)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "console/customer.html",
        {
            "customer": customer,
            "contact": _contact(customer, unmasked),
            "unmasked": unmasked,
            "can_unmask": request.user.has_perm("console.unmask_contact"),
            "page": page,
            "rows": rows_html.timeline_rows(page.rows, mask),
            "contacts": mask,
            "filter_fields": rows_html.filter_fields(filter_form),
            "filter_query": query.urlencode(),
            "problems": problems,
            "preferences": selectors.preferences_for(customer)
            if customer.has_preferences
            else [],
            "inbound_messages": selectors.inbound_messages_for(customer)
            if customer.has_inbound_messages
            else [],
            "suppressions": [
                (
                    suppression,
                    suppression.address
                    if unmasked
                    else masking.address_mask(suppression.channel, suppression.address),
                )
                for suppression in (
                    selectors.suppressions_for(customer)
                    if customer.has_suppressions
                    else []
                )
            ],
        },
        status=400 if problems else 200,
    )


@dataclass(frozen=True)
class TimelinePage:
    number: int
    rows: list
    has_previous: bool
    has_next: bool

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _page_number(requested: str | None) -> int | None:
    """Return the timeline page asked for, or None when it is not one."""
    if requested in (None, ""):
        return 1
    text = requested.strip()
    if not text.isdigit() or len(text) > len(str(TIMELINE_MAX_PAGE)):
        return None
    number = int(text)
    return number if 1 <= number <= TIMELINE_MAX_PAGE else None


def _timeline_page(customer, filters, number: int) -> TimelinePage:
    """Return one page of the timeline, reading one row past it and no COUNT.

    Counting a long-lived customer's dispatches on every call costs more than
    the page itself; "older" appears when there is a row past the page.
    """
    start, size = (number - 1) * TIMELINE_PAGE_SIZE, TIMELINE_PAGE_SIZE
    rows = selectors.timeline_rows(customer, filters, start, size + 1)
    # The page, its rows, whether newer ones precede it and older ones follow.
    return TimelinePage(number, rows[:size], number > 1, len(rows) > size)


@console_view("console.unmask_contact")
@require_POST
def unmask(request: HttpRequest, pk: int) -> HttpResponse:
    """Show a customer's contact data for a few minutes, audited."""
    customer = get_object_or_404(Customer, pk=pk)
    form = UnmaskForm(request.POST)
    form.is_valid()
    services.contact_unmask(
        customer=customer,
        actor=request.user,
        reason=form.cleaned_data.get("reason", ""),
    )
    unmasked = request.session.get(SESSION_UNMASKED, {})
    unmasked[str(customer.pk)] = timezone.now().timestamp() + UNMASK_SECONDS
    request.session[SESSION_UNMASKED] = unmasked
    next_url = request.POST.get("next", "")
    if next_url.startswith("/agent/"):
        return redirect(next_url)
    return redirect("console:customer", pk=customer.pk)


@console_view()
def preference(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a preference or consent the customer gave over the phone."""
    customer = get_object_or_404(Customer, pk=pk)
    form = PreferenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.preference_change(
            customer=customer,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            **{
                name: form.cleaned_data[name]
                for name in ("channel", "opted_in", "category", "scope", "legal_basis")
            },
        )
        messages.success(request, _("The preference was recorded in the ledger."))
        return redirect(
            reverse("console:customer", args=[customer.pk]) + "#preferences"
        )
    return render(
        request,
        "console/preference.html",
        {"customer": customer, "form": form},
        status=400 if form.errors else 200,
    )

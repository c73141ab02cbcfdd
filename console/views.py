"""The contact-center console at /agent/: search, timeline, copy, actions, evidence.

Every view needs a signed-in user holding `console.use_console` (403
otherwise); reads with rules come from `console.selectors`, writes go through
`console.services`.
"""

import json
import secrets
from dataclasses import dataclass
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from channels_app.dispatching import TriggerRefused
from channels_app.models import Channel, Dispatch
from console import evidence, masking, selectors, services
from console import rows as rows_html
from console.forms import (
    EvidenceRangeForm,
    FeedbackForm,
    PreferenceForm,
    ReissueForm,
    ResendForm,
    SearchForm,
    TimelineFilterForm,
    UnmaskForm,
)
from console.templatetags.console_tags import direction
from customers.models import Customer
from customers.reasons import reason_display
from templates_app import emails
from templates_app.preview import PREVIEW_POLICY

TIMELINE_PAGE_SIZE = 25
TIMELINE_MAX_PAGE = 10_000
# A dispatch the consent check or a rule stopped for good.
STOPPED = {Dispatch.Status.SUPPRESSED, Dispatch.Status.CANCELLED}
# How long an unmask lasts in the agent's session.
UNMASK_SECONDS = 300
SESSION_UNMASKED = "console_unmasked"


def console_view(*permissions: str):
    """Require a signed-in user with the console permission (and `permissions`)."""

    def decorator(view):
        @login_required
        @never_cache
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(["console.use_console", *permissions]):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# Evidence packs carry contact data unmasked: who exports one may unmask.
EVIDENCE_PERMISSIONS = ("console.export_evidence", "console.unmask_contact")


def _unmasked(request: HttpRequest, customer: Customer) -> bool:
    if not request.user.has_perm("console.unmask_contact"):
        return False
    until = request.session.get(SESSION_UNMASKED, {}).get(str(customer.pk), 0)
    return until > timezone.now().timestamp()


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
    unmasked = _unmasked(request, customer)
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


def _dispatch_or_404(pk: int) -> Dispatch:
    try:
        return selectors.dispatch_detail(pk)
    except Dispatch.DoesNotExist:
        raise Http404 from None


def _used(dispatch: Dispatch) -> tuple[str, str]:
    return dispatch.channel, dispatch.address


def _masked(request: HttpRequest, dispatch: Dispatch, text: str) -> str:
    """Return a text about a dispatch with its addresses masked, unless unmasked."""
    customer = dispatch.communication.customer
    if _unmasked(request, customer):
        return text
    return masking.ContactMask.for_customer(customer, [_used(dispatch)])(text)


def _dispatch_context(request, dispatch: Dispatch, **extra) -> dict:
    customer = dispatch.communication.customer
    unmasked = _unmasked(request, customer)
    version = dispatch.communication.template_version
    return {
        "dispatch": dispatch,
        "communication": dispatch.communication,
        "customer": customer,
        "unmasked": unmasked,
        "can_unmask": request.user.has_perm("console.unmask_contact"),
        "address": dispatch.address
        if unmasked
        else masking.address_mask(dispatch.channel, dispatch.address),
        # Masks the addresses named in stored reasons and errors.
        "contacts": None
        if unmasked
        else masking.ContactMask.for_customer(
            customer,
            [
                _used(d)
                for d in [dispatch, *dispatch.resends.all(), dispatch.resend_of]
                if d is not None
            ],
        ),
        "version": version,
        "approvals": selectors.approvals_for(version),
        "copy_dir": direction(dispatch.language),
        "data_json": json.dumps(
            dispatch.communication.data, indent=2, ensure_ascii=False, sort_keys=True
        ),
        "events": selectors.audit_events_for([dispatch]),
        "resend_form": extra.pop("resend_form", ResendForm(prefix="resend")),
        "feedback_form": extra.pop("feedback_form", FeedbackForm()),
        "unmask_form": UnmaskForm(),
        "feedback": list(dispatch.feedback.select_related("agent", "escalation")),
        **extra,
    }


@console_view()
@require_GET
def dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    """Show the exact copy of a dispatch, why it said it, and what happened to it."""
    return _dispatch_page(request, _dispatch_or_404(pk))


def _dispatch_page(request, dispatch: Dispatch, status: int = 200, **forms):
    """Render a dispatch's page (with a form's errors) and record the view."""
    services.dispatch_viewed(dispatch=dispatch, actor=request.user)
    return render(
        request,
        "console/dispatch.html",
        _dispatch_context(request, dispatch, **forms),
        status=status,
    )


@console_view("console.unmask_contact")
@require_GET
@xframe_options_sameorigin
def letter_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """Return the stored letter PDF of a dispatch, inline or as a download."""
    dispatch = get_object_or_404(
        Dispatch.objects.select_related("communication__customer"), pk=pk
    )
    if not dispatch.letter_pdf:
        raise Http404(_("This dispatch has no letter."))
    download = request.GET.get("download") == "1"
    services.dispatch_viewed(
        dispatch=dispatch,
        actor=request.user,
        part="letter download" if download else "letter",
    )
    return FileResponse(
        dispatch.letter_pdf.open("rb"),
        content_type="application/pdf",
        as_attachment=download,
        filename=f"letter-dispatch-{dispatch.pk}.pdf",
    )


# The stored copy may load nothing (a tracking pixel would count an agent's
# look as the customer opening the email, and tell the sender who looked when)
# and run nothing, even opened outside its sandboxed frame.
EMAIL_COPY_POLICY = f"{PREVIEW_POLICY}; sandbox"


@console_view()
@require_GET
@xframe_options_sameorigin
def email_html(request: HttpRequest, pk: int) -> HttpResponse:
    """Return the HTML part of an email dispatch, byte for byte as it was sent.

    A copy stored before copies were whole documents (a bare fragment) is
    shown in the document its language gives it.
    """
    dispatch = get_object_or_404(
        Dispatch.objects.select_related("communication__customer"), pk=pk
    )
    if dispatch.channel != Channel.EMAIL or not dispatch.body_html:
        raise Http404(_("This dispatch has no email HTML."))
    services.dispatch_viewed(dispatch=dispatch, actor=request.user, part="email")
    document = emails.email_document(
        dispatch.body_html, language=dispatch.language, subject=dispatch.subject
    )
    response = HttpResponse(document.encode(), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = EMAIL_COPY_POLICY
    response["Referrer-Policy"] = "no-referrer"
    return response


@console_view()
@require_POST
def resend(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the archived copy again, as a new dispatch linked to this one."""
    dispatch = _dispatch_or_404(pk)
    form = ResendForm(request.POST, prefix="resend")
    if form.is_valid():
        try:
            new = services.dispatch_resend(
                dispatch=dispatch,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                once=form.cleaned_data["once"],
            )
        except services.ConsoleActionRefused as refusal:
            form.add_error(None, _masked(request, dispatch, str(refusal)))
        else:
            messages.success(
                request,
                _("Resent as dispatch #%(id)s; it is queued.") % {"id": new.pk},
            )
            return redirect("console:dispatch", pk=dispatch.pk)
    return _dispatch_page(request, dispatch, 400, resend_form=form)


@console_view()
@require_POST
def feedback(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the customer's feedback or complaint and escalate it."""
    dispatch = _dispatch_or_404(pk)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            recorded = services.feedback_record(
                dispatch=dispatch, actor=request.user, **form.cleaned_data
            )
        except services.ConsoleActionRefused as refusal:
            form.add_error(None, _masked(request, dispatch, str(refusal)))
        else:
            messages.success(
                request,
                _("%(kind)s recorded; escalation #%(id)s is open for operations.")
                % {"kind": recorded.get_kind_display(), "id": recorded.escalation_id},
            )
            return redirect("console:dispatch", pk=dispatch.pk)
    return _dispatch_page(request, dispatch, 400, feedback_form=form)


def _refusal_message(problem) -> str:
    """Return a trigger's refusal in the agent's language, its detail as written.

    The detail may name JSON paths and values in English (from the schema
    check); the refusal is isolated in its own direction, so the sentence
    around it stays whole.
    """
    return _("The corrected data was refused: %(problem)s") % {
        "problem": f"\u2068{problem}\u2069"
    }


@console_view("console.unmask_contact")
def reissue(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct the data of a communication and send it again from the version in
    force."""
    dispatch = _dispatch_or_404(pk)
    communication = dispatch.communication
    if request.method == "POST":
        form = ReissueForm(request.POST)
        if form.is_valid():
            try:
                new = services.communication_reissue(
                    communication=communication,
                    data=form.cleaned_data["data"],
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except TriggerRefused as refusal:
                for name, problems in refusal.problems.items():
                    for problem in problems:
                        form.add_error(
                            "data" if name == "data" else None,
                            _refusal_message(problem),
                        )
            except services.ConsoleActionRefused as refusal:
                form.add_error(None, _masked(request, dispatch, str(refusal)))
            else:
                dispatches = list(new.dispatches.order_by("pk"))
                first = dispatches[0] if dispatches else None
                # By now a worker may have sent it: stopped is what to tell.
                going = any(d.status not in STOPPED for d in dispatches)
                if first is not None and not going:
                    # Stored, but stopped by consent or a rule: say so and why.
                    messages.warning(
                        request,
                        _(
                            "Reissued as communication %(id)s, but nothing was "
                            "queued: %(why)s"
                        )
                        % {
                            "id": new.public_id,
                            "why": _masked(
                                request, first, reason_display(first.decision)
                            ),
                        },
                    )
                else:
                    messages.success(
                        request,
                        _("Reissued as communication %(id)s.") % {"id": new.public_id},
                    )
                if first is not None:
                    return redirect("console:dispatch", pk=first.pk)
                return redirect("console:customer", pk=communication.customer_id)
    else:
        services.dispatch_viewed(
            dispatch=dispatch, actor=request.user, part="reissue form"
        )
        form = ReissueForm(
            initial={
                "data": json.dumps(
                    communication.data, indent=2, ensure_ascii=False, sort_keys=True
                )
            }
        )
    from templates_app.models import Template
    from templates_app.selectors import version_in_force

    template = Template.objects.filter(code=communication.template_code).first()
    in_force = version_in_force(template) if template else None
    return render(
        request,
        "console/reissue.html",
        {
            "dispatch": dispatch,
            "communication": communication,
            "customer": communication.customer,
            "form": form,
            "template": template,
            "in_force": in_force,
            "schema_json": json.dumps(
                template.data_schema if template else {}, indent=2, ensure_ascii=False
            ),
        },
        status=400 if form.errors else 200,
    )


def _evidence_response(request, *, bundle: dict, subject, scope: dict, name: str):
    if request.GET.get("format") == "pdf":
        body = evidence.evidence_pdf(bundle)
        content_type, extension = "application/pdf", "pdf"
    else:
        body = evidence.bundle_json_bytes(bundle)
        content_type, extension = "application/json; charset=utf-8", "json"
    import hashlib

    services.evidence_exported(
        actor=request.user,
        subject=subject,
        scope=scope,
        sha256=hashlib.sha256(body).hexdigest(),
        fmt=extension,
    )
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response


@console_view(*EVIDENCE_PERMISSIONS)
@require_GET
def dispatch_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the evidence pack of one dispatch (JSON, or PDF with format=pdf)."""
    dispatch = _dispatch_or_404(pk)
    customer = dispatch.communication.customer
    bundle = evidence.evidence_bundle(
        dispatches=[dispatch], customer=customer, actor=request.user, single=True
    )
    return _evidence_response(
        request,
        bundle=bundle,
        subject=dispatch,
        scope={"dispatch": dispatch.pk},
        name=f"evidence-dispatch-{dispatch.pk}",
    )


MAX_EVIDENCE_DISPATCHES = 500


@console_view(*EVIDENCE_PERMISSIONS)
@require_GET
def customer_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """Download the evidence pack of a customer over a date range."""
    customer = get_object_or_404(Customer, pk=pk)
    form = EvidenceRangeForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            json.dumps(form.errors), status=400, content_type="application/json"
        )
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    dispatches = selectors.evidence_dispatches(
        customer=customer, since=since, until=until, limit=MAX_EVIDENCE_DISPATCHES
    )
    if dispatches is None:
        return HttpResponse(
            ngettext(
                "More than %(n)s dispatch: narrow the date range.",
                "More than %(n)s dispatches: narrow the date range.",
                MAX_EVIDENCE_DISPATCHES,
            )
            % {"n": MAX_EVIDENCE_DISPATCHES},
            status=400,
        )
    bundle = evidence.evidence_bundle(
        dispatches=dispatches,
        customer=customer,
        actor=request.user,
        since=since,
        until=until,
    )
    scope = {
        "customer": customer.external_id,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    suffix = urlencode({"since": since or "", "until": until or ""}).replace("&", "_")
    return _evidence_response(
        request,
        bundle=bundle,
        subject=customer,
        scope=scope,
        name=f"evidence-{customer.external_id}-{suffix}".replace("=", ""),
    )

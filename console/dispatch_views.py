"""A dispatch in the console: its exact copy, and what an agent does about it.

The page shows the copy as sent, why it said it (the data, the version and
its approvals, the audit trail) and what happened to it; from there an agent
resends the archived copy, records the customer's feedback (escalated to
operations) or corrects the data and reissues from the version in force.
Writes go through `console.services`.
"""

import json

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from channels_app.dispatching import TriggerRefused
from channels_app.models import Channel, Dispatch
from console import masking, selectors, services
from console.access import console_view, contact_unmasked
from console.forms import FeedbackForm, ReissueForm, ResendForm, UnmaskForm
from console.templatetags.console_tags import direction
from customers.reasons import reason_display
from templates_app import emails
from templates_app.preview import PREVIEW_POLICY

# A dispatch the consent check or a rule stopped for good.
STOPPED = {Dispatch.Status.SUPPRESSED, Dispatch.Status.CANCELLED}


def dispatch_or_404(pk: int) -> Dispatch:
    try:
        return selectors.dispatch_detail(pk)
    except Dispatch.DoesNotExist:
        raise Http404 from None


def _used(dispatch: Dispatch) -> tuple[str, str]:
    return dispatch.channel, dispatch.address


def _masked(request: HttpRequest, dispatch: Dispatch, text: str) -> str:
    """Return a text about a dispatch with its addresses masked, unless unmasked."""
    customer = dispatch.communication.customer
    if contact_unmasked(request, customer):
        return text
    return masking.ContactMask.for_customer(customer, [_used(dispatch)])(text)


def _dispatch_context(request, dispatch: Dispatch, **extra) -> dict:
    customer = dispatch.communication.customer
    unmasked = contact_unmasked(request, customer)
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
    return _dispatch_page(request, dispatch_or_404(pk))


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
    dispatch = dispatch_or_404(pk)
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
    dispatch = dispatch_or_404(pk)
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
    dispatch = dispatch_or_404(pk)
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

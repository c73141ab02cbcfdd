"""What the version screens share: category access and the one transition view."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from templates_app import selectors, workflow
from templates_app.errors import AuthoringError
from templates_app.models import Status

WORKFLOW_ERRORS = (AuthoringError, ValidationError)


def category_ids(request, *codenames: str) -> frozenset[int]:
    """Return the categories the requesting user holds any of `codenames` on.

    Computed once per request, so list pages make one permission query whatever
    the number of rows.
    """
    cache = request.__dict__.setdefault("_tpl_category_ids", {})
    if codenames not in cache:
        cache[codenames] = selectors.category_ids_for(request.user, *codenames)
    return cache[codenames]


def authored(request) -> frozenset[int]:
    return category_ids(request, selectors.AUTHOR)


def reviewed(request) -> frozenset[int]:
    return category_ids(request, selectors.REVIEW)


def visible(request) -> frozenset[int]:
    return category_ids(request, *selectors.CATEGORY_PERMISSIONS)


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class WorkflowAdminMixin:
    """One transition view for template and block versions.

    The buttons a screen shows come from `workflow.refusal`, the guards the
    services apply, so a button is offered exactly when its action would be
    allowed; the view calls the same service for either kind.
    """

    def workflow_urls(self) -> list:
        opts = self.model._meta
        return [
            path(
                "<int:version_id>/workflow/<str:verb>/",
                self.admin_site.admin_view(self.transition_view),
                name=f"{opts.app_label}_{opts.model_name}_transition",
            )
        ]

    def workflow_subject(self, request, version_id):
        subject = get_object_or_404(self.model, pk=version_id)
        if not self.has_view_permission(request, subject):
            raise PermissionDenied
        return subject

    def workflow_back(self, subject, verb: str) -> str:
        opts = self.model._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change", args=[subject.pk]
        )

    def workflow_context(self, request, subject) -> dict:
        """Return which actions the user may take, and why they may not approve."""
        refused = {
            verb: workflow.refusal(subject, verb, request.user)
            for verb in workflow.VERBS
        }
        may = {verb: refused[verb] is None for verb in workflow.VERBS}
        approve_refusal = ""
        if subject.status == Status.IN_REVIEW and not may["approve"]:
            approve_refusal = str(refused["approve"])
        return {
            "may_submit": may["submit"],
            "may_withdraw": may["withdraw"],
            "may_approve": may["approve"],
            "may_reject": may["reject"],
            "may_review": may["approve"] or may["reject"],
            "may_retire": may["retire"],
            "refusal": approve_refusal,
            "required_approvals": workflow.kind_of(subject).required_approvals(subject),
            "approvals": selectors.approvals_current(subject),
            "comment_form": CommentForm(),
        }

    def transition_view(self, request, version_id, verb):
        """Apply one workflow service to a version; show its refusal if any."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if verb not in workflow.VERBS:
            raise Http404
        subject = self.workflow_subject(request, version_id)
        form = CommentForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        try:
            subject = workflow.SERVICES[verb](
                subject, actor=request.user, comment=comment
            )
        except WORKFLOW_ERRORS as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, _done_message(verb, subject))
        return HttpResponseRedirect(self.workflow_back(subject, verb))


def _done_message(verb: str, subject) -> str:
    if verb == "approve" and subject.status == Status.IN_REVIEW:
        required = workflow.kind_of(subject).required_approvals(subject)
        return ngettext(
            "Your approval of %(version)s is recorded: %(given)s of the "
            "%(required)s approval its category requires.",
            "Your approval of %(version)s is recorded: %(given)s of the "
            "%(required)s approvals its category requires.",
            required,
        ) % {
            "version": subject,
            "given": selectors.approvals_current(subject).count(),
            "required": required,
        }
    return gettext("%(version)s is now %(status)s.") % {
        "version": subject,
        "status": subject.get_status_display(),
    }

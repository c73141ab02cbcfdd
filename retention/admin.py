"""Admin screens of retention: classes, legal holds and the runs' record.

A shorter period typed in a class's form becomes a proposal another records
manager approves on the same page; the admin never saves a class itself.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedAdminMixin
from retention import classes, holds
from retention.models import (
    LegalHold,
    RetentionClass,
    RetentionClassChange,
    RetentionRun,
)

PLACE_FIELDS = [
    "scope",
    "customer",
    "template_version",
    "category",
    "starts",
    "ends",
    "reason",
    "reference",
]


class RetentionClassForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "A period shorter than the one in force is proposed, not saved: it "
            "takes effect once another records manager approves it. A longer "
            "one applies at once."
        ),
    )

    class Meta:
        model = RetentionClass
        fields = ["name", "category", *classes.PERIOD_FIELDS]

    def clean(self):
        cleaned = super().clean()
        changed = any(
            name in self.changed_data for name in ["name", *classes.PERIOD_FIELDS]
        )
        category = (
            self.instance.category
            if self.instance.pk
            else cleaned.get("category", self.instance.category)
        )
        if (
            changed or self.instance.pk is None
        ) and RetentionClassChange.objects.filter(
            category=category, status=RetentionClassChange.Status.PROPOSED
        ).exists():
            raise ValidationError(
                _(
                    "This retention class already has a proposed change; approve, "
                    "reject or withdraw it before proposing another."
                ),
                code="open",
            )
        return cleaned


class DecisionForm(forms.Form):
    comment = forms.CharField(label=_("comment"), required=False)


def _decision_context(request, change: RetentionClassChange | None) -> dict:
    """Return what the decision block shows: the buttons the guard allows."""
    if change is None:
        return {"pending_change": None}
    return {
        "pending_change": change,
        "may_approve_change": classes.change_refusal(change, request.user, "approve")
        is None,
        "may_reject_change": classes.change_refusal(change, request.user, "reject")
        is None,
        "may_withdraw_change": classes.change_refusal(change, request.user, "withdraw")
        is None,
        "approval_refusal": classes.change_refusal(change, request.user, "approve"),
    }


@admin.register(RetentionClass)
class RetentionClassAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = RetentionClassForm
    change_form_template = "admin/retention/retentionclass/change_form.html"
    list_display = [
        "name",
        "category",
        "copies_days",
        "pdfs_days",
        "contacts_days",
        "snapshots_days",
        "changed",
    ]
    list_select_related = ["category"]

    def get_fields(self, request, obj=None):
        fields = ["name", "category", *classes.PERIOD_FIELDS]
        if obj is None or self.has_change_permission(request, obj):
            return [*fields, "change_reason"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        # A class is its category's: a class moved would change two at once.
        return ["category"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        request.retention_proposal = None
        try:
            request.retention_proposal = classes.retention_class_set(
                actor=request.user,
                category=obj.category,
                name=obj.name,
                periods={name: getattr(obj, name) for name in classes.PERIOD_FIELDS},
                reason=form.cleaned_data.get("change_reason", ""),
            )
        except (ValidationError, PermissionDenied) as exc:
            # A proposal made meanwhile by someone else: said, never a 500.
            request.retention_refusal = " ".join(getattr(exc, "messages", [str(exc)]))
            return
        if obj.pk is None and request.retention_proposal is None:
            obj.pk = RetentionClass.objects.get(category=obj.category).pk

    def save_form(self, request, form, change):
        return form.save(commit=False)

    def _saved(self, request, obj) -> bool:
        # A proposal or a refusal changed no class: the audit event says what
        # happened, the admin log records only classes saved.
        return obj.pk is not None and not (
            getattr(request, "retention_proposal", None)
            or getattr(request, "retention_refusal", None)
        )

    def log_addition(self, request, obj, message):
        if self._saved(request, obj):
            super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        if self._saved(request, obj):
            super().log_change(request, obj, message)

    def _proposal_response(self, request, obj):
        refusal = getattr(request, "retention_refusal", None)
        proposal = getattr(request, "retention_proposal", None)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
        elif proposal is not None:
            self.message_user(
                request,
                gettext(
                    "The shorter retention period was proposed; it takes effect "
                    "once another records manager approves it."
                ),
                messages.WARNING,
            )
        else:
            return None
        if obj.pk is not None:
            target = reverse("admin:retention_retentionclass_change", args=[obj.pk])
        elif proposal is not None:
            target = reverse(
                "admin:retention_retentionclasschange_change", args=[proposal.pk]
            )
        else:
            target = reverse("admin:retention_retentionclass_changelist")
        return HttpResponseRedirect(target)

    def response_add(self, request, obj, post_url_continue=None):
        return self._proposal_response(request, obj) or super().response_add(
            request, obj, post_url_continue
        )

    def response_change(self, request, obj):
        return self._proposal_response(request, obj) or super().response_change(
            request, obj
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context.update(
                _decision_context(
                    request,
                    RetentionClassChange.objects.filter(
                        category=obj.category,
                        status=RetentionClassChange.Status.PROPOSED,
                    )
                    .select_related("proposer")
                    .first(),
                )
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(RetentionClassChange)
class RetentionClassChangeAdmin(admin.ModelAdmin):
    """Proposed retention periods; decided here or on the class's page."""

    change_form_template = "admin/retention/retentionclasschange/change_form.html"
    list_display = [
        "name",
        "category",
        "status",
        "copies_days",
        "pdfs_days",
        "contacts_days",
        "snapshots_days",
        "proposer",
        "proposed_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status"]
    list_select_related = ["category", "proposer", "decided_by"]
    fields = [
        "name",
        "category",
        "retention_class",
        "status",
        # The periods when proposed are in the table above the form.
        *classes.PERIOD_FIELDS,
        "reason",
        "proposer",
        "proposed_at",
        "decided_by",
        "decided_at",
        "comment",
    ]
    readonly_fields = fields

    DECISIONS = {
        "approve": classes.retention_class_change_approve,
        "reject": classes.retention_class_change_reject,
        "withdraw": classes.retention_class_change_withdraw,
    }

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context.update(_decision_context(request, obj))
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def get_urls(self):
        return [
            path(
                "<int:change_id>/decide/<str:verb>/",
                self.admin_site.admin_view(self.decide_view),
                name="retention_retentionclasschange_decide",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, change_id, verb):
        """Approve, reject or withdraw a proposal; show a refusal as such."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if verb not in self.DECISIONS:
            raise Http404
        change = get_object_or_404(RetentionClassChange, pk=change_id)
        if not self.has_view_permission(request, change):
            raise PermissionDenied
        form = DecisionForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        try:
            change = self.DECISIONS[verb](
                change=change, actor=request.user, comment=comment
            )
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(
                request,
                " ".join(getattr(exc, "messages", [str(exc)])),
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                gettext("The proposed change is now %(status)s.")
                % {"status": change.get_status_display()},
            )
        if change.retention_class_id:
            target = reverse(
                "admin:retention_retentionclass_change",
                args=[change.retention_class_id],
            )
        else:
            target = reverse(
                "admin:retention_retentionclasschange_change", args=[change.pk]
            )
        return HttpResponseRedirect(target)


class HoldReleaseForm(forms.ModelForm):
    release_reason = forms.CharField(
        label=_("Reason for the release"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Released, what the hold covered is erased by the next run if its "
            "retention period has ended. Who placed the hold may not release it."
        ),
    )

    class Meta:
        model = LegalHold
        fields = ["release_reason"]

    # Who is releasing; set by the admin for the request.
    releaser = None

    def clean(self):
        cleaned = super().clean()
        if self.releaser is not None and self.releaser.pk == self.instance.placed_by_id:
            raise ValidationError(
                _("Who placed a hold may not release it: ask a second person.")
            )
        return cleaned


@admin.register(LegalHold)
class LegalHoldAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "reference",
        "scope",
        "covers",
        "reason",
        "placed_by",
        "placed_at",
        "is_active",
        "released_by",
        "released_at",
    ]
    list_filter = ["scope", ("released_at", admin.EmptyFieldListFilter)]
    search_fields = ["reference", "reason", "=customer__external_id"]
    list_select_related = ["customer", "template_version__template", "category"]
    autocomplete_fields = ["customer"]
    raw_id_fields = ["template_version"]

    @admin.display(description=_("covers"))
    def covers(self, hold: LegalHold) -> str:
        return hold.target_label()

    @admin.display(description=_("active"), boolean=True)
    def is_active(self, hold: LegalHold) -> bool:
        return hold.active

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            return super().get_form(request, obj, change, **kwargs)
        kwargs["fields"] = ["release_reason"] if obj.active else []
        form = super().get_form(request, obj, change, form=HoldReleaseForm, **kwargs)
        form.releaser = request.user
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return PLACE_FIELDS
        shown = [*PLACE_FIELDS, "placed_by", "placed_at"]
        if obj.active:
            return [*shown, "release_reason"]
        return [*shown, "released_by", "released_at", "release_reason"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = [f for f in self.get_fields(request, obj) if f != "release_reason"]
        return readonly if obj.active else [*readonly, "release_reason"]

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and not obj.active:
            return False
        return request.user.has_perm("retention.release_legalhold")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        try:
            if change:
                holds.hold_release(
                    hold=obj, actor=request.user, reason=obj.release_reason
                )
                return
            placed = holds.hold_place(
                actor=request.user,
                **{name: getattr(obj, name) for name in PLACE_FIELDS},
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            raise
        obj.pk = placed.pk

    def save_form(self, request, form, change):
        return form.save(commit=False)


@admin.register(RetentionRun)
class RetentionRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "started",
        "finished",
        "as_of",
        "examined",
        "dispatches",
        "copies",
        "pdfs",
        "contacts",
        "snapshots",
        "held",
        "busy",
    ]
    list_filter = ["status"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

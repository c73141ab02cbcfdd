"""Admin screens for the ledger of sends: communications, their dispatches
(with attempts and status changes) and escalations.

All are read-only records; dispatches move only by the retry and cancel
actions, escalations by resolve, each with a reason asked for on a page between.
"""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedAdminMixin
from ccm.moments import moment_display
from channels_app import lifecycle, pauses, services
from channels_app.admin_base import ReadOnlyAdmin
from channels_app.models import (
    Communication,
    Dispatch,
    DispatchAttempt,
    DispatchStatusChange,
    Escalation,
)
from customers.reasons import reason_display
from rules.labels import outcome_label, stage_label


class DispatchInline(admin.TabularInline):
    model = Dispatch
    fields = [
        "channel",
        "language",
        "address",
        "status",
        "status_changed",
        "decision_shown",
    ]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    @admin.display(description=_("decision"))
    def decision_shown(self, dispatch: Dispatch) -> str:
        return reason_display(dispatch.decision) or "-"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Communication)
class CommunicationAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = [
        "public_id",
        "template_code",
        "customer",
        "requester_label",
        "source_system",
        "created",
    ]
    list_filter = ["template_code", "source_system", "mandatory"]
    search_fields = [
        "=public_id",
        "=customer__external_id",
        "=idempotency_key",
        "=correlation_key",
        "=batch__public_id",
    ]
    list_select_related = ["customer"]
    date_hierarchy = "created"
    inlines = [DispatchInline]


class AttemptInline(admin.TabularInline):
    model = DispatchAttempt
    fields = ["number", "started", "duration_ms", "outcome", "error", "worker"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class StatusChangeInline(AttemptInline):
    model = DispatchStatusChange
    fields = ["status", "at", "detail"]
    readonly_fields = fields


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


def _with_reason(request, queryset, *, title: str, action: str, apply) -> None:
    """Ask for a reason on an intermediate page, then apply to each dispatch."""
    form = ReasonForm(request.POST if "reason" in request.POST else None)
    if not form.is_valid():
        return render(
            request,
            "admin/channels_app/dispatch/reason.html",
            {
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": action,
                "opts": Dispatch._meta,
            },
        )
    done, refused = 0, []
    for dispatch in queryset:
        try:
            apply(
                dispatch=dispatch,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
            done += 1
        except lifecycle.DispatchStateError as exc:
            refused.append(str(exc))
    if done:
        messages.success(
            request,
            ngettext(
                "%(count)d dispatch updated.", "%(count)d dispatches updated.", done
            )
            % {"count": done},
        )
    for problem in refused:
        messages.error(request, problem)
    return None


class RuleDecisionFilter(admin.SimpleListFilter):
    title = _("rule decisions")
    parameter_name = "ruled"

    def lookups(self, request, model_admin):
        return [("yes", _("Held or changed by a rule")), ("no", _("No rule decision"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(rule_decisions=[])
        if self.value() == "no":
            return queryset.filter(rule_decisions=[])
        return queryset


@admin.register(Dispatch)
class DispatchAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "channel",
        "status",
        "severity",
        "address",
        "template",
        "attempt_count",
        "due_at",
        "status_changed",
    ]
    list_filter = [
        "status",
        "channel",
        "severity",
        "communication__template_code",
        "communication__category",
        RuleDecisionFilter,
        ("created", admin.DateFieldListFilter),
    ]
    search_fields = ["=id", "=address", "=communication__customer__external_id"]
    list_select_related = ["communication"]
    inlines = [StatusChangeInline, AttemptInline]
    actions = ["retry", "cancel"]

    def get_urls(self):
        from channels_app.complaints import complaint_rates_view

        return [
            path(
                "complaint-rates/",
                self.admin_site.admin_view(
                    lambda request: complaint_rates_view(request, self.admin_site)
                ),
                name="channels_app_dispatch_complaint_rates",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("template"), ordering="communication__template_code")
    def template(self, dispatch: Dispatch) -> str:
        return dispatch.communication.template_code

    def get_readonly_fields(self, request, obj=None):
        shown = {"rule_decisions": "rule_decisions_table", "decision": "decision_shown"}
        return [
            shown.get(name, name) for name in super().get_readonly_fields(request, obj)
        ] + ["hold"]

    @admin.display(description=_("decision"))
    def decision_shown(self, dispatch: Dispatch) -> str:
        return reason_display(dispatch.decision) or "-"

    @admin.display(description=_("held by a pause"))
    def hold(self, dispatch: Dispatch) -> str:
        return pauses.hold_reason(dispatch) or "-"

    @admin.display(description=_("rule decisions"))
    def rule_decisions_table(self, dispatch: Dispatch) -> str:
        decisions = dispatch.rule_decisions or []
        if not decisions:
            return gettext("No rule changed or held this dispatch.")
        head = format_html_join(
            "",
            "<th>{}</th>",
            (
                (label,)
                for label in (
                    gettext("rule"),
                    gettext("version"),
                    gettext("outcome"),
                    gettext("reason"),
                    gettext("stage"),
                    gettext("at"),
                )
            ),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    decision.get("rule", ""),
                    decision.get("version", ""),
                    outcome_label(decision.get("outcome", "")),
                    reason_display(decision.get("reason", "")),
                    stage_label(decision.get("stage", "")),
                    moment_display(decision.get("at", "")),
                )
                for decision in decisions
                if isinstance(decision, dict)
            ),
        )
        return format_html(
            '<table class="rule-decisions"><thead><tr>{}</tr></thead>'
            "<tbody>{}</tbody></table>",
            head,
            rows,
        )

    def has_change_permission(self, request, obj=None) -> bool:
        # Change permission drives the retry/cancel actions; the form stays read-only.
        return request.user.has_perm("channels_app.change_dispatch")

    @admin.action(description=_("Retry the selected failed dispatches"))
    def retry(self, request, queryset):
        return _with_reason(
            request,
            queryset,
            title=_("Retry dispatches"),
            action="retry",
            apply=services.dispatch_retry,
        )

    @admin.action(description=_("Cancel the selected queued dispatches"))
    def cancel(self, request, queryset):
        return _with_reason(
            request,
            queryset,
            title=_("Cancel dispatches"),
            action="cancel",
            apply=services.dispatch_cancel,
        )


@admin.register(Escalation)
class EscalationAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = ["id", "severity", "status", "dispatch", "reason", "opened"]
    list_filter = ["status", "severity"]
    list_select_related = ["dispatch"]
    actions = ["resolve"]

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("channels_app.change_escalation")

    @admin.action(description=_("Resolve the selected escalations"))
    def resolve(self, request, queryset):
        return _with_reason(
            request,
            queryset,
            title=_("Resolve escalations"),
            action="resolve",
            apply=lambda *, dispatch, actor, reason: lifecycle.escalation_resolve(
                escalation=dispatch, actor=actor, reason=reason
            ),
        )

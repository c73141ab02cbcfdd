"""Operators propose rule changes, other operators decide them, and anyone who
may see the rules asks what they would do (with a proposal or without)."""

from datetime import time

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.admin import events_url_for
from rules import selectors, services
from rules.dry_run import rules_explain
from rules.forms import (
    FIELDSETS,
    DecisionForm,
    DryRunForm,
    NewRuleForm,
    RetireForm,
    RuleProposalForm,
)
from rules.models import EVER_APPROVED, VALUE_FIELDS, Rule, RuleVersion, codes_split

Status = RuleVersion.Status
VIEW_PERMISSION = "rules.view_rule"


def value_display(version: RuleVersion | None, name: str) -> str:
    """Return one value of a version as the admin shows it."""
    if version is None:
        return "—"
    value = getattr(version, name)
    if RuleVersion._meta.get_field(name).choices and value:
        return getattr(version, f"get_{name}_display")()
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, time):
        return f"{value:%H:%M}"
    return "—" if value in (None, "") else str(value)


def value_rows(
    against: RuleVersion | None, version: RuleVersion | None
) -> list[dict[str, object]]:
    """Return each value of two versions side by side, marking what differs."""
    return [
        {
            "label": capfirst(RuleVersion._meta.get_field(name).verbose_name),
            "against": value_display(against, name),
            "value": value_display(version, name),
            "changed": against is not None
            and version is not None
            and getattr(against, name) != getattr(version, name),
        }
        for name in VALUE_FIELDS
    ]


def summary(version: RuleVersion | None) -> str:
    """Return what a rule version does, in a few words."""
    if version is None:
        return "—"
    if version.kind == Rule.Kind.QUIET_HOURS and version.quiet_start:
        return gettext("no sending %(start)s–%(end)s local") % {
            "start": f"{version.quiet_start:%H:%M}",
            "end": f"{version.quiet_end:%H:%M}",
        }
    if version.kind == Rule.Kind.FREQUENCY_CAP:
        return gettext("at most %(count)s per %(hours)s h, %(mode)s") % {
            "count": version.cap_count,
            "hours": version.window_hours,
            "mode": version.get_cap_mode_display(),
        }
    return gettext("once per %(hours)s h") % {"hours": version.window_hours}


def _open(rule: Rule, status: str) -> RuleVersion | None:
    return next((v for v in rule.open_versions if v.status == status), None)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    change_list_template = "admin/rules/rule/change_list.html"
    list_display = ["name", "kind", "state", "summary", "in_force", "awaiting"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch(
                    "versions",
                    queryset=RuleVersion.objects.filter(
                        status__in=[Status.APPROVED, Status.PROPOSED]
                    ).select_related("proposed_by"),
                    to_attr="open_versions",
                )
            )
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        # A rule is retired through review; decisions keep naming it.
        return False

    @admin.display(description=_("kind"))
    def kind(self, rule: Rule) -> str:
        version = _open(rule, Status.APPROVED) or _open(rule, Status.PROPOSED)
        return version.get_kind_display() if version else "—"

    @admin.display(description=_("state"))
    def state(self, rule: Rule) -> str:
        current = _open(rule, Status.APPROVED)
        if current is None:
            return gettext("not yet approved")
        if current.change == RuleVersion.Change.RETIRE:
            return gettext("retired")
        return gettext("in force") if current.enabled else gettext("disabled")

    @admin.display(description=_("rule"))
    def summary(self, rule: Rule) -> str:
        return summary(_open(rule, Status.APPROVED))

    @admin.display(description=_("version in force"))
    def in_force(self, rule: Rule) -> str:
        current = _open(rule, Status.APPROVED)
        return f"v{current.number}" if current else "—"

    @admin.display(description=_("awaiting approval"))
    def awaiting(self, rule: Rule) -> str:
        pending = _open(rule, Status.PROPOSED)
        if pending is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:rules_ruleversion_change", args=[pending.pk]),
            gettext("v%(number)s by %(user)s")
            % {"number": pending.number, "user": pending.proposed_by},
        )

    def changelist_view(self, request, extra_context=None):
        awaiting = RuleVersion.objects.filter(status=Status.PROPOSED).count()
        return super().changelist_view(
            request, {**(extra_context or {}), "awaiting_count": awaiting}
        )

    def _proposed(self, request, version: RuleVersion) -> HttpResponseRedirect:
        self.message_user(
            request,
            gettext(
                "%(version)s proposed: it applies once another operator approves it."
            )
            % {"version": version.label},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:rules_ruleversion_change", args=[version.pk])
        )

    def _page(self, request, context: dict) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/rules/rule/detail.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                **context,
            },
        )

    def add_view(self, request, form_url="", extra_context=None):
        """Propose a new rule; it applies once another operator approves it."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = NewRuleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                version = services.rule_propose(
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    reason=form.cleaned_data["reason"],
                    **form.values(),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return self._proposed(request, version)
        fieldsets = [(None, {"fields": ["name"]}), *FIELDSETS]
        return self._page(
            request,
            {
                "title": gettext("Propose a new rule"),
                "adminform": helpers.AdminForm(form, fieldsets, {}),
                "may_propose": True,
            },
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show a rule in force, its versions, and propose a change or retirement."""
        rule = self.get_object(request, unquote(object_id))
        if rule is None:
            raise Http404
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        current = _open(rule, Status.APPROVED)
        pending = _open(rule, Status.PROPOSED)
        retired = current is not None and current.change == RuleVersion.Change.RETIRE
        may_propose = (
            self.has_change_permission(request, rule)
            and pending is None
            and not retired
        )
        latest = current or rule.versions.order_by("-number").first()
        post = request.POST if request.method == "POST" else None
        form = RuleProposalForm(
            post if post and "_propose" in post else None,
            initial=latest.values() if latest else {},
        )
        retire_form = RetireForm(post if post and "_retire" in post else None)
        if post is not None:
            if not self.has_change_permission(request, rule):
                raise PermissionDenied
            try:
                if "_propose" in post and form.is_valid():
                    return self._proposed(
                        request,
                        services.rule_propose(
                            actor=request.user,
                            rule=rule,
                            reason=form.cleaned_data["reason"],
                            **form.values(),
                        ),
                    )
                if "_retire" in post and retire_form.is_valid():
                    return self._proposed(
                        request,
                        services.rule_retire_propose(
                            rule=rule,
                            actor=request.user,
                            reason=retire_form.cleaned_data["reason"],
                        ),
                    )
            except ValidationError as exc:
                form.add_error(None, exc)
        return self._page(
            request,
            {
                "title": str(rule),
                "original": rule,
                "rule": rule,
                "current": current,
                "pending": pending,
                "retired": retired,
                "rows": value_rows(None, current),
                "versions": rule.versions.select_related(
                    "proposed_by", "decided_by"
                ).order_by("-number"),
                "adminform": helpers.AdminForm(form, FIELDSETS, {}),
                "retire_form": retire_form,
                "may_propose": may_propose,
                "may_retire": may_propose and current is not None,
            },
        )

    def get_urls(self):
        return [
            path(
                "dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="rules_rule_dry_run",
            ),
            *super().get_urls(),
        ]

    def dry_run_view(self, request):
        """Show what the rules would do for a customer and a template, and why.

        With a proposed change chosen, its effect is shown beside the rules in
        force, before anyone approves it.
        """
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        bound = "customer" in request.GET
        form = DryRunForm(
            request.GET if bound else None,
            initial={"proposal": request.GET.get("proposal")},
        )
        explanations = []
        if bound and form.is_valid():
            data = form.cleaned_data
            asked = {
                "customer": data["customer"],
                "template": data["template"],
                "at": data["at"] or timezone.now(),
                "channels": [data["channel"]] if data["channel"] else None,
                "correlation_key": data["correlation_key"],
                "supersedes": codes_split(data["supersedes"]),
                "waits_for": codes_split(data["waits_for"]),
            }
            explanations.append(
                (gettext("With the rules in force"), rules_explain(**asked))
            )
            proposal = data["proposal"]
            if proposal is not None:
                heading = gettext(
                    "With the proposed %(version)s (%(change)s), not yet approved"
                ) % {"version": proposal.label, "change": proposal.get_change_display()}
                explanations.append(
                    (
                        heading,
                        rules_explain(
                            **asked,
                            rules=selectors.rules_with_proposal(proposal),
                            revision=selectors.rule_set_revision() + 1,
                        ),
                    )
                )
        return TemplateResponse(
            request,
            "admin/rules/rule/dry_run.html",
            {
                **self.admin_site.each_context(request),
                "title": _("What would the rules do?"),
                "form": form,
                "explanations": explanations,
                # The first (rules in force) for callers that read one.
                "explanation": explanations[0][1] if explanations else None,
                "opts": self.model._meta,
            },
        )


@admin.register(RuleVersion)
class RuleVersionAdmin(admin.ModelAdmin):
    list_display = [
        "version_label",
        "change",
        "status",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "change"]
    search_fields = ["rule__name", "reason", "comment"]
    list_select_related = ["rule", "proposed_by", "decided_by"]

    @admin.display(description=_("rule version"), ordering="rule__name")
    def version_label(self, version: RuleVersion) -> str:
        return version.label

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)

    def has_add_permission(self, request) -> bool:
        # Proposals start from the rule's page (Rules → a rule, or add a rule).
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Show a version beside the one in force, with the decision forms."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = get_object_or_404(
            RuleVersion.objects.select_related("rule", "proposed_by", "decided_by"),
            pk=unquote(object_id),
        )
        in_force = version.rule.versions.filter(status=Status.APPROVED).first()
        against = in_force
        if in_force is not None and in_force.pk == version.pk:
            against = (
                version.rule.versions.filter(
                    status__in=EVER_APPROVED, number__lt=version.number
                )
                .order_by("-number")
                .first()
            )
        proposer = request.user.pk == version.proposed_by_id
        open_ = version.status == Status.PROPOSED
        may_decide = open_ and request.user.has_perm(services.REVIEW_PERMISSION)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Rule change %(version)s") % {"version": version.label},
            "version": version,
            "in_force": in_force,
            "against": against,
            "rows": value_rows(against, version),
            "proposer": proposer,
            "may_decide": may_decide and not proposer,
            "self_review": may_decide and proposer,
            "may_withdraw": may_decide and proposer,
            "decision_form": DecisionForm(),
            "dry_run_url": reverse("admin:rules_rule_dry_run")
            + f"?proposal={version.pk}",
            "audit_events_url": events_url_for(version)
            if request.user.has_perm("audit.view_auditevent")
            else "",
        }
        return TemplateResponse(request, "admin/rules/ruleversion/review.html", context)

    def get_urls(self):
        return [
            path(
                "<int:version_id>/decide/<str:verb>/",
                self.admin_site.admin_view(self.decide_view),
                name="rules_ruleversion_decide",
            ),
            *super().get_urls(),
        ]

    DECISIONS = {
        "approve": (
            services.rule_version_approve,
            _("%(version)s approved: it applies to dispatches from now on."),
        ),
        "reject": (
            services.rule_version_reject,
            _("%(version)s rejected: the version in force stays."),
        ),
        "withdraw": (
            services.rule_version_withdraw,
            _("%(version)s withdrawn: the version in force stays."),
        ),
    }

    def decide_view(self, request, version_id, verb):
        """Approve, reject or withdraw a proposed version; show a refusal if any."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if verb not in self.DECISIONS:
            raise Http404
        if not self.has_view_permission(request):
            raise PermissionDenied
        version = get_object_or_404(
            RuleVersion.objects.select_related("rule"), pk=version_id
        )
        form = DecisionForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        decide, done = self.DECISIONS[verb]
        try:
            version = decide(version=version, actor=request.user, comment=comment)
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, message, messages.ERROR)
        else:
            self.message_user(request, done % {"version": version.label})
        return HttpResponseRedirect(
            reverse("admin:rules_ruleversion_change", args=[version.pk])
        )

"""Category screens: names saved and audited, kind and approvals by proposal.

A change of the kind or the required approvals in the form becomes a proposal
that another user approves on the same page; the admin never saves a category
itself.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from guardian.shortcuts import get_groups_with_perms, get_users_with_perms
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from templates_app import categories, selectors, services
from templates_app.admin_names import DisplayNameColumns
from templates_app.models import Category, CategoryChange


class CategoryPermissionForm(forms.Form):
    permission = forms.ChoiceField(
        label=_("permission"),
        choices=[
            (selectors.AUTHOR, _("Author templates")),
            (selectors.REVIEW, _("Review templates")),
        ],
    )
    user = forms.ModelChoiceField(
        label=_("user"),
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
    )
    group = forms.ModelChoiceField(
        label=_("group"), queryset=Group.objects.order_by("name"), required=False
    )

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("user")) == bool(cleaned.get("group")):
            raise ValidationError(_("Choose either a user or a group."))
        return cleaned


class CategoryForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("reason for a change of kind or approvals"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "A new kind or number of required approvals is proposed, not saved: "
            "it takes effect once another user approves it."
        ),
    )

    class Meta:
        model = Category
        fields = [
            "code",
            "name",
            "name_ar",
            "kind",
            "required_approvals",
            "recertify_months",
            "allow_remote_images",
        ]

    def clean(self):
        cleaned = super().clean()
        category = self.instance
        if category.pk is None:
            return cleaned
        proposing = any(name in self.changed_data for name in CategoryChange.FIELDS)
        if (
            proposing
            and category.changes.filter(status=CategoryChange.Status.PROPOSED).exists()
        ):
            raise ValidationError(
                _(
                    "This category already has a proposed change; decide or "
                    "withdraw it before proposing another."
                )
            )
        return cleaned


class DecisionForm(forms.Form):
    comment = forms.CharField(label=_("comment"), required=False)


@admin.register(Category)
class CategoryAdmin(DisplayNameColumns, AuditedAdminMixin, SimpleHistoryAdmin):
    form = CategoryForm
    list_display = [
        "code",
        "name",
        "arabic_name",
        "kind",
        "required_approvals",
        "recertify_months",
    ]
    search_fields = ["code", "name", "name_ar"]
    change_form_template = "admin/templates_app/category/change_form.html"

    def get_fields(self, request, obj=None):
        fields = [
            "code",
            "name",
            "name_ar",
            "kind",
            "required_approvals",
            "recertify_months",
            "allow_remote_images",
        ]
        if obj is not None and self.has_change_permission(request, obj):
            return [*fields, "change_reason"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        # The code is what preferences and sent communications refer to.
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        # Communications, preferences and the audit trail name categories.
        return False

    def save_model(self, request, obj, form, change):
        try:
            if not change:
                created = categories.category_create(
                    actor=request.user,
                    **{name: form.cleaned_data[name] for name in form.Meta.fields},
                )
                obj.pk = created.pk
                return
            categories.category_update(
                category=obj,
                actor=request.user,
                **{name: form.cleaned_data[name] for name in categories.DIRECT_FIELDS},
            )
            proposed = {
                name: form.cleaned_data[name]
                for name in CategoryChange.FIELDS
                if name in form.changed_data
            }
            if proposed:
                categories.category_change_propose(
                    category=obj,
                    actor=request.user,
                    reason=form.cleaned_data.get("change_reason", ""),
                    **proposed,
                )
                self.message_user(
                    request,
                    gettext(
                        "The change of kind or required approvals was proposed; "
                        "it takes effect once another user approves it."
                    ),
                    messages.WARNING,
                )
        except services.AuthoringError as exc:
            raise PermissionDenied(str(exc)) from exc

    def get_urls(self):
        return [
            path(
                "<int:category_id>/permissions/",
                self.admin_site.admin_view(self.permissions_view),
                name="templates_app_category_permissions",
            ),
            path(
                "change/<int:change_id>/<str:verb>/",
                self.admin_site.admin_view(self.decide_view),
                name="templates_app_category_change_decide",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_manage_permissions"] = request.user.has_perm(
            "templates_app.manage_category_permissions"
        )
        if obj is not None:
            pending = (
                obj.changes.filter(status=CategoryChange.Status.PROPOSED)
                .select_related("proposer")
                .first()
            )
            may_decide = request.user.has_perm("templates_app.approve_category_change")
            context.update(
                pending_change=pending,
                may_approve_change=pending is not None
                and may_decide
                and pending.proposer_id != request.user.pk,
                may_reject_change=pending is not None and may_decide,
                may_withdraw_change=pending is not None
                and pending.proposer_id == request.user.pk,
                decision_form=DecisionForm(),
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    DECISIONS = {
        "approve": categories.category_change_approve,
        "reject": categories.category_change_reject,
        "withdraw": categories.category_change_withdraw,
    }

    def decide_view(self, request, change_id, verb):
        """Approve, reject or withdraw a proposed change; show a refusal as such."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if verb not in self.DECISIONS:
            raise Http404
        change = get_object_or_404(CategoryChange, pk=change_id)
        if not self.has_view_permission(request, change.category):
            raise PermissionDenied
        form = DecisionForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        try:
            change = self.DECISIONS[verb](
                change=change, actor=request.user, comment=comment
            )
        except services.AuthoringError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("The proposed change is now %(status)s.")
                % {"status": change.get_status_display()},
            )
        return HttpResponseRedirect(
            reverse("admin:templates_app_category_change", args=[change.category_id])
        )

    def permissions_view(self, request, category_id):
        """List who may author and review in a category; revoke at once.

        A grant is a request under Role grants (`ccm.grants`), which a second
        operator approves; the page links to it, filled in for the category.
        """
        if not request.user.has_perm("templates_app.manage_category_permissions"):
            raise PermissionDenied
        category = get_object_or_404(Category, pk=category_id)
        form = CategoryPermissionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.category_permission_revoke(
                category=category,
                permission=form.cleaned_data["permission"],
                user=form.cleaned_data["user"],
                group=form.cleaned_data["group"],
                actor=request.user,
            )
            self.message_user(request, gettext("Permission revoked."))
            return HttpResponseRedirect(request.path)
        only = list(selectors.CATEGORY_PERMISSIONS)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Permissions: %(category)s") % {"category": category},
            "category": category,
            "form": form,
            "request_url": reverse("admin:ccm_rolegrant_add")
            + f"?category={category.pk}",
            "pending_url": reverse("admin:ccm_rolegrant_changelist")
            + f"?status__exact=pending&category__id__exact={category.pk}",
            "users": sorted(
                get_users_with_perms(
                    category,
                    attach_perms=True,
                    with_group_users=False,
                    only_with_perms_in=only,
                ).items(),
                key=lambda item: item[0].username,
            ),
            "groups": sorted(
                get_groups_with_perms(
                    category, attach_perms=True, only_with_perms_in=only
                ).items(),
                key=lambda item: item[0].name,
            ),
        }
        return TemplateResponse(
            request, "admin/templates_app/category/permissions.html", context
        )


@admin.register(CategoryChange)
class CategoryChangeAdmin(admin.ModelAdmin):
    """The queue of proposed category changes; decided on the category's page."""

    list_display = [
        "category",
        "status",
        "kind",
        "required_approvals",
        "recertify_months",
        "proposer",
        "proposed_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status"]
    list_select_related = ["category", "proposer", "decided_by"]
    fields = [
        "category",
        "status",
        "before",
        "kind",
        "required_approvals",
        "recertify_months",
        "reason",
        "proposer",
        "proposed_at",
        "decided_by",
        "decided_at",
        "comment",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

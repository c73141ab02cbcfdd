"""Role grants and the user and group screens that must not bypass them.

A non-superuser never gives a role or a permission in the user or group
forms: roles are requested under *Role grants* and applied when a second
operator approves (`ccm.grants`). In the user form such an operator may only
take roles away (audited); superusers keep the full form, and the roles they
give there are audited too.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ccm import grants
from ccm.models import RoleGrant

User = get_user_model()


class RoleGrantForm(forms.ModelForm):
    class Meta:
        model = RoleGrant
        fields = ["user", "role", "group", "category", "permission", "reason"]

    def __init__(self, *args, actor=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean(self):
        cleaned = super().clean()
        if self.actor is not None and not self.errors:
            candidate = RoleGrant(
                **{name: cleaned.get(name) for name in self.Meta.fields},
                requested_by=self.actor,
            )
            candidate.permission = candidate.permission or ""
            candidate.reason = (candidate.reason or "").strip()
            try:
                grants.grant_request_check(candidate, self.actor)
            except grants.GrantRefused as refused:
                raise ValidationError(str(refused)) from None
        return cleaned


class DecisionForm(forms.Form):
    comment = forms.CharField(
        label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


@admin.register(RoleGrant)
class RoleGrantAdmin(admin.ModelAdmin):
    """Request a role or category permission; another operator decides."""

    form = RoleGrantForm
    list_display = [
        "__str__",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "category"]
    list_select_related = ["user", "group", "role", "category", "requested_by"]
    search_fields = ["user__username", "group__name", "role__name", "reason"]
    readonly_fields = [
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "comment",
    ]
    change_form_template = "admin/ccm/rolegrant/change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class ActorForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, actor=request.user, **inner)

        return ActorForm

    def get_fields(self, request, obj=None):
        fields = [*RoleGrantForm.Meta.fields]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*RoleGrantForm.Meta.fields, *self.readonly_fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        created = grants.grant_request(
            actor=request.user,
            reason=obj.reason,
            user=obj.user,
            group=obj.group,
            role=obj.role,
            category=obj.category,
            permission=obj.permission,
        )
        obj.pk, obj.status = created.pk, created.status

    def get_urls(self):
        return [
            path(
                "<int:grant_id>/decide/<str:verb>/",
                self.admin_site.admin_view(self.decide_view),
                name="ccm_rolegrant_decide",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            pending = obj.status == RoleGrant.Status.PENDING
            may_decide = request.user.has_perm(grants.APPROVE)
            context.update(
                may_approve=pending
                and may_decide
                and request.user.pk not in (obj.requested_by_id, obj.user_id),
                may_refuse=pending
                and (may_decide or request.user.pk == obj.requested_by_id),
                decision_form=DecisionForm(),
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    DECISIONS = {"approve": grants.grant_approve, "refuse": grants.grant_refuse}

    def decide_view(self, request, grant_id, verb):
        """Approve or refuse a request; show a refusal as such."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if verb not in self.DECISIONS or not self.has_view_permission(request):
            raise PermissionDenied
        grant = get_object_or_404(RoleGrant, pk=grant_id)
        form = DecisionForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        try:
            grant = self.DECISIONS[verb](
                grant=grant, actor=request.user, comment=comment
            )
        except grants.GrantRefused as refused:
            self.message_user(request, str(refused), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("The request is now %(status)s.")
                % {"status": grant.get_status_display()},
            )
        return HttpResponseRedirect(
            reverse("admin:ccm_rolegrant_change", args=[grant.pk])
        )


admin.site.unregister(User)


@admin.register(User)
class GuardedUserAdmin(UserAdmin):
    """Users; roles and permissions are given by request, never in this form."""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
        return readonly

    def has_change_permission(self, request, obj=None) -> bool:
        # A superuser's account (its password, its address) is a superuser's.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def user_change_password(self, request, id, form_url=""):
        # Another approver's password would let a requester approve as them.
        target = self.get_object(request, id)
        if (
            target is not None
            and not request.user.is_superuser
            and target.pk != request.user.pk
            and target.has_perm(grants.APPROVE)
        ):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        groups = form.base_fields.get("groups")
        if groups is not None and not request.user.is_superuser:
            # Only the roles the user holds: unticking one takes it away;
            # adding one is a request under Role grants.
            groups.queryset = obj.groups.all() if obj else Group.objects.none()
            groups.help_text = _(
                "Untick a role to take it away. A role is given by a request "
                "under Role grants, approved by a second operator."
            )
        return form

    def save_related(self, request, form, formsets, change) -> None:
        user = form.instance
        added = []
        if change and "groups" in form.cleaned_data:
            held = set(user.groups.all())
            wanted = set(form.cleaned_data["groups"])
            for role in held - wanted:
                grants.role_revoke(user=user, role=role, actor=request.user)
            added = sorted(wanted - held, key=lambda role: role.name)
        super().save_related(request, form, formsets, change)
        for role in added:
            grants.role_granted_directly(user=user, role=role, actor=request.user)

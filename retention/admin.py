"""Admin screens of retention: classes, legal holds and the runs' record."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedAdminMixin
from retention import classes, holds
from retention.models import LegalHold, RetentionClass, RetentionRun

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


@admin.register(RetentionClass)
class RetentionClassAdmin(AuditedAdminMixin, admin.ModelAdmin):
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
    fields = [
        "name",
        "category",
        "copies_days",
        "pdfs_days",
        "contacts_days",
        "snapshots_days",
    ]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        classes.retention_class_save(retention_class=obj, actor=request.user)


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

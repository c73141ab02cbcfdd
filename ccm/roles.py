"""The four roles, as Django groups, and the model permissions each holds.

Object permissions (which categories an Author or Reviewer may work in) are
granted per object with django-guardian on top of these.
Each app that adds models adds a data migration calling `roles_sync`.
"""

from django.utils.translation import gettext, gettext_noop

AUTHOR = "Author"
REVIEWER = "Reviewer"
AGENT = "Agent"
OPERATOR = "Operator"
RECORDS_MANAGER = "Records manager"
API_CLIENT = "API client"

# Marked for translation so the admin shows group names in Arabic.
ROLE_LABELS = {
    AUTHOR: gettext_noop("Author"),
    REVIEWER: gettext_noop("Reviewer"),
    AGENT: gettext_noop("Agent"),
    OPERATOR: gettext_noop("Operator"),
    RECORDS_MANAGER: gettext_noop("Records manager"),
    API_CLIENT: gettext_noop("API client"),
}


def role_label(group) -> str:
    """Return a group's name in the reader's language when it is a role's."""
    return gettext(ROLE_LABELS[group.name]) if group.name in ROLE_LABELS else group.name


ROLE_PERMISSIONS: dict[str, list[str]] = {
    AUTHOR: [
        f"templates_app.{codename}"
        for codename in (
            "view_category",
            "view_template",
            "add_template",
            "change_template",
            "view_templateversion",
            "add_templateversion",
            "change_templateversion",
            "delete_templateversion",
            "view_versioncontent",
            "add_versioncontent",
            "change_versioncontent",
            "delete_versioncontent",
            "view_contentblock",
            "add_contentblock",
            "change_contentblock",
            "view_contentblockversion",
            "add_contentblockversion",
            "change_contentblockversion",
            "view_contentblockcontent",
            "add_contentblockcontent",
            "change_contentblockcontent",
            "delete_contentblockcontent",
            "view_versionblockpin",
        )
    ]
    # Template owners see the dashboard, read-only.
    + ["operations.view_dashboard", "channels_app.view_pause"],
    REVIEWER: [
        "audit.view_auditevent",
        "templates_app.review_contentblock",
        # The second pair of eyes on a category's kind and required approvals.
        "templates_app.approve_category_change",
        *(
            f"templates_app.{codename}"
            for codename in (
                "view_category",
                "view_template",
                "view_templateversion",
                "view_versioncontent",
                "view_contentblock",
                "view_contentblockversion",
                "view_contentblockcontent",
                "view_versionblockpin",
                "view_categorychange",
            )
        ),
        # The operations dashboard, read-only.
        "operations.view_dashboard",
        "channels_app.view_pause",
    ],
    AGENT: [
        # The contact-center console (/agent/): timeline, copy, actions. No
        # admin model permission: the admin shows contact data unmasked and
        # does not record who looked, the console masks and records.
        "console.use_console",
        "console.unmask_contact",
        "console.export_evidence",
        "console.view_feedback",
    ],
    OPERATOR: [
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        # A role or category permission is requested by one operator and
        # applied once another approves it (ccm.grants); nobody grants alone.
        "ccm.view_rolegrant",
        "ccm.add_rolegrant",
        "ccm.approve_rolegrant",
        "ccm.view_heartbeat",
        "ccm.view_usersettings",
        "audit.view_auditevent",
        # Sign-in: unlock an account early, remove a lost authenticator app
        # (its keys are never shown: OTP_ADMIN_HIDE_SENSITIVE_DATA).
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        "templates_app.view_category",
        "templates_app.manage_category_permissions",
        # Kind and required approvals change only once a Reviewer approves.
        "templates_app.add_category",
        "templates_app.change_category",
        "templates_app.view_categorychange",
        "channels_app.view_customer",
        "channels_app.change_customer",
        "channels_app.view_preferenceentry",
        "channels_app.view_suppression",
        "channels_app.add_suppression",
        "channels_app.add_communication",
        "channels_app.view_communication",
        "channels_app.view_dispatch",
        "channels_app.change_dispatch",
        "channels_app.view_escalation",
        "channels_app.change_escalation",
        "channels_app.view_batch",
        "channels_app.add_batch",
        "channels_app.change_batch",
        "rules.view_rule",
        "rules.add_rule",
        "rules.change_rule",
        "console.use_console",
        "console.unmask_contact",
        "console.export_evidence",
        "console.view_feedback",
        "operations.view_dashboard",
        "operations.operate",
        "channels_app.view_pause",
        "channels_app.add_pause",
        "channels_app.change_pause",
        "channels_app.view_severitypolicy",
        "channels_app.add_severitypolicy",
        "channels_app.change_severitypolicy",
        "channels_app.view_incident",
        "channels_app.change_incident",
    ],
    # Upstream systems: one user (and API token) per client system.
    API_CLIENT: [
        "channels_app.add_communication",
        "channels_app.view_customer",
        "channels_app.add_customer",
        "channels_app.change_customer",
    ],
}

# The template inventory is read by authors, reviewers and operators alike;
# operators start an analysis outside its nightly run.
INVENTORY_READ = [
    "inventory.view_inventoryrun",
    "inventory.view_inventoryitem",
    "inventory.view_duplicatepair",
    "inventory.view_paragraphcandidate",
    "templates_app.view_recertification",
]
for _role in (AUTHOR, REVIEWER, OPERATOR):
    ROLE_PERMISSIONS[_role] += INVENTORY_READ
ROLE_PERMISSIONS[OPERATOR].append("inventory.run_inventory")

# Operators see what is kept and held, and may start a retention run; the
# records manager (a data-protection or legal officer) decides how long things
# are kept and places holds. A hold is released, and a shorter retention
# period approved, by a second records manager (enforced by retention.holds
# and retention.classes).
RETENTION_READ = [
    "retention.view_retentionclass",
    "retention.view_retentionclasschange",
    "retention.view_legalhold",
    "retention.view_retentionrun",
]
ROLE_PERMISSIONS[OPERATOR] += [*RETENTION_READ, "retention.run_retention"]
ROLE_PERMISSIONS[RECORDS_MANAGER] = [
    *RETENTION_READ,
    "retention.run_retention",
    "retention.add_retentionclass",
    "retention.change_retentionclass",
    "retention.approve_retentionclasschange",
    "retention.add_legalhold",
    "retention.release_legalhold",
    "audit.view_auditevent",
    "templates_app.view_category",
    "templates_app.view_template",
    "templates_app.view_templateversion",
    "channels_app.view_customer",
    "operations.view_dashboard",
]

# Data subjects' rights: the records manager erases and exports on a
# customer's request; operators see the requests.
ROLE_PERMISSIONS[OPERATOR].append("subject_rights.view_erasurerequest")
ROLE_PERMISSIONS[RECORDS_MANAGER] += [
    "subject_rights.view_erasurerequest",
    "subject_rights.add_erasurerequest",
    "subject_rights.export_subject_data",
]


def roles_sync(apps, schema_editor=None, *, strict: bool = False) -> None:
    """Create the role groups and set exactly their declared permissions.

    Usable from data migrations (historical `apps`, where models of apps not yet
    migrated are skipped) and, strictly, after every `migrate` (post_migrate),
    where a declared permission that does not exist is an error.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Historical app configs have no models module, and create_permissions
        # skips such apps; permissions must exist before groups can hold them.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        permissions = []
        for name in names:
            app_label, codename = name.split(".", 1)
            try:
                permissions.append(
                    permission_model.objects.get(
                        content_type__app_label=app_label, codename=codename
                    )
                )
            except permission_model.DoesNotExist:
                if strict:
                    raise LookupError(
                        f"role {role}: permission {name} does not exist"
                    ) from None
        group.permissions.set(permissions)

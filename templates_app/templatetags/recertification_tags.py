"""The dashboard's re-certification flag."""

from django import template

from templates_app.recertification_admin import flags

register = template.Library()


@register.inclusion_tag(
    "admin/templates_app/recertification_flags.html", takes_context=True
)
def recertification_flags(context):
    """Show versions in force whose certification expired or expires soon."""
    request = context["request"]
    user = request.user
    if not user.has_perm("templates_app.view_templateversion"):
        return {"show": False}
    return {"show": True, **flags(user)}

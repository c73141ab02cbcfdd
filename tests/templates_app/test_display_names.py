"""Templates, blocks and categories named in Arabic and English, by the reader."""

import pytest
from django.utils import translation

from audit.models import AuditEvent
from templates_app import services
from templates_app.models import Category, ContentBlock, Status, Template
from tests.factories import user_build
from tests.templates_app.conftest import make_template

pytestmark = pytest.mark.django_db


def test_a_name_is_shown_in_the_readers_language_else_the_other_one():
    named = Template(name="Payment reminder", name_ar="تذكير بالدفع")
    english_only = ContentBlock(name="Legal footer")

    with translation.override("ar"):
        assert named.display_name == "تذكير بالدفع"
        assert english_only.display_name == "Legal footer"
        assert str(Category(name="Collections", name_ar="التحصيل")) == "التحصيل"
    with translation.override("en"):
        assert named.display_name == "Payment reminder"
        assert str(named.__class__(name="Payment reminder", code="pr")) == (
            "Payment reminder (pr)"
        )


def test_renaming_a_template_needs_no_approval_and_is_audited(category, author):
    version = make_template(
        category,
        author,
        contents=[("sms", "en", {"sms_text": "Hi {{ name }}"})],
        channels=["sms"],
    )
    template = version.template

    template.name_ar = "تذكير"
    services.template_save(template=template, actor=author)

    event = AuditEvent.objects.filter(action="templates.template.changed").latest(
        "sequence"
    )
    assert event.before == {"name_ar": ""}
    assert event.after == {"name_ar": "تذكير"}
    version.refresh_from_db()
    assert version.status == Status.DRAFT
    assert Template.objects.get(pk=template.pk).name_ar == "تذكير"


def test_renaming_a_block_is_audited(db):
    editor = user_build(username="editor", role="Author")
    block = services.block_save(
        block=ContentBlock(code="footer", name="Footer"), actor=editor
    )

    block.name_ar = "التذييل"
    services.block_save(block=block, actor=editor)

    event = AuditEvent.objects.filter(action="templates.content_block.changed").latest(
        "sequence"
    )
    assert event.after == {"name_ar": "التذييل"}

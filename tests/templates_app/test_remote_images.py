"""Remote images in email HTML: stripped unless the category allows them.

A remote image (a tracking pixel) tells its host who opened the email, when
and from where. The email is read as the SMTP server received it.
"""

import pytest

from channels_app.dispatching import communication_trigger
from channels_app.tasks import outbox_pump
from customers.services import customer_upsert
from templates_app import categories, services
from tests.templates_app.conftest import grant, make_template

pytestmark = pytest.mark.django_db

TRACKER = "https://tracker.example/p.gif"
HTML = (
    f'<p>Hello {{{{ name }}}}</p><img src="{TRACKER}" width="1" height="1" alt="">'
    '<img src="cid:logo" alt="Gulf Mutual">'
)


def _received(smtp_sink, category, author, reviewer, code: str):
    version = make_template(
        category,
        author,
        code=code,
        contents=[("email", "en", {"subject": "Hi", "html": HTML})],
        channels=["email"],
    )
    grant(category, "review_category", reviewer)
    services.version_submit(version=version, actor=author)
    services.version_approve(version=version, actor=reviewer, comment="ok")
    customer, _ = customer_upsert(
        external_id=f"CUST-{code}",
        name="Huda",
        email=f"{code}@example.com",
        language="en",
    )
    communication = communication_trigger(
        template_code=code,
        customer=customer,
        data={"name": "Huda"},
        channels=["email"],
        requester_label="test",
    )
    outbox_pump()
    dispatch = communication.dispatches.get()
    [message] = [
        m for m in smtp_sink.messages if m["X-CCM-Dispatch"] == str(dispatch.pk)
    ]
    return message.get_body(("html",)).get_content(), dispatch


def test_a_remote_image_is_stripped_from_the_email_sent(
    smtp_sink, category, author, reviewer
):
    html, dispatch = _received(smtp_sink, category, author, reviewer, "pixel")

    assert "tracker.example" not in html
    assert "tracker.example" not in dispatch.body_html
    # The attached image stays; the stripped one keeps its size and alt text.
    assert 'src="cid:logo"' in html
    assert "Hello Huda" in html


def test_a_category_that_allows_remote_images_keeps_them(
    smtp_sink, category, author, reviewer
):
    categories.category_update(category=category, actor=None, allow_remote_images=True)

    html, _ = _received(smtp_sink, category, author, reviewer, "pixel-allowed")

    assert f'src="{TRACKER}"' in html


def test_the_preview_an_author_sees_strips_it_too(category, author):
    from templates_app.preview import version_preview
    from templates_app.validation import ContentDraft

    version = make_template(
        category,
        author,
        code="pixel-preview",
        contents=[("email", "en", {"subject": "Hi", "html": HTML})],
        channels=["email"],
    )
    draft = ContentDraft("email", "en", {"subject": "Hi", "html": HTML})

    [pane] = version_preview(version=version, drafts=[draft])["panes"]

    assert pane["ok"] and "tracker.example" not in pane["html"]

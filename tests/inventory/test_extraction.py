"""A paragraph repeated across templates becomes a block, through review."""

import pytest

from audit.models import AuditEvent
from inventory.analysis import inventory_analyse
from inventory.extraction import paragraph_extract
from inventory.models import ParagraphCandidate
from templates_app import selectors, services
from templates_app.models import ContentBlock, Status
from tests.inventory.conftest import email

pytestmark = pytest.mark.django_db

CARE = (
    "If you have any question about your policy, our customer care team is "
    "available Sunday to Thursday from 8 am to 8 pm."
)


@pytest.fixture
def shared(template_make, author, reviewer):
    """Two approved templates in force that share the care paragraph."""
    versions = []
    for code, opening in (
        ("motor-welcome", "Welcome to your motor cover, {{ name }}."),
        ("home-welcome", "Welcome to your home cover, {{ name }}, from today on."),
    ):
        template = template_make(
            code, {("email", "en"): email("Welcome", opening, CARE)}
        )
        version = template.versions.get()
        services.version_submit(version=version, actor=author)
        services.version_approve(version=version, actor=reviewer)
        versions.append(version)
    inventory_analyse()
    return versions


def _candidate() -> ParagraphCandidate:
    return ParagraphCandidate.objects.get(text__startswith="If you have any question")


def test_extraction_drafts_the_block_and_template_drafts_that_use_it(shared, author):
    candidate = _candidate()

    result = paragraph_extract(
        candidate=candidate, actor=author, code="care-line", name="Care line"
    )

    block = ContentBlock.objects.get(code="care-line")
    assert result.block == block
    assert result.block_version.status == Status.IN_REVIEW
    assert CARE in result.block_version.contents.get(language="en").html
    assert len(result.versions) == 2
    originals = {version.template_id: version for version in shared}
    for version in result.versions:
        original = originals[version.template_id]
        version.refresh_from_db()
        assert version.status == Status.IN_REVIEW
        assert version.based_on == original
        html = version.contents.get(channel="email", language="en").html
        assert '{{ block("care-line") }}' in html
        assert CARE not in html
        assert {pin.block_version for pin in version.pins.all()} == {
            result.block_version
        }
        # What is sent does not change until reviewers approve the drafts.
        assert selectors.version_in_force(version.template) == original
    candidate.refresh_from_db()
    assert candidate.extracted_block == block
    event = AuditEvent.objects.get(action="inventory.paragraph.extracted")
    assert event.actor == author and len(event.after["versions"]) == 2


def test_extraction_is_all_or_nothing_when_a_template_has_an_open_draft(shared, author):
    services.version_draft_create(template=shared[1].template, author=author)

    with pytest.raises(services.AuthoringError):
        paragraph_extract(
            candidate=_candidate(), actor=author, code="care-line", name="Care line"
        )

    assert not ContentBlock.objects.filter(code="care-line").exists()
    assert shared[0].template.versions.count() == 1


def test_the_extract_page_refuses_a_taken_code_then_drafts_for_review(
    client, shared, author
):
    services.block_save(block=ContentBlock(code="taken", name="Taken"), actor=None)
    client.force_login(author)
    url = f"/admin/inventory/paragraphcandidate/{_candidate().pk}/extract/"

    taken = client.post(url, {"code": "taken", "name": "Care line"})
    assert taken.status_code == 200
    assert "exists already" in taken.content.decode()

    bad = client.post(url, {"code": "Not A Code!", "name": "Care line"})
    assert bad.status_code == 200
    assert not ContentBlock.objects.filter(name="Care line").exists()

    done = client.post(url, {"code": "care-line", "name": "Care line"})
    assert done.status_code == 302
    assert "status__exact=in_review" in done["Location"]
    queue = client.get(done["Location"])
    assert {v.template.code for v in queue.context["cl"].result_list} == {
        "motor-welcome",
        "home-welcome",
    }

    again = client.get(url)
    assert "already extracted" in again.content.decode()

"""What differs between template versions and block versions in the one workflow.

A `Kind` says who authors and reviews a version, what submission validates,
freezes and hashes, how its hash is checked, whose quorum applies and what an
approval supersedes; `templates_app.workflow` does the rest the same way for
both.
"""

from collections.abc import Callable, Mapping

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from templates_app import permissions, selectors
from templates_app.blocks import block_content_problems
from templates_app.drafting import contents_of, version_pins_refresh, version_validate
from templates_app.errors import WorkflowRefused
from templates_app.hashing import (
    block_hash_mismatches,
    block_version_hash,
    version_hash_mismatches,
)
from templates_app.models import (
    Category,
    ContentBlockVersion,
    Status,
    TemplateVersion,
    WorkflowVersion,
)
from templates_app.notifications import site_link
from templates_app.supersession import blocks_supersede_older, schedule_resolve
from templates_app.transitions import transition_record

# What an approval does besides the status: extra fields to save, extra
# audit data, and what to do once the version is approved.
Effects = tuple[list[str], dict, Callable[[], None]]


class Kind:
    """What the workflow needs to know about one kind of reviewed version."""

    model: type[WorkflowVersion]
    action: str
    related: tuple[str, ...]
    change_url: str
    review_url: str

    def lock(self, subject: WorkflowVersion) -> WorkflowVersion:
        return (
            self.model.objects.select_for_update(of=("self",))
            .select_related(*self.related)
            .get(pk=subject.pk)
        )

    def author_check(self, actor: AbstractBaseUser, subject) -> None:
        raise NotImplementedError

    def review_check(self, actor: AbstractBaseUser, subject) -> None:
        raise NotImplementedError

    def category(self, subject) -> Category | None:
        raise NotImplementedError

    def editors(self, subject) -> set[int]:
        raise NotImplementedError

    def lineage(self, subject) -> Mapping[int, WorkflowVersion]:
        return {}

    def reviewers(self, subject) -> QuerySet:
        raise NotImplementedError

    def freeze(self, subject, actor: AbstractBaseUser) -> list[str]:
        """Validate and freeze a draft being submitted; return the fields set."""
        raise NotImplementedError

    def hash_mismatches(self, subject) -> list[str]:
        raise NotImplementedError

    def approve_guard(self, subject) -> None:
        """Refuse an approval for a reason particular to the kind."""

    def approval_effects(self, subject, actor, now) -> Effects:
        return [], {}, lambda: None

    def retire_effects(self, subject, now) -> tuple[list[str], dict]:
        return [], {}

    def required_approvals(self, subject) -> int:
        """Return how many distinct reviewers must approve: the category's quorum."""
        category = self.category(subject)
        return max(category.required_approvals, 1) if category is not None else 1

    def review_link(self, subject) -> str:
        return site_link(self.review_url, subject.pk)

    def change_link(self, subject) -> str:
        return site_link(self.change_url, subject.pk)


class VersionKind(Kind):
    model = TemplateVersion
    action = "templates.version"
    related = ("template__category", "category", "author")
    change_url = "admin:templates_app_templateversion_change"
    review_url = "admin:templates_app_templateversion_review"

    def author_check(self, actor, subject):
        permissions.author_check(actor, subject.template.category)

    def review_check(self, actor, subject):
        # The category the version would be sent under, which may be new to it.
        permissions.review_check(actor, subject.category)

    def category(self, subject):
        return subject.category

    def editors(self, subject):
        return selectors.version_editors(subject)

    def lineage(self, subject):
        return selectors.version_lineage_writers(subject)

    def reviewers(self, subject):
        return selectors.category_reviewers(subject.category)

    def freeze(self, subject, actor):
        report = version_validate(version=subject, contents=contents_of(subject))
        if not report.ok:
            raise WorkflowRefused(
                _("The content is not valid: %(errors)s")
                % {"errors": "; ".join(str(p) for p in report.errors)},
                rule="validation",
            )
        # Pin the block versions the author last previewed with, then freeze.
        version_pins_refresh(subject, actor=actor)
        unreviewable = [
            pin.block_version
            for pin in subject.pins.select_related("block_version__block")
            if pin.block_version.status
            not in (Status.IN_REVIEW, Status.APPROVED, Status.SUPERSEDED)
        ]
        if unreviewable:
            raise WorkflowRefused(
                _("Submit the pinned block versions first: %(blocks)s")
                % {"blocks": ", ".join(str(b) for b in unreviewable)},
                rule="blocks",
            )
        return []

    def hash_mismatches(self, subject):
        return version_hash_mismatches(subject)

    def approve_guard(self, subject):
        unapproved = [
            pin.block_version
            for pin in subject.pins.select_related("block_version__block")
            if pin.block_version.status not in (Status.APPROVED, Status.SUPERSEDED)
        ]
        if unapproved:
            raise WorkflowRefused(
                _("The pinned block versions must be approved first: %(blocks)s")
                % {"blocks": ", ".join(str(b) for b in unapproved)},
                rule="blocks",
            )

    def approval_effects(self, subject, actor, now):
        ended = schedule_resolve(subject, now)

        def supersede_ended() -> None:
            for previous in ended:
                transition_record(
                    previous,
                    target=Status.SUPERSEDED,
                    actor=actor,
                    action="templates.version.superseded",
                    comment=_("Superseded by v%(number)s") % {"number": subject.number},
                )

        return (
            ["effective_from", "effective_until"],
            {
                "effective_from": subject.effective_from.isoformat(),
                "effective_until": subject.effective_until
                and subject.effective_until.isoformat(),
            },
            supersede_ended,
        )

    def retire_effects(self, subject, now):
        end = max(now, subject.effective_from or now)
        if subject.effective_until is None or subject.effective_until > end:
            subject.effective_until = end
        return ["effective_until"], {
            "effective_until": subject.effective_until.isoformat()
        }


class BlockKind(Kind):
    model = ContentBlockVersion
    action = "templates.block"
    related = ("block__category", "author")
    change_url = "admin:templates_app_contentblockversion_change"
    review_url = "admin:templates_app_contentblockversion_change"

    def author_check(self, actor, subject):
        permissions.block_author_check(actor)

    def review_check(self, actor, subject):
        permissions.block_review_check(actor)

    def category(self, subject):
        return subject.block.category

    def editors(self, subject):
        return selectors.block_version_editors(subject)

    def lineage(self, subject):
        return selectors.block_lineage_writers(subject)

    def reviewers(self, subject):
        return selectors.block_reviewers()

    def freeze(self, subject, actor):
        problems = block_content_problems(
            (c.language, c.html, c.text) for c in subject.contents.all()
        )
        if problems or not subject.contents.exists():
            raise WorkflowRefused(
                _("The content is not valid: %(errors)s")
                % {"errors": "; ".join(problems) or _("no content")},
                rule="validation",
            )
        subject.content_hash = block_version_hash(subject)
        return ["content_hash"]

    def hash_mismatches(self, subject):
        return block_hash_mismatches(subject)

    def approval_effects(self, subject, actor, now):
        return [], {}, lambda: blocks_supersede_older(subject, actor=actor)


VERSIONS = VersionKind()
BLOCKS = BlockKind()


def kind_of(subject: WorkflowVersion) -> Kind:
    """Return the adapter of a template or block version."""
    return VERSIONS if isinstance(subject, TemplateVersion) else BLOCKS

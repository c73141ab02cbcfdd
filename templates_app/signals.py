"""Domain signals of the review workflow, so other apps react without being imported.

Each is sent after the transaction that made the change commits, with
`sender` the model class (TemplateVersion or ContentBlockVersion), `version`
the row as it was saved and `actor` the user (None for the system).
"""

from django.dispatch import Signal

version_submitted = Signal()
version_withdrawn = Signal()
version_approved = Signal()
version_rejected = Signal()
version_retired = Signal()
version_superseded = Signal()

BY_STATUS = {
    "in_review": version_submitted,
    "draft": version_withdrawn,
    "approved": version_approved,
    "rejected": version_rejected,
    "retired": version_retired,
    "superseded": version_superseded,
}

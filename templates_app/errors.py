"""The refusals of template authoring and of the review workflow."""

from templates_app.validation import ValidationReport


class AuthoringError(Exception):
    """A template authoring change was refused."""


class VersionNotEditable(AuthoringError):
    """The version is no longer a draft, so its content is frozen."""


class AuthoringForbidden(AuthoringError):
    """The actor lacks the permission the change needs."""


class VersionInvalid(AuthoringError):
    """The submitted content failed validation."""

    def __init__(self, report: ValidationReport):
        super().__init__("; ".join(str(problem) for problem in report.errors))
        self.report = report


class WorkflowRefused(AuthoringError):
    """A workflow change was refused; `rule` names the rule it broke."""

    def __init__(self, message: str, *, rule: str):
        super().__init__(message)
        self.rule = rule

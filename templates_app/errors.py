"""The refusals of template authoring and of the review workflow."""

from ccm.problems import Problem
from templates_app.validation import ValidationReport


class AuthoringError(Exception):
    """A template authoring change was refused.

    Given a `Problem`, it keeps its code (`problem`) and is worded when shown.
    """

    def __init__(self, message: Problem | str):
        super().__init__(message)
        self.problem = message if isinstance(message, Problem) else None

    def __str__(self) -> str:
        return str(self.args[0])


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

    def __init__(self, message: Problem | str, *, rule: str):
        super().__init__(message)
        self.rule = rule

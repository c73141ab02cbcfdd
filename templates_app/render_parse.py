"""What the sandbox refuses when a source is parsed, and the loops it budgets.

Checked on the parsed tree, before anything is compiled: no loader tags, only
the vetted filters and Jinja's own tests, no names starting with "_" or
`self`; every for-loop is routed through the budget.
"""

from django.utils.translation import gettext as _
from jinja2 import TemplateSyntaxError, nodes
from jinja2.defaults import DEFAULT_TESTS

from templates_app.render_filters import VETTED_FILTERS

FORBIDDEN_NODES = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
    nodes.Extends: "extends",
    nodes.Block: "block … endblock",
}


class SourceChecker:
    """Refuse forbidden constructs and route every for-loop through a budget."""

    def __init__(self, source_name: str | None):
        self.name = source_name

    def apply(self, tree: nodes.Template) -> nodes.Template:
        for node_type, label in FORBIDDEN_NODES.items():
            for node in tree.find_all(node_type):
                raise TemplateSyntaxError(
                    _(
                        "{%% %(tag)s %%} is not allowed; include content blocks"
                        ' with {{ block("code") }}.'
                    )
                    % {"tag": label},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Filter):
            if node.name not in VETTED_FILTERS:
                raise TemplateSyntaxError(
                    _(
                        "There is no filter named %(name)s here; the filters are:"
                        " %(names)s."
                    )
                    % {"name": node.name, "names": ", ".join(sorted(VETTED_FILTERS))},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Test):
            if node.name not in DEFAULT_TESTS:
                raise TemplateSyntaxError(
                    _("There is no test named %(name)s (in “is %(name)s”).")
                    % {"name": node.name},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Getattr):
            if node.attr.startswith("_"):
                raise TemplateSyntaxError(
                    _("Names starting with '_' are not allowed (%(name)s).")
                    % {"name": node.attr},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith(
                "_"
            ):
                raise TemplateSyntaxError(
                    _("Names starting with '_' are not allowed (%(name)s).")
                    % {"name": node.arg.value},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Name):
            if node.name == "self":
                raise TemplateSyntaxError(
                    _("The name 'self' is reserved and cannot be used."),
                    node.lineno,
                    self.name,
                )
            if node.name.startswith("_"):
                raise TemplateSyntaxError(
                    _("Names starting with '_' are not allowed (%(name)s).")
                    % {"name": node.name},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.For):
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"),
                [node.iter],
                [],
                None,
                None,
                lineno=node.lineno,
            )
        return tree

"""The apps import each other in one direction: core ← accounts_app ← workflow ← crm ← coverage
← api. A lower app that must tell a higher one something calls a hook in core.hooks that the
higher app connects in its AppConfig.ready(). This reads every module's source (imports inside
functions included) so that an import the wrong way fails here rather than in review."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. crm sits below coverage: coverage uses crm's HTTP transport (its Slack post),
# while crm tells coverage a pull finished through core.hooks.pull_finished.
LAYERS = ["core", "accounts_app", "workflow", "crm", "coverage", "api"]


def imported_apps(path: Path) -> list[tuple[int, str]]:
    """(line, app) for each absolute import of one of the apps in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.extend((node.lineno, name.split(".")[0]) for name in names)
    return [(line, app) for line, app in found if app in LAYERS]


def upward_imports(app: str) -> list[str]:
    rank = LAYERS.index(app)
    return [
        f"{path.relative_to(ROOT)}:{line} imports {other}"
        for path in sorted((ROOT / app).rglob("*.py"))
        for line, other in imported_apps(path)
        if LAYERS.index(other) > rank
    ]


@pytest.mark.parametrize("app", LAYERS)
def test_an_app_imports_no_app_above_it(app):
    assert upward_imports(app) == []


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from workflow.models import Cycle\n    import crm.tasks\n")

    assert imported_apps(module) == [(2, "workflow"), (3, "crm")]

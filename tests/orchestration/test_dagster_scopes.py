"""Every Dagster context or instance our code and tests open is closed by a ``with`` block.

Why: a schedule context built outside ``with`` enters a DagsterInstance for its resources and
never leaves it, so the instance's ``set_defs_state_storage`` generator is closed later by the
garbage collector, which then resets a ContextVar. On CPython before 3.12 a ContextVar set or
reset from inside a collection that began in the middle of another ContextVar set frees the
context's HAMT while it is still being read (CPython gh-148891): a CI worker segfaulted so in
``test_revocation_refresh.py`` three runs out of several. Closing each scope keeps every reset out
of the collector.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("orchestration", "edge_insights", "tests", "benchmarks")
#: Dagster functions that open a scope: a context holding resources (and an instance), or an instance.
CONTEXT_OPENERS = {"build_schedule_context", "build_sensor_context", "build_op_context", "build_asset_context",
                   "build_init_resource_context", "build_hook_context", "build_input_context",
                   "build_output_context", "build_resources", "instance_for_test"}
#: ``DagsterInstance.<name>()`` class methods that return an instance to be entered and left.
INSTANCE_OPENERS = {"ephemeral", "from_ref", "get", "local_temp_package_instance"}


def _opener(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in CONTEXT_OPENERS:
        return name
    owner = func.value if isinstance(func, ast.Attribute) else None
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
    return name if name in INSTANCE_OPENERS and owner_name == "DagsterInstance" else None


def unscoped_openers(source: str) -> list[tuple[int, str]]:
    """(line, name) of each Dagster scope opened in ``source`` other than as a ``with`` item."""
    tree = ast.parse(source)
    scoped = {id(item.context_expr) for node in ast.walk(tree) if isinstance(node, (ast.With, ast.AsyncWith))
              for item in node.items}
    return [(node.lineno, name) for node in ast.walk(tree)
            if isinstance(node, ast.Call) and (name := _opener(node)) and id(node) not in scoped]


def test_the_checker_finds_a_scope_opened_outside_with():
    assert unscoped_openers("ctx = dg.build_schedule_context(instance=i)\n") == [(1, "build_schedule_context")]
    assert unscoped_openers("with dg.build_sensor_context() as c, dg.DagsterInstance.get() as i:\n    pass\n") == []
    assert unscoped_openers("x = dg.DagsterInstance.ephemeral()\ny = settings.get('a')\n") == [(1, "ephemeral")]


def test_every_dagster_scope_is_opened_by_a_with_block():
    found = [f"{path.relative_to(ROOT)}:{line} {name}" for folder in FOLDERS
             for path in sorted((ROOT / folder).rglob("*.py"))
             for line, name in unscoped_openers(path.read_text(encoding="utf-8"))]
    assert found == []

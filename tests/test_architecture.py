"""The house rules (issue 11), checked from the source: sizes, import cycles, lazy imports.

Limits: no module in ``controller/`` or ``agent/`` over 600 lines, no class over 400, no function
over 80 (data tables, message catalogues and migrations aside), no import cycle between modules,
and an import inside a function only in a command-line module (where it keeps ``--help`` fast).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("controller", "agent", "protocol", "policy", "common")
SIZED = ("controller", "agent")
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 80

# Data tables and migrations: long by nature, no logic to split.
EXEMPT_PARTS = ("migrations",)
LAZY_IMPORTS_ALLOWED = ("cli.py", "__main__.py")


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        base = ROOT / package
        if base.is_dir():
            yield from sorted(base.rglob("*.py"))


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _exempt(path: Path) -> bool:
    return any(part in EXEMPT_PARTS for part in path.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _sized_modules() -> list[Path]:
    return [p for p in _modules() if p.relative_to(ROOT).parts[0] in SIZED and not _exempt(p)]


def test_no_module_over_the_limit() -> None:
    """No module in controller/ or agent/ is over 600 lines."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sized_modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def _span(node: ast.AST) -> int:
    end = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
    start = node.lineno  # type: ignore[attr-defined]
    decorators = getattr(node, "decorator_list", [])
    if decorators:
        start = min(start, *(d.lineno for d in decorators))
    return int(end) - int(start) + 1


def _is_data_table(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function whose body is one return of a literal (a table), beside its docstring."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return (
        len(body) == 1
        and isinstance(body[0], ast.Return)
        and isinstance(body[0].value, ast.Dict | ast.List | ast.Tuple)
    )


def test_no_class_or_function_over_the_limit() -> None:
    """No class over 400 lines, no function over 80 (data tables aside)."""
    found: dict[str, int] = {}
    for path in _sized_modules():
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ClassDef) and _span(node) > MAX_CLASS_LINES:
                found[f"{rel}: class {node.name}"] = _span(node)
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and _span(node) > MAX_FUNCTION_LINES
                and not _is_data_table(node)
            ):
                found[f"{rel}: def {node.name}"] = _span(node)
    assert found == {}


def _imports(path: Path, *, top_level_only: bool) -> Iterator[tuple[str, ast.stmt]]:
    tree = _tree(path)
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:
            # `if TYPE_CHECKING:` blocks are not imports at run time.
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, node
            for alias in node.names:
                yield f"{target}.{alias.name}", node


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _node in _imports(path, top_level_only=True):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Edges between modules, a package counted apart from its own __init__ re-exports."""
    return {
        name: {t for t in targets if not name.startswith(t + ".")}
        for name, targets in graph.items()
    }


def test_no_import_cycle() -> None:
    """No two modules import each other, directly or around a loop."""
    assert _cycles(_package_edges(_graph())) == []


def _lazy_imports(path: Path) -> Iterator[ast.Import | ast.ImportFrom]:
    for func in ast.walk(_tree(path)):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield node


def test_imports_inside_functions_only_in_command_lines() -> None:
    """A lazy import (one inside a function) only in a CLI module, never to dodge a cycle."""
    found: set[str] = set()
    for path in _modules():
        if path.name in LAZY_IMPORTS_ALLOWED or _exempt(path):
            continue
        for node in _lazy_imports(path):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            if any(n.startswith(".") or n.split(".")[0] in PACKAGES for n in names):
                found.add(f"{path.relative_to(ROOT)}:{node.lineno} imports {', '.join(names)}")
    assert sorted(found) == []


@pytest.mark.parametrize("package", ["controller", "agent"])
def test_the_checks_see_the_code(package: str) -> None:
    """The checks above look at real modules (a moved tree would make them vacuous)."""
    assert len([p for p in _sized_modules() if p.relative_to(ROOT).parts[0] == package]) > 10


# --- a domain reaches another only through its front doors (ADR 0006) ----------------------------

DOMAINS = frozenset({"fleet", "trust", "loans", "schedules", "remediation", "tickets"})
# What any domain may import of another: its service and read queries, the schemas and errors it
# answers with, and its pure cores.
FRONT_DOORS = frozenset(
    {"service", "queries", "schemas", "errors", "lifecycle", "machine", "model"}
)
# Domains whose front door is several services rather than one `service.py`.
MORE_FRONT_DOORS = {
    "trust": frozenset({"enrolment", "staff", "pki", "crl"}),
    "remediation": frozenset({"bundles"}),  # the signed bundle store, whose key enrolment hands out
}
# Reading another domain's tables, where stated: the importing module and the domain it reads.
TABLES_FOR = {
    # The remediation reads what it acts on from the database: the fleet's kits, telemetry and
    # events are its input stream (ADR 0005), read in this one module.
    ("controller.remediation.fleet_reads", "fleet"),
}
# The signed-in member of staff is a `trust.tables.User` row wherever it is passed.
SHARED_ROWS = {("trust", "User")}


def _cross_domain_imports(path: Path) -> Iterator[tuple[str, str, set[str]]]:
    """(domain imported, its module, names imported) for each import of another domain."""
    own = _module_name(path).split(".")[1]
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            names = {a.name for a in node.names}
            if parts[0] != "controller" or len(parts) < 2 or parts[1] == own:
                continue
            if parts[1] not in DOMAINS:
                continue
            if len(parts) == 2:  # from controller.loans import queries, service
                for name in names:
                    yield parts[1], name, set()
            else:
                yield parts[1], parts[2], names
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "controller" and len(parts) > 2 and parts[1] in DOMAINS - {own}:
                    yield parts[1], parts[2], set()


def _allowed(importer: str, domain: str, module: str, names: set[str]) -> bool:
    if module in FRONT_DOORS or module in MORE_FRONT_DOORS.get(domain, frozenset()):
        return True
    if module != "tables":
        return False
    if importer.endswith(".tables") or (importer, domain) in TABLES_FOR:
        return True  # a foreign key names the other domain's table; or stated above
    return bool(names) and all((domain, name) in SHARED_ROWS for name in names)


def test_domains_meet_only_at_their_front_doors() -> None:
    """A controller domain imports another's service, queries, schemas, errors or pure core only."""
    reached_in = sorted(
        f"{_module_name(path)} -> controller.{domain}.{module}"
        + (f" ({', '.join(sorted(names))})" if names else "")
        for path in _modules()
        if _module_name(path).split(".")[:2][-1] in DOMAINS
        and _module_name(path).startswith("controller.")
        for domain, module, names in _cross_domain_imports(path)
        if not _allowed(_module_name(path), domain, module, names)
    )
    assert not reached_in, "imports past another domain's front door:\n" + "\n".join(reached_in)


def test_the_front_door_check_sees_a_violation() -> None:
    """The check refuses a domain reading another's tables or internals."""
    assert not _allowed("controller.schedules.kits", "loans", "tables", {"LoanContract"})
    assert not _allowed("controller.schedules.service", "loans", "people", {"cipher"})
    assert not _allowed("controller.remediation.evaluation", "fleet", "tables", {"Kit"})
    assert _allowed("controller.remediation.fleet_reads", "fleet", "tables", {"Kit"})
    assert _allowed("controller.schedules.service", "trust", "tables", {"User"})
    assert _allowed("controller.loans.tables", "fleet", "tables", {"Kit"})

"""Structure figures of issue #20, "measure before and after": the longest modules and functions,
imports of another app inside functions, imports that go up the planned layering, and the pairs
of repeated code the `duplicates` command finds outside migrations.

    .venv/bin/python bench/structure_report.py [--repo DIR] [--top 10] [--no-duplicates]

Reads source as text (ast); imports nothing of the project, so it works on any checkout, e.g. a
`git worktree` of an older commit for the "before" figures. tests/site/test_structure.py holds
the limits (MAX_MODULE_LINES, MAX_FUNCTION_LINES, no local cross-app imports) with the same walk.
"""

import argparse
import ast
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The planned layering, lowest first: an app may import only from apps below it.
LAYERS = ("accounts", "generation", "cameos", "provenance", "feed", "moderation", "api")
APPS = (*LAYERS,)
# Where the limits hold: the apps, the project package and the bench scripts.
PACKAGES = (*APPS, "sora_site", "bench")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Found:
    """One place in the code: `path:line`, what is there, and a size (lines) where it has one."""

    path: str
    line: int
    what: str
    size: int = 0

    def __str__(self) -> str:
        size = f" ({self.size} lines)" if self.size else ""
        return f"{self.path}:{self.line} {self.what}{size}"


def source_files(root: Path = ROOT) -> list[Path]:
    """Every non-test, non-migration Python file of PACKAGES under `root`."""
    files = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).parts
            if "migrations" in parts or "tests" in parts or path.name.startswith("test_"):
                continue
            files.append(path)
    return files


def owner_of(path: Path, root: Path = ROOT) -> str:
    """The package (app, `sora_site` or `bench`) a file belongs to."""
    return path.relative_to(root).parts[0]


def imported_apps(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project apps an import statement names (relative imports stay inside their app)."""
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module:
            return []
        names = [node.module]
    else:
        names = [alias.name for alias in node.names]
    return [name.split(".")[0] for name in names if name.split(".")[0] in APPS]


def _functions(tree: ast.AST):
    return (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def _qualified_names(tree: ast.AST) -> dict[ast.AST, str]:
    names = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                names[child] = name
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return names


def scan(root: Path = ROOT) -> dict[str, list[Found]]:
    """modules (line counts), functions (line counts, `def` to last line), local_imports (of
    another app inside a function; apps and sora_site) and upward (app imports against LAYERS,
    anywhere in the module)."""
    found: dict[str, list[Found]] = {"modules": [], "functions": [], "local_imports": [], "upward": []}
    for path in source_files(root):
        for kind, items in scan_file(path, root).items():
            found[kind].extend(items)
    # An import in a nested function is inside its outer function too: count each line once.
    for kind in ("local_imports", "upward"):
        found[kind] = sorted(set(found[kind]), key=lambda f: (f.path, f.line))
    return found


def scan_file(path: Path, root: Path) -> dict[str, list[Found]]:
    text = path.read_text()
    rel = str(path.relative_to(root))
    owner = owner_of(path, root)
    tree = ast.parse(text, filename=rel)
    names = _qualified_names(tree)
    found = {
        "modules": [Found(rel, 1, "module", len(text.splitlines()))],
        "functions": [],
        "local_imports": [],
    }
    for function in _functions(tree):
        found["functions"].append(
            Found(rel, function.lineno, names[function], function.end_lineno - function.lineno + 1)
        )
        if owner != "bench":
            found["local_imports"] += [
                Found(rel, node.lineno, f"{owner} imports {app}")
                for node, app in _imports(function)
                if app != owner
            ]
    found["upward"] = [
        Found(rel, node.lineno, f"{owner} imports {app}")
        for node, app in _imports(tree)
        if owner in LAYERS and LAYERS.index(app) > LAYERS.index(owner)
    ]
    return found


def _imports(tree: ast.AST):
    """(import node, app) for every project app an import under `tree` names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for app in imported_apps(node):
                yield node, app


def duplicate_pairs(root: Path = ROOT) -> tuple[int, int, list[str]]:
    """(pairs outside migrations, of those not marked boilerplate, the rows) from `duplicates`."""
    if shutil.which("duplicates") is None:
        return -1, -1, ["the `duplicates` command is not on PATH"]
    run = subprocess.run(
        ["duplicates", "--repo", str(root), "--most", "200", "--seconds", "120"],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = [line for line in run.stdout.splitlines() if line.startswith("D") and " ~ " in line]
    kept = [row for row in rows if "migrations/" not in row]
    return len(kept), sum("boilerplate" not in row for row in kept), kept


def report(root: Path, top: int, duplicates: bool) -> None:
    found = scan(root)
    modules = sorted(found["modules"], key=lambda f: -f.size)
    functions = sorted(found["functions"], key=lambda f: -f.size)
    print(f"{root}: {len(modules)} modules in {', '.join(PACKAGES)} (migrations and tests left out)")
    print(
        f"modules over {MAX_MODULE_LINES} lines: {sum(f.size > MAX_MODULE_LINES for f in modules)}; longest:"
    )
    for module in modules[:top]:
        print(f"  {module.size:5d}  {module.path}")
    print(
        f"functions over {MAX_FUNCTION_LINES} lines: {sum(f.size > MAX_FUNCTION_LINES for f in functions)}; longest:"
    )
    for function in functions[:top]:
        print(f"  {function.size:5d}  {function.path}:{function.line} {function.what}")
    local = found["local_imports"]
    print(f"imports of another app inside a function (apps and sora_site): {len(local)}")
    by_pair: dict[str, int] = {}
    for item in local:
        by_pair[item.what] = by_pair.get(item.what, 0) + 1
    for pair, count in sorted(by_pair.items(), key=lambda kv: -kv[1]):
        print(f"  {count:4d}  {pair}")
    upward = found["upward"]
    print(f"imports up the layering {' < '.join(LAYERS)}: {len(upward)}")
    for item in upward:
        print(f"  {item}")
    if duplicates:
        pairs, real, _ = duplicate_pairs(root)
        print(f"duplicates pairs outside migrations: {pairs} ({real} not marked boilerplate)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--top", type=int, default=10, help="how many of the longest to list")
    parser.add_argument("--no-duplicates", action="store_true", help="skip the `duplicates` run")
    args = parser.parse_args()
    report(args.repo.resolve(), args.top, not args.no_duplicates)


if __name__ == "__main__":
    main()

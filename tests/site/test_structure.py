"""The structure limits of issue #20, over every non-test, non-migration module of the apps,
sora_site and bench/: no module over 500 lines, no function over 60 lines, and no import of
another app inside a function in the apps and sora_site (such an import hides a dependency the
layering should show at module top; bench scripts must set up Django before importing models).

The walk is bench/structure_report.py's (which prints the same figures for any checkout)."""

import ast

import pytest

from bench.structure_report import (
    MAX_FUNCTION_LINES,
    MAX_MODULE_LINES,
    ROOT,
    imported_apps,
    owner_of,
    scan,
    source_files,
)


def fail_listing(title: str, found) -> None:
    if found:
        pytest.fail(f"{title}:\n" + "\n".join(f"  {item}" for item in found), pytrace=False)


def test_the_walk_covers_the_apps_sora_site_and_bench_but_not_migrations_or_tests():
    files = {str(path.relative_to(ROOT)) for path in source_files()}
    assert {"api/models.py", "sora_site/settings.py", "bench/structure_report.py"} <= files
    assert not any("/migrations/" in name or name.startswith("tests/") for name in files)
    assert owner_of(ROOT / "feed" / "views.py") == "feed"


def test_an_import_names_the_apps_it_reaches_and_relative_ones_stay_home():
    def apps(source: str) -> list[str]:
        return imported_apps(ast.parse(source).body[0])

    assert apps("from cameos.actions.consent import grant_cameo") == ["cameos"]
    assert apps("import feed.models, numpy") == ["feed"]
    assert apps("from .models import Post") == []
    assert apps("from django.conf import settings") == []


def test_the_walk_finds_long_functions_and_local_imports_of_other_apps(tmp_path):
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_FUNCTION_LINES))
    (tmp_path / "feed").mkdir()
    (tmp_path / "feed" / "actions.py").write_text(
        "from cameos.models import Cameo\n\n\n"
        f"def long():\n{body}\n\n\n"
        "def short():\n    from moderation import policy\n    from .models import Post\n    from feed import views\n"
    )
    (tmp_path / "feed" / "migrations").mkdir()
    (tmp_path / "feed" / "migrations" / "0001_initial.py").write_text(f"def long():\n{body}\n")
    found = scan(tmp_path)
    assert [(f.path, f.what, f.size) for f in found["functions"] if f.size > MAX_FUNCTION_LINES] == [
        ("feed/actions.py", "long", MAX_FUNCTION_LINES + 1)
    ]
    assert [str(f) for f in found["local_imports"]] == ["feed/actions.py:68 feed imports moderation"]
    assert [str(f) for f in found["upward"]] == ["feed/actions.py:68 feed imports moderation"]


def test_no_module_is_over_the_limit():
    found = scan()
    long = [item for item in found["modules"] if item.size > MAX_MODULE_LINES]
    fail_listing(f"modules over {MAX_MODULE_LINES} lines (split them by sub-domain)", long)


def test_no_function_is_over_the_limit():
    found = scan()
    long = [item for item in found["functions"] if item.size > MAX_FUNCTION_LINES]
    fail_listing(f"functions over {MAX_FUNCTION_LINES} lines", long)


def test_no_app_imports_another_inside_a_function():
    fail_listing(
        "imports of another app inside a function (move them to module top; an upward one "
        "becomes a signal or registry)",
        scan()["local_imports"],
    )

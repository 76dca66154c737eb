"""The shape of the app code (issue 14): no function longer than 60 lines, none more complex
than ruff's mccabe limit (10), no unused argument. Tests, migrations, bench/ and scripts/ aside.

A function is measured from its `def` line to its last line, docstring and nested functions
included (decorators not). There is no allowlist: a function over the limit is split into
named steps.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("signflow", "crm", "documents", "signing", "verification", "api", "webhooks", "bulk")
MAX_LINES = 60


def _app_files() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    )


def function_lengths(path: Path) -> list[tuple[str, int, int]]:
    """(name, first line, length in lines) of every function and method in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        (node.name, node.lineno, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def long_functions() -> dict[str, str]:
    """ "path:function" -> "path:line function (N lines)" for every function over MAX_LINES."""
    found = {}
    for path in _app_files():
        relative = path.relative_to(ROOT).as_posix()
        for name, line, length in function_lengths(path):
            if length > MAX_LINES:
                found[f"{relative}:{name}"] = f"{relative}:{line} {name} ({length} lines)"
    return found


def test_the_measure_counts_def_to_last_line(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(3))
    source = tmp_path / "m.py"
    source.write_text(f"@decorator\ndef f():\n    '''Doc.'''\n{body}\n\n\ndef g(): pass\n")
    assert function_lengths(source) == [("f", 2, 5), ("g", 9, 1)]


def test_no_function_is_longer_than_60_lines() -> None:
    offenders = list(long_functions().values())
    assert not offenders, (
        f"Functions longer than {MAX_LINES} lines (split them into named steps):\n"
        + "\n".join(sorted(offenders))
    )


@pytest.mark.skipif(
    not (Path(sys.executable).parent / "ruff").exists(), reason="ruff is not in this venv"
)
def test_no_complex_function_nor_unused_argument() -> None:
    """ruff's C90 (mccabe, max-complexity in pyproject.toml) and ARG, with the project's
    per-file-ignores (framework signatures only)."""
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--select", "C90,ARG", "--output-format", "concise", *APPS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

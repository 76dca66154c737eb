"""The shape of the app code (issue 14): no function longer than 60 lines, none more complex
than ruff's mccabe limit (10), no unused argument. Tests, migrations, bench/ and scripts/ aside.

A function is measured from its `def` line to its last line, docstring and nested functions
included (decorators not). The allowlist names the functions still too long, each with why; it
only shrinks.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("signflow", "crm", "documents", "signing", "verification", "api", "webhooks", "bulk")
MAX_LINES = 60

_PAGE = "being rewritten by page; removed when it lands"
_TYPES = "not split yet (helper types, issue 14)"

# "path:function" -> why it may stay longer than MAX_LINES for now.
ALLOWED_LONG: dict[str, str] = {
    "signing/signer_views.py:_sign_context": _PAGE,
}


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
    offenders = [shown for key, shown in long_functions().items() if key not in ALLOWED_LONG]
    assert not offenders, (
        f"Functions longer than {MAX_LINES} lines (split them into named steps):\n"
        + "\n".join(sorted(offenders))
    )


def test_the_allowlist_names_real_functions() -> None:
    """An entry whose function is gone or short again is a stale exemption: remove it."""
    found = long_functions()
    stale = sorted(key for key, why in ALLOWED_LONG.items() if why == _TYPES and key not in found)
    assert not stale, "No longer too long, remove from ALLOWED_LONG: " + ", ".join(stale)


@pytest.mark.skipif(
    not (Path(sys.executable).parent / "ruff").exists(), reason="ruff is not in this venv"
)
def test_no_complex_function_nor_unused_argument() -> None:
    """ruff's C90 (mccabe, max-complexity in pyproject.toml) and ARG, with the project's
    per-file-ignores (framework signatures, files other helpers are rewriting)."""
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--select", "C90,ARG", "--output-format", "concise", *APPS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

"""Every setting is defined once, in signflow/settings.py from the environment, and documented
in README's settings table; app code reads `settings.X`, never re-defaults it."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ["api", "bulk", "crm", "documents", "signflow", "signing", "verification", "webhooks"]


def _app_files() -> list[Path]:
    return [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and path.name not in {"settings.py", "settings_test.py"}
    ]


def test_app_code_never_re_defaults_a_setting() -> None:
    found = []
    for path in _app_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) == 3
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id == "settings"
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def _settings_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| variable | default | meaning |")
    lines = []
    for line in readme[start:].splitlines():
        if not line.startswith("|"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_every_variable_settings_reads_is_in_the_readme_table() -> None:
    source = (ROOT / "signflow" / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r'env_(?:str|int|bool|list)\(\s*"([A-Z0-9_]+)"', source))
    table = _settings_table()
    assert names, "settings.py reads no variable?"
    assert sorted(n for n in names if f"`{n}`" not in table) == []


def test_the_upload_limit_is_defined_once() -> None:
    copies = [
        str(path.relative_to(ROOT))
        for path in [*_app_files(), ROOT / "signflow" / "settings.py"]
        if "20 * 1024 * 1024" in path.read_text(encoding="utf-8")
    ]
    assert copies == ["signflow/settings.py"]

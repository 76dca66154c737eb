"""Exit 1, naming them, when pyproject.toml's dependencies are not all pinned in a lock file.

`python scripts/lock_check.py requirements-dev.lock` (make venv; tests/test_deploy.py). The lock
is stale when someone added or tightened a dependency and `make lock` has not run since.
"""

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def requirements(*, dev: bool) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = list(project["dependencies"])
    if dev:
        listed += project.get("optional-dependencies", {}).get("dev", [])
    return [Requirement(line) for line in listed]


def missing(lock: Path, *, dev: bool) -> list[str]:
    """Requirements the lock does not pin, or pins at a version outside their specifier."""
    pinned = pins(lock)
    problems = []
    for requirement in requirements(dev=dev):
        if requirement.marker and not requirement.marker.evaluate({"extra": "dev"}):
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement} is not in {lock.name}")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement} but {lock.name} pins {version}")
    return problems


def main() -> int:
    lock = ROOT / (sys.argv[1] if len(sys.argv) > 1 else "requirements-dev.lock")
    problems = missing(lock, dev="dev" in lock.name)
    for problem in problems:
        print(f"{lock.name} is stale: {problem} (run `make lock`)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

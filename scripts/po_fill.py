"""Fill French (and English plural/identity) catalog entries from a JSON file, then compile.

    .venv/bin/python scripts/po_fill.py translations.json

The JSON maps each English msgid to its French msgstr. Every French catalog of the project that
holds the msgid gets it (only where msgstr is empty or fuzzy, unless --force). Run it after
`make messages`, under `flock /tmp/sf-po.lock` when several people share the tree.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import polib

BASE = Path(__file__).resolve().parent.parent


def catalogs(language: str) -> list[Path]:
    found = list((BASE / "locale" / language / "LC_MESSAGES").glob("django*.po"))
    for child in BASE.iterdir():
        if child.is_dir() and not child.name.startswith(".") and child.name != "locale":
            found.extend((child / "locale" / language / "LC_MESSAGES").glob("django*.po"))
    return sorted(found)


def fill_entry(entry: polib.POEntry, value: str | list[str], *, force: bool) -> bool:
    """Give the entry its French text (only where empty or fuzzy, unless `force`)."""
    changed = False
    if entry.msgid_plural:
        forms = value if isinstance(value, list) else [value, value]
        if force or not any(entry.msgstr_plural.values()) or entry.fuzzy:
            entry.msgstr_plural = {i: f for i, f in enumerate(forms)}
            changed = True
    elif force or not entry.msgstr or entry.fuzzy:
        entry.msgstr = value if isinstance(value, str) else value[0]
        changed = True
    if changed and "fuzzy" in entry.flags:
        entry.flags.remove("fuzzy")
    return changed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("json_file")
    parser.add_argument("--force", action="store_true", help="overwrite existing translations")
    args = parser.parse_args()
    table: dict[str, str | list[str]] = json.loads(Path(args.json_file).read_text("utf-8"))
    filled = 0
    for path in catalogs("fr"):
        po = polib.pofile(str(path), wrapwidth=79)
        changed = False
        for entry in po:
            if entry.msgid not in table or entry.obsolete:
                continue
            entry_changed = fill_entry(entry, table[entry.msgid], force=args.force)
            filled += entry_changed
            changed = changed or entry_changed
        if changed:
            po.save()
            subprocess.run(["msgfmt", "-o", str(path.with_suffix(".mo")), str(path)], check=True)
    missing = []
    for path in catalogs("fr"):
        for entry in polib.pofile(str(path)).untranslated_entries():
            missing.append(f"{path.relative_to(BASE)}: {entry.msgid[:70]!r}")
    print(f"filled {filled} entries; {len(missing)} untranslated left")
    for line in missing[:40]:
        print("  ", line)


if __name__ == "__main__":
    main()

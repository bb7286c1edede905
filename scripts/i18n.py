"""Translation workflow: Chinese is the source text, English lives in a .ts file.

  python scripts/i18n.py update          # extract strings (pyside6-lupdate) into the .ts
  python scripts/i18n.py missing         # list untranslated strings as JSON
  python scripts/i18n.py fill FILE.json  # set translations: [{"context","source","translation"}]
                                         # (a plural, %n in the source: a list, one form
                                         # per number: English ["%n day", "%n days"])
  python scripts/i18n.py compile         # .ts -> .qm (pyside6-lrelease), done by make
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TS_DIR = ROOT / "resources" / "translations"
TARGETS = {"en": TS_DIR / "gridfield_en.ts"}
SOURCE_DIRS = ("ui", "fieldclient", "sync")
BIN = Path(sys.executable).parent


def sources() -> list[str]:
    files = [ROOT / "main.py"]
    for folder in SOURCE_DIRS:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return [str(f.relative_to(ROOT)) for f in files if f.exists()]


def lupdate(ts_file: Path, language: str) -> None:
    cmd = [str(BIN / "pyside6-lupdate"), *sources(), "-ts", str(ts_file),
           "-source-language", "zh_CN", "-target-language", language, "-no-obsolete",
           "-locations", "none"]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def unfinished(ts_file: Path) -> list[dict[str, str]]:
    root = ET.parse(ts_file).getroot()
    missing = []
    for ctx in root.iter("context"):
        name = ctx.findtext("name") or ""
        for msg in ctx.iter("message"):
            tr = msg.find("translation")
            forms = [] if tr is None else [f.text or "" for f in tr.iter("numerusform")]
            if msg.get("numerus") == "yes":
                done = bool(forms) and all(f.strip() for f in forms)
            else:
                done = tr is not None and bool((tr.text or "").strip())
            if tr is None or not done or tr.get("type") == "unfinished":
                missing.append({"context": name, "source": msg.findtext("source") or ""})
    return missing


def fill(ts_file: Path, entries: list[dict[str, Any]]) -> int:
    wanted = {(e["context"], e["source"]): e["translation"] for e in entries}
    tree = ET.parse(ts_file)
    changed = 0
    for ctx in tree.getroot().iter("context"):
        name = ctx.findtext("name") or ""
        for msg in ctx.iter("message"):
            key = (name, msg.findtext("source") or "")
            if key in wanted:
                tr = msg.find("translation")
                assert tr is not None
                value: str | list[str] = wanted[key]
                if isinstance(value, list):  # plural forms (Qt's %n)
                    for old in list(tr):
                        tr.remove(old)
                    tr.text = None
                    for form in value:
                        ET.SubElement(tr, "numerusform").text = form
                else:
                    tr.text = value
                tr.attrib.pop("type", None)
                changed += 1
    ET.indent(tree)
    with open(ts_file, "wb") as fh:
        fh.write(b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n')
        tree.write(fh, encoding="utf-8", xml_declaration=False)
    return changed


def compile_all() -> None:
    for ts_file in TS_DIR.glob("*.ts"):
        subprocess.run([str(BIN / "pyside6-lrelease"), "-silent", str(ts_file),
                        "-qm", str(ts_file.with_suffix(".qm"))], check=True)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "compile"
    if command == "update":
        for lang, ts_file in TARGETS.items():
            lupdate(ts_file, lang)
    elif command == "missing":
        print(json.dumps({lang: unfinished(f) for lang, f in TARGETS.items()},
                         ensure_ascii=False, indent=1))
    elif command == "fill":
        entries = json.loads(Path(argv[1]).read_text("utf-8"))
        print(fill(TARGETS["en"], entries), "translations set")
    elif command == "compile":
        compile_all()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

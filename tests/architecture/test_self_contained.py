"""The repository stands on its own (issue 14, item 9): no test, CI step or benchmark reaches
for files outside the checkout (such as a ``../shared/tools`` folder beside it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"\.\./shared|parent\s*/\s*[\"']shared[\"']|shared/tools")


def test_nothing_outside_the_checkout_is_used() -> None:
    files = [ROOT / ".ci" / "run", ROOT / "Makefile"]
    for folder in ("tests", "bench", "dex_py", "connectors"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".sh", ".mjs")]
    me = Path(__file__).resolve()
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in files
        if path.resolve() != me and "node_modules" not in path.parts
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []

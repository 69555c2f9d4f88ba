"""Where the non-Python parts live: ``templates/``, ``static/`` and ``migrations/``.

They sit at the top of the source tree (DESIGN §2). A source checkout or editable install finds
them beside the package; a wheel installs them under ``<prefix>/share/dex-py/``.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """Absolute path of ``templates``, ``static`` or ``migrations``."""
    candidates = [
        _SOURCE_ROOT / name,
        Path(sys.prefix) / "share" / "dex-py" / name,
        Path(sysconfig.get_path("data")) / "share" / "dex-py" / name,
    ]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(f"dex-py resource folder {name!r} not found (looked in {candidates})")

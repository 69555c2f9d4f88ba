"""Summaries of py-spy profiles of the benchmark's workers, gunicorn's or Granian's
(``run.py --profile``): where a request's wall time goes, by category of the leaf frame and by
frame."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

PROFILE_MARKERS = (  # the frame under which a worker handles one request, per engine
    "DexSyncWorker.handle (dex_py/serving/gunicorn_server.py",
    "WSGIBridge._run_app (dex_py/serving/wsgi_bridge.py",
)
CATEGORIES = (  # by the leaf frame's file: where the worker's wall time goes
    (
        "JOSE (sign/verify)",
        (
            "dex_py/jose/jwk.py",
            "dex_py/jose/keys.py",
            "dex_py/jose/tokens.py",
            "joserfc/",
            "jwcrypto/",
            "cryptography/",
        ),
    ),
    (
        "SQL (SQLAlchemy + driver + DB wait)",
        ("sqlalchemy/", "psycopg", "sqlite3", "dex_py/storage"),
    ),
    ("socket I/O + gunicorn", ("gunicorn/", "socket.py", "selectors.py")),
    ("Flask/werkzeug", ("flask/", "werkzeug/", "click/")),
    ("JSON", ("json/",)),
)


def summarize_profile(raw_file: Path, top: int = 20) -> str:
    """Shares of the time workers spend inside a ``PROFILE_MARKERS`` frame (one request), from
    a py-spy raw (collapsed stacks) file: by category of the leaf frame, by leaf frame (self)
    and by frame (inclusive)."""
    self_, incl, cats, total = Counter[str](), Counter[str](), Counter[str](), 0
    for line in raw_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        marks = [i for i, f in enumerate(frames) if f.startswith(PROFILE_MARKERS)]
        if not marks:
            continue  # idle: waiting for a connection, or the housekeeping thread
        frames, n = frames[marks[0] + 1 :] or [frames[marks[0]]], int(count)
        total += n
        self_[frames[-1]] += n
        incl.update(dict.fromkeys(frames, n))
        leaf = frames[-1]
        cats[next((c for c, keys in CATEGORIES if any(k in leaf for k in keys)), "other")] += n
    if not total:
        return f"{raw_file.name}: no samples inside request handling"
    pct = lambda n: f"{100 * n / total:5.1f}"  # noqa: E731
    rows = [f"{raw_file.name}: {total} samples inside request handling", "share  category"]
    rows += [f"{pct(n)}  {c}" for c, n in cats.most_common()]
    rows += ["self%  frame"] + [f"{pct(n)}  {f}" for f, n in self_.most_common(top)]
    rows += ["incl%  frame"] + [f"{pct(n)}  {f}" for f, n in incl.most_common(top)]
    return "\n".join(rows)

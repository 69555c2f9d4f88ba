"""Summaries of py-spy profiles of the benchmark's workers (``run.py --profile``): where the
workers' busy time goes, by category of the leaf frame and by frame. py-spy leaves idle threads
out, so on Granian the samples are the event loop's and the app threads' working time (the
housekeeping thread is left out); on gunicorn, the time inside ``DexSyncWorker.handle``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

PROFILE_MARKERS = (
    "DexSyncWorker.handle (dex_py/serving/gunicorn_server.py",  # gunicorn: one request
    "BaseEventLoop.run_until_complete (asyncio/base_events.py",  # granian: the worker's loop
    "_worker (concurrent/futures/thread.py",  # granian: the app's thread pool
)
HOUSEKEEPING = "dex_py/ops/background.py"
# Leaves py-spy reports as running although the thread only waits (the pool's idle threads).
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py:81)",)
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
    ("socket I/O + gunicorn", ("gunicorn/", "socket.py")),
    (
        "event loop + thread hand-off (asyncio, Granian bridge)",
        (
            "asyncio/",
            "concurrent/futures",
            "threading.py",
            "granian/",
            "wsgi_bridge",
            "selectors.py",
        ),
    ),
    ("Flask/werkzeug", ("flask/", "werkzeug/", "click/")),
    ("JSON", ("json/",)),
)


def summarize_profile(raw_file: Path, top: int = 20) -> str:
    """Shares of the workers' busy time (see the module docstring), from a py-spy raw
    (collapsed stacks) file: by category of the leaf frame, by leaf frame (self) and by frame
    (inclusive)."""
    self_, incl, cats, total = Counter[str](), Counter[str](), Counter[str](), 0
    for line in raw_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        marks = [i for i, f in enumerate(frames) if f.startswith(PROFILE_MARKERS)]
        if not marks or HOUSEKEEPING in stack or frames[-1].startswith(IDLE_LEAVES):
            continue  # the master, an idle gunicorn worker, or the housekeeping thread
        frames, n = frames[marks[0] + 1 :] or [frames[marks[0]]], int(count)
        total += n
        self_[frames[-1]] += n
        incl.update(dict.fromkeys(frames, n))
        leaf = frames[-1]
        cats[next((c for c, keys in CATEGORIES if any(k in leaf for k in keys)), "other")] += n
    if not total:
        return f"{raw_file.name}: no samples of busy workers"
    pct = lambda n: f"{100 * n / total:5.1f}"  # noqa: E731
    rows = [f"{raw_file.name}: {total} samples of busy workers", "share  category"]
    rows += [f"{pct(n)}  {c}" for c, n in cats.most_common()]
    rows += ["self%  frame"] + [f"{pct(n)}  {f}" for f, n in self_.most_common(top)]
    rows += ["incl%  frame"] + [f"{pct(n)}  {f}" for f, n in incl.most_common(top)]
    return "\n".join(rows)

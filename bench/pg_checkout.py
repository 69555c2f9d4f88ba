"""Client CPU of one pooled PostgreSQL read (checkout, ``SELECT 1``, checkin) in three ways:

- ``toggled``: ``engine.execution_options(isolation_level="AUTOCOMMIT")``, what
  ``storage.sql_transactions`` uses for reads: autocommit is switched on at checkout and back
  off at checkin;
- ``fixed``: an engine created with ``isolation_level="AUTOCOMMIT"`` (no switching);
- ``transaction``: the plain engine (``BEGIN`` ... ``ROLLBACK`` around the ``SELECT``).

    .venv/bin/python bench/pg_checkout.py [--dsn URL] [--n 3000] [--rounds 3]

Needs PostgreSQL (default: postgres@127.0.0.1:5432/test). Prints µs of this process's CPU per
read, the three ways taking turns each round.
"""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa

QUERY = sa.text("SELECT 1")


def cpu_per_read(engine: sa.Engine, n: int) -> float:
    for _ in range(200):  # warm the pool and the statement caches
        with engine.connect() as conn:
            conn.execute(QUERY).first()
    start = time.process_time()
    for _ in range(n):
        with engine.connect() as conn:
            conn.execute(QUERY).first()
    return 1e6 * (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plain = sa.create_engine(args.dsn)
    ways = {
        "toggled": plain.execution_options(isolation_level="AUTOCOMMIT"),
        "fixed": sa.create_engine(args.dsn, isolation_level="AUTOCOMMIT"),
        "transaction": plain,
    }
    for round_no in range(1, args.rounds + 1):
        cells = [f"{name} {cpu_per_read(eng, args.n):.0f} µs" for name, eng in ways.items()]
        print(f"round {round_no}: " + ", ".join(cells))


if __name__ == "__main__":
    main()

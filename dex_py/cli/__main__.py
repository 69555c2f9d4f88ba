"""``python -m dex_py.cli``: the same entry point as the ``dex-py`` console script."""

from dex_py.cli import main

main()

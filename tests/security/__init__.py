"""The security matrix: one test per attack, each against a live dex-py."""

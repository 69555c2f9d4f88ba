"""Tests of the ``github`` connector against a fake GitHub Enterprise Server."""

"""Tests of the gitlab connector."""

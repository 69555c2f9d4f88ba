"""Tests of the authproxy connector."""

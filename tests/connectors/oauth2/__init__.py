"""Tests of the oauth2 connector."""

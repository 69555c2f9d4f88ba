"""dex-py: a Dex-compatible OpenID Connect identity provider."""

__version__ = "0.1.0"

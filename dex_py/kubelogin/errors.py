"""The plugin's errors: each message is shown to the user as one line and holds no secret."""

from __future__ import annotations


class LoginError(Exception):
    """A step of getting a token failed."""


class OAuthError(LoginError):
    """The token endpoint answered with an RFC 6749 §5.2 error."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description

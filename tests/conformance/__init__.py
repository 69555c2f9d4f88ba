"""The OpenID Foundation's OP test plans (Basic, Config, Form Post, RP-Initiated Logout and
more), one test per module, against a live dex-py."""

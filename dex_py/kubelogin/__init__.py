"""``dex-py kube login|logout``: the kubectl exec credential plugin (client side only).

kubectl runs the plugin before every command, so this package is kept light: it imports only
the standard library (``urllib``, ``ssl``, ``http.server`` lazily, when a network call is needed)
and nothing else of ``dex_py``; the server stack (Flask, SQLAlchemy, ...) is never loaded. The
cached path is ``command`` -> ``credential`` -> ``cache`` -> ``exec_credential``.

Modules: ``command`` (argument parsing, the entry point), ``exec_credential`` (the
client.authentication.k8s.io ExecCredential in and out), ``cache`` (the token cache),
``credential`` (cached token, then refresh, then a login), ``oidc`` (discovery and the token
endpoint, RFC 6749 §4-6), ``authcode`` (RFC 8252 loopback redirect + RFC 7636 PKCE),
``device`` (RFC 8628 device authorization grant, client side), ``password`` (RFC 6749 §4.3).
"""

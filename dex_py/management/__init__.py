"""Operations on the objects an operator manages at run time: clients, connectors, local users
(passwords with groups), team rules, sessions and refresh tokens, signing keys, the audit log.

One implementation behind the admin console (``dex_py.admin``), the JSON admin API
(``dex_py.admin_api``) and, where its semantics allow, Dex's gRPC API: each operation checks its
input, refuses to change objects from ``config.yaml`` (they are read-only and win on a name
clash), writes the change, records it in the audit log with its actor (``actor``) and tells
every worker and replica sharing the storage that objects changed (``Storage.bump_generation``).
Failures are ``errors.ManagementError`` subclasses, mapped to a page, a problem+json answer or
a gRPC status by the caller.
"""

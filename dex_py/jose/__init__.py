"""JOSE: our signing keys and the tokens signed with them, and the keys of others.

``jwk`` (JWK parsing, thumbprints, signing and verifying on ``cryptography``), ``keys`` (the
signing key set: generate, rotate across replicas, JWKS), ``tokens`` (ID and access token claims,
signing, verification, Dex's ``sub``), ``client_assertions`` (``private_key_jwt`` and client
JWK Sets).
"""

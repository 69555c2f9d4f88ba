"""Serving: ``dex-py serve`` and its two engines.

``server`` plans and starts a server from the config; ``granian_server`` (the default) and
``gunicorn_server`` are the engines; ``wsgi_bridge`` runs the Flask app under Granian.
"""

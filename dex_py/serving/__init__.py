"""Serving: ``dex-py serve`` and its two engines.

``server`` plans and starts a server from the config; ``granian_server`` (the default) and
``gunicorn_server`` are the engines; ``granian_worker`` is one Granian worker process and
``wsgi_bridge`` runs the Flask app in it.
"""

"""The browser-facing web layer shared by every blueprint.

``pages`` (templates, themes, ``render_page``), ``csrf`` (the one CSRF helper for every form),
``browser`` (binding an authorization request to the browser that started it), ``headers``
(security headers and CORS), ``trusted_headers`` (authproxy header stripping).
"""

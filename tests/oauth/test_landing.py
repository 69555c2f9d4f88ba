"""``GET {issuer}``: a small landing page with links instead of a 404."""

from __future__ import annotations

from tests.oauth.conftest import ISSUER, App


def test_the_issuer_url_shows_what_this_server_is(app: App) -> None:
    browser = app.client()
    page = browser.get("/dex/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f'href="{ISSUER}/.well-known/openid-configuration"' in html
    assert f'href="{ISSUER}/keys"' in html
    assert f"dex-py example-app --issuer {ISSUER}" in html
    assert "/device" not in html  # the device grant is off in this config
    # the issuer without the slash answers the same page itself: a redirect would be built
    # from the request's scheme, http:// behind a TLS-terminating proxy
    bare = browser.get("/dex", base_url="http://dex.example.com")
    assert bare.status_code == 200
    assert bare.get_data(as_text=True) == html


def test_the_device_link_when_the_grant_is_on(make_app) -> None:  # type: ignore[no-untyped-def]
    grants = ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"]
    html = make_app(oauth2={"grantTypes": grants}).client().get("/dex/").get_data(as_text=True)
    assert f'href="{ISSUER}/device"' in html

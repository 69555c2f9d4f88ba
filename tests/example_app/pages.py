"""Small HTML helpers for the example-app tests: text of an element by id, fields of a form."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.login_flow import parse_page


class _ById(HTMLParser):
    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id = element_id
        self.depth = 0
        self.found = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.found, self.depth = True, 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def element_text(html: str, element_id: str) -> str | None:
    """The text inside the element ``#element_id``, or None if the page has no such element."""
    parser = _ById(element_id)
    parser.feed(html)
    parser.close()
    return "".join(parser.text) if parser.found else None


def form_fields(html: str, action_suffix: str) -> dict[str, str]:
    """Hidden/text input values of the first form whose action ends with ``action_suffix``."""
    for form in parse_page(html).forms:
        if form["action"].endswith(action_suffix):
            return {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("name")}
    raise AssertionError(f"no form posting to *{action_suffix} in:\n{html[:800]}")

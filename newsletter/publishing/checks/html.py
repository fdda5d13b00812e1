"""The links and images of an email's HTML, read once for every check that needs them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser


@dataclass(frozen=True)
class Link:
    href: str
    text: str
    line: int


@dataclass(frozen=True)
class Image:
    src: str
    alt: str | None
    line: int


class _Collector(HTMLParser):
    """Anchors with their visible text (an image's alt counts) and images with their alt."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self.images: list[Image] = []
        self._open: list[tuple[str, int, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        line = self.getpos()[0]
        if tag == "a" and values.get("href") is not None:
            self._open.append((values["href"] or "", line, []))
        elif tag == "img":
            self.images.append(Image(values.get("src") or "", values.get("alt"), line))
            if self._open and values.get("alt"):
                self._open[-1][2].append(values["alt"] or "")

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, line, text = self._open.pop()
            self.links.append(Link(href, " ".join("".join(text).split()), line))


@dataclass(frozen=True)
class Parsed:
    links: list[Link]
    images: list[Image]


@lru_cache(maxsize=4)
def collect(html: str) -> Parsed:
    """Parsed once per HTML: several checks read the same links and images."""
    parser = _Collector()
    parser.feed(html)
    parser.close()
    return Parsed(parser.links, parser.images)

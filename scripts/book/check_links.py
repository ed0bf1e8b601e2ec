#!/usr/bin/env python3
"""Checks a rendered mdBook: every internal link, anchor and image must exist.

Usage: check_links.py BOOK_DIR. Prints each problem as `page: what` and exits 1 if there is
any, else prints how many links it checked and exits 0. Links with a scheme (https:, mailto:)
are not followed: the book is read on this machine, and nothing here goes out to the network.
"""

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []  # (attribute, value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("id",):
            if attrs.get(name):
                self.ids.add(attrs[name])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "base":
            return
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.links.append((f"<{tag} {name}>", attrs[name]))


def parse(path, cache={}):
    if path not in cache:
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        cache[path] = page
    return cache[path]


def main():
    book = Path(sys.argv[1]).resolve()
    problems, checked = [], 0
    for path in sorted(book.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        # An include or link that mdBook could not resolve is left in the page as written.
        for leftover in ("{{#include", "{{#rustdoc_include"):
            if leftover in text:
                problems.append(f"{path.name}: unresolved {leftover!r} left in the page")
        for what, value in parse(path).links:
            parts = urlsplit(value)
            if parts.scheme or value.startswith("//"):
                continue
            checked += 1
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if not target.is_relative_to(book):
                problems.append(f"{path.name}: {what} {value} leaves the book")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{path.name}: {what} {value}: no such file")
                continue
            if parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in parse(target).ids:
                    problems.append(f"{path.name}: {what} {value}: no such anchor")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} broken links, anchors or images in {book}")
        return 1
    print(f"checked {checked} internal links, anchors and images: all present")
    return 0


if __name__ == "__main__":
    sys.exit(main())

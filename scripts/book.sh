#!/usr/bin/env bash
# Renders the chapters as one book with mdBook (book.toml, chapters/SUMMARY.md).
#
#   scripts/book.sh           build the book into target/book and check its links
#   scripts/book.sh --serve   serve it on http://127.0.0.1:3000 (PORT=... for another port),
#                             rebuilding as you edit; Ctrl-C stops it
#   scripts/book.sh --check   build, check links, and save screenshots of a few pages taken
#                             with headless Chromium under target/book-screenshots/
#
# mdBook is installed with `cargo install --locked` when it is missing (about 7 minutes, once).
# The link check (scripts/book/check_links.py) fails on any internal link, anchor or image
# that does not exist; .ci/run runs it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MDBOOK_VERSION=0.5.4
BOOK=target/book
SHOTS=target/book-screenshots

usage() {
    sed -n '2,12s/^# \{0,1\}//p' "$0"
}

mode=build
case "${1:-}" in
    "") ;;
    --serve) mode=serve ;;
    --check) mode=check ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac

# book.toml is written for mdBook 0.5: an older one reads it differently.
if ! mdbook --version 2>/dev/null | grep -q '^mdbook v0\.5\.'; then
    echo "installing mdBook $MDBOOK_VERSION (cargo install --locked mdbook; about 7 minutes, once)"
    cargo install --quiet --locked mdbook --version "$MDBOOK_VERSION"
fi

if [[ $mode == serve ]]; then
    exec mdbook serve --hostname 127.0.0.1 --port "${PORT:-3000}"
fi

mdbook build 2>&1 | grep -v ' INFO ' || true
[[ -f $BOOK/index.html ]] || { echo "mdbook build wrote no $BOOK/index.html" >&2; exit 1; }
python3 scripts/book/check_links.py "$BOOK"
echo "the book: file://$ROOT/$BOOK/index.html"

[[ $mode == check ]] || exit 0

chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $chromium ]]; then
    echo "no Chromium for the screenshots: apt-get install chromium (Debian), then run again" >&2
    exit 2
fi
if command -v fc-list >/dev/null && [[ -z $(fc-list :lang=zh family) ]]; then
    echo "warning: no Chinese font, so the Chinese terms show as boxes in the screenshots" \
        "(apt-get install fonts-noto-cjk)" >&2
fi
mkdir -p "$SHOTS"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# Pages with a diagram, a listing, a transcript and a long table: the things most likely to
# render badly. The flags keep Chromium from reaching out to the network at start.
for page in index 00_networking_basics 11_sticky_packets 12_framed_messages 17_http_server \
    python_to_rust; do
    [[ -f $BOOK/$page.html ]] || { echo "no page $page.html in the book" >&2; exit 1; }
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --hide-scrollbars --user-data-dir="$profile" --window-size=1280,2400 \
        --screenshot="$SHOTS/$page.png" "file://$ROOT/$BOOK/$page.html" >/dev/null 2>&1 ||
        { echo "Chromium could not render $page.html" >&2; exit 1; }
    [[ -s $SHOTS/$page.png ]] || { echo "no screenshot of $page.html" >&2; exit 1; }
    echo "screenshot: $SHOTS/$page.png"
done

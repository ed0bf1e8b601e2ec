#!/usr/bin/env bash
# Runs one of the workbook's paired demos: `scripts/demo.sh 01`. With no argument, lists them.
# Each demo is a short file in scripts/demos/ that starts the server(s), runs the client(s) and
# stops the servers with SIGINT, printing every side's output labelled.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

list_demos() {
    echo "usage: scripts/demo.sh NN"
    echo
    echo "demos:"
    local file
    for file in scripts/demos/*.sh; do
        local number also
        number=$(basename "$file" .sh)
        also=$(sed -n 's/^# also: /, /p' "$file")
        printf '  %-6s  %s\n' "$number$also" "$(sed -n 's/^# title: //p' "$file")"
    done
}

if [[ $# -eq 0 || $1 == -h || $1 == --help ]]; then
    list_demos
    exit 0
fi

# A demo shows a server and its client together: 09 runs 10 too, 03 runs 17. Such a demo
# answers to both numbers: its `# also: 10` line names the other one.
demo="scripts/demos/$1.sh"
if [[ ! -f $demo ]]; then
    demo=$(grep -lx "# also: $1" scripts/demos/*.sh | head -n 1 || true)
fi
if [[ -z $demo || ! -f $demo ]]; then
    echo "no demo '$1'" >&2
    list_demos >&2
    exit 2
fi

source scripts/lib.sh
source "$demo"

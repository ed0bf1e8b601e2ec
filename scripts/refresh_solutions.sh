#!/usr/bin/env bash
# For workbook developers: after a listing changed, re-makes the solution and mistake patches
# (solutions/*/*/*.patch) against the committed listings, by a three-way merge from the
# listing each patch was written against. A patch that merges cleanly is rewritten in place
# (its header lines kept); one that conflicts is listed, to be redone by hand.
#
# Usage: scripts/refresh_solutions.sh [PATCH...]   (default: every patch that no longer applies)
# Then run scripts/check_solutions.sh: a clean merge is not yet a working solution.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --quiet --detach "$work/tree" HEAD

if [[ $# -gt 0 ]]; then
    patches=("$@")
else
    mapfile -t patches < <(ls solutions/*/*/*.patch)
fi
conflicts=()
refreshed=0
for patch in "${patches[@]}"; do
    path=$root/$patch
    (cd "$work/tree" && git apply --check "$path" 2>/dev/null) && continue
    if (cd "$work/tree" && git apply -3 "$path" >/dev/null 2>&1) &&
        ! (cd "$work/tree" && git diff --name-only --diff-filter=U | grep -q .); then
        {
            sed -n '/^diff --git/q; p' "$path"
            (cd "$work/tree" && git diff HEAD -- src)
        } >"$path.new"
        mv "$path.new" "$path"
        refreshed=$((refreshed + 1))
        echo "refreshed $patch"
    else
        conflicts+=("$patch")
    fi
    (cd "$work/tree" && git reset --quiet --hard HEAD && git clean --quiet -fd)
done
echo "$refreshed patches refreshed"
if [[ ${#conflicts[@]} -gt 0 ]]; then
    printf 'conflicts, redo by hand: %s\n' "${conflicts[@]}" >&2
    exit 1
fi

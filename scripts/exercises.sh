#!/usr/bin/env bash
# Your progress through the exercises, in the spirit of rustlings' `list`.
#
#   scripts/exercises.sh                      list every exercise and whether you solved it
#   scripts/exercises.sh check 02/exercise_once     run one exercise's check
#   scripts/exercises.sh hint 02/exercise_once      a nudge in the right direction
#   scripts/exercises.sh solution 02/exercise_once  the reference solution (a diff)
#
# An exercise is named CHAPTER/exercise_name, where CHAPTER is its number (02) or its test
# file (02_tcp_server); the name alone will do when only one chapter has it. Listing runs
# every check once, chapter by chapter (see the README for how long that takes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RUST_BACKTRACE=0 # a failed check shows its message, not a stack trace

usage() {
    sed -n '3,10s/^# \{0,1\}//p' "$0"
    exit "${1:-0}"
}

# Every exercise as `chapter exercise description`, one a line, in chapter order.
all_exercises() {
    local file chapter
    for file in tests/*.rs; do
        chapter=$(basename "$file" .rs)
        # #[ignore = "exercise: the time command"] on the line before `fn exercise_time_command()`
        awk -v chapter="$chapter" '
            /#\[ignore = "exercise: / { sub(/.*#\[ignore = "exercise: /, ""); sub(/"\]$/, ""); what = $0; next }
            /^fn exercise_[A-Za-z0-9_]*\(\)/ { name = $2; sub(/\(.*/, "", name); print chapter, name, what; what = "" }
        ' "$file"
    done
}

# Finds one exercise from what the learner typed; prints `chapter exercise`.
resolve() {
    local wanted=$1 chapter_part="" name found
    if [[ $wanted == */* ]]; then
        chapter_part=${wanted%%/*}
        name=${wanted#*/}
    else
        name=$wanted
    fi
    [[ $name == exercise_* ]] || name=exercise_$name
    found=$(all_exercises | awk -v c="$chapter_part" -v n="$name" '
        $2 == n && (c == "" || $1 == c || index($1, c "_") == 1) { print $1, $2 }')
    case $(grep -c . <<<"$found") in
        1) echo "$found" ;;
        0) echo "no exercise $wanted; scripts/exercises.sh lists them all" >&2; exit 2 ;;
        *) echo "$wanted is in more than one chapter; say which: $(awk '{printf "%s/%s ", substr($1, 1, 2), $2}' <<<"$found")" >&2; exit 2 ;;
    esac
}

# Runs the checks of one chapter, all at once, and prints `exercise ok|FAILED` lines.
run_chapter_checks() {
    cargo test --test "$1" -- --ignored exercise_ 2>&1 |
        sed -n 's/^test \(exercise_[A-Za-z0-9_]*\) \.\.\. \(ok\|FAILED\)$/\1 \2/p' || true
}

list() {
    echo "Building the workbook..."
    if ! cargo test --no-run --quiet 2>/dev/null; then
        cargo test --no-run --quiet 2>&1 | tail -n 40 || true
        echo "The workbook does not build, so no check can run: fix the error above first." >&2
        exit 1
    fi
    local chapter name what results solved=0 total=0 next=""
    local current=""
    printf '\n%-24s %-37s %-9s %s\n' chapter exercise status "what it asks"
    while read -r chapter name what; do
        if [[ $chapter != "$current" ]]; then
            current=$chapter
            results=$(run_chapter_checks "$chapter")
        fi
        total=$((total + 1))
        if grep -qx "$name ok" <<<"$results"; then
            status=solved
            solved=$((solved + 1))
        else
            status="not yet"
            [[ -n $next ]] || next="${chapter%%_*}/$name"
        fi
        printf '%-24s %-37s %-9s %s\n' "$chapter" "$name" "$status" "$what"
    done < <(all_exercises)
    echo
    echo "Solved $solved of $total."
    if [[ -n $next ]]; then
        echo "Next: read its chapter's Exercises section, then scripts/exercises.sh check $next"
    fi
}

check() {
    local chapter name
    read -r chapter name < <(resolve "$1")
    echo "Checking $name (chapters/$chapter.md):"
    if cargo test --quiet --test "$chapter" -- --ignored --exact "$name"; then
        echo "Solved. The chapter's other tests: cargo test --test $chapter"
    else
        echo "Not yet. A hint: scripts/exercises.sh hint ${chapter%%_*}/$name"
        exit 1
    fi
}

hint() {
    local chapter name
    read -r chapter name < <(resolve "$1")
    echo "$name (chapters/$chapter.md, Exercises):"
    cat "solutions/$chapter/$name/hint.md"
}

solution() {
    local chapter name
    read -r chapter name < <(resolve "$1")
    local patch=solutions/$chapter/$name/solution.patch
    if ! cargo test --quiet --test "$chapter" -- --ignored --exact "$name" >/dev/null 2>&1; then
        echo "(You have not solved $name yet. The hint may be enough: scripts/exercises.sh hint ${chapter%%_*}/$name)"
        echo
    fi
    echo "A reference solution for $name, as a diff against the shipped listing"
    echo "(lines starting with - are removed, + added; yours may differ and still be right):"
    echo
    sed -n '/^diff --git/,$p' "$patch"
    echo
    echo "To try it on a clean listing: git stash, then git apply $patch"
}

case ${1:-list} in
    list) list ;;
    check | hint | solution)
        [[ $# -eq 2 ]] || usage 2
        "$1" "$2"
        ;;
    -h | --help | help) usage ;;
    *) usage 2 ;;
esac

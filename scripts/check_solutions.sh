#!/usr/bin/env bash
# Proves that every exercise check tells a solved exercise from an unsolved one.
#
# For each exercise in solutions/NN_name/exercise_x/ this applies, to a scratch copy of the
# workbook:
#   solution.patch   the reference solution: the exercise check must pass, and so must the
#                    chapter's other tests (`cargo test --test NN_name`);
#   mistake_*.patch  a plausible wrong or half solution: the exercise check must fail, and its
#                    failure message must contain the patch's `Fails with:` text (so it fails
#                    for the reason written down, not because the mistake does not compile) and
#                    show no raw byte vectors.
# Patches may change files under src/ only: a solution never edits its own check.
#
# Usage: scripts/check_solutions.sh [FILTER...]
#   FILTER is a chapter (02 or 02_tcp_server) or one exercise (02/exercise_once, or
#   exercise_once alone).
#   EXERCISE_SCRATCH=DIR picks the scratch directory (default: a folder under /tmp), so two
#   runs at once do not share one.
# This is slow (every patch is a rebuild), so it runs in .ci/run, not in `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
scratch=${EXERCISE_SCRATCH:-${TMPDIR:-/tmp}/socket-workbook-exercises-$(id -u)}
tree=$scratch/tree
mkdir -p "$tree"
export CARGO_TARGET_DIR=$scratch/target
export RUST_BACKTRACE=0 # failure messages, not stack traces
# git apply must not mistake the scratch tree for part of a repository around it.
export GIT_CEILING_DIRECTORIES=$scratch

# Copies the workbook (tracked and new files, not ignored ones) into the scratch tree. A file
# whose content is unchanged keeps its modification time, so cargo rebuilds only what differs.
sync_tree() {
    local list
    list=$(mktemp)
    git -C "$root" ls-files -co --exclude-standard >"$list"
    while IFS= read -r file; do
        [[ -f $root/$file ]] || continue
        if ! cmp -s "$root/$file" "$tree/$file"; then
            mkdir -p "$(dirname "$tree/$file")"
            cp "$root/$file" "$tree/$file"
        fi
    done <"$list"
    # Files a patch created in an earlier, interrupted run.
    (cd "$tree" && find . -type f -printf '%P\n') | sort >"$list.tree"
    sort "$list" | comm -13 - "$list.tree" | while IFS= read -r extra; do
        rm -f "$tree/$extra"
    done
    rm -f "$list" "$list.tree"
}

# The files a patch touches, one per line.
touched() {
    git apply --numstat "$1" | cut -f3-
}

# Puts back the shipped version of every file the patch touched (with a new modification
# time, so cargo sees the change), and removes files the patch created.
restore() {
    local file
    while IFS= read -r file; do
        if [[ -f $root/$file ]]; then
            cp "$root/$file" "$tree/$file"
        else
            rm -f "$tree/$file"
        fi
    done < <(touched "$1")
}

header() { # header FIELD PATCH: the text after `FIELD: ` in the patch's opening lines
    sed -n "/^diff --git/q; s/^$1: *//p" "$2" | head -n 1
}

matches_filter() {
    local id=$1 chapter=${1%%/*} exercise=${1#*/}
    [[ ${#filters[@]} -eq 0 ]] && return 0
    for f in "${filters[@]}"; do
        [[ $f == "$id" || $f == "$chapter" || $f == "${chapter%%_*}" || $f == "$exercise" ||
            $f == "${chapter%%_*}/$exercise" ]] && return 0
    done
    return 1
}

filters=("$@")
problems=()
count=0
started=$SECONDS
sync_tree
cd "$tree"
cargo build --quiet --tests 2>&1 | tail -n 20

for dir in "$root"/solutions/*/exercise_*/; do
    dir=${dir%/}
    exercise=$(basename "$dir")
    chapter=$(basename "$(dirname "$dir")")
    id=$chapter/$exercise
    matches_filter "$id" || continue
    for patch in "$dir"/solution.patch "$dir"/mistake_*.patch; do
        kind=$(basename "$patch" .patch)
        if [[ ! -f $patch ]]; then
            problems+=("$id: no $kind.patch")
            continue
        fi
        count=$((count + 1))
        t0=$SECONDS
        outside=$(touched "$patch" | grep -v '^src/' || true)
        if [[ -n $outside ]]; then
            problems+=("$id/$kind: changes files outside src/: $outside")
            continue
        fi
        if ! git apply "$patch" 2>"$scratch/apply.err"; then
            problems+=("$id/$kind: does not apply to the shipped listing: $(cat "$scratch/apply.err")")
            continue
        fi
        check=$(cargo test --quiet --test "$chapter" -- --ignored --exact "$exercise" 2>&1) &&
            passed=yes || passed=no
        verdict=ok
        if [[ $kind == solution ]]; then
            if [[ $passed == no ]]; then
                verdict=FAIL
                problems+=("$id: the reference solution fails its check:"$'\n'"$check")
            elif ! grep -q "1 passed; 0 failed" <<<"$check"; then
                verdict=FAIL
                problems+=("$id: the check did not run:"$'\n'"$check")
            elif ! others=$(cargo test --quiet --test "$chapter" 2>&1); then
                verdict=FAIL
                problems+=("$id: with the reference solution, the chapter's other tests fail:"$'\n'"$others")
            fi
        else
            note=$(header Mistake "$patch")
            want=$(header "Fails with" "$patch")
            if [[ -z $note || -z $want ]]; then
                verdict=FAIL
                problems+=("$id/$kind: needs a 'Mistake:' line and a 'Fails with:' line before the diff")
            elif [[ $passed == yes ]]; then
                verdict=FAIL
                problems+=("$id/$kind passes its check, but it is a mistake: $note")
            elif ! grep -q "0 passed; 1 failed" <<<"$check"; then
                verdict=FAIL
                problems+=("$id/$kind: the check did not run as a failing test:"$'\n'"$check")
            elif ! grep -qF -- "$want" <<<"$check"; then
                verdict=FAIL
                problems+=("$id/$kind: fails, but without the words '$want':"$'\n'"$check")
            elif grep -qE '\[[0-9]{1,3}(, [0-9]{1,3}){3,}' <<<"$check"; then
                verdict=FAIL
                problems+=("$id/$kind: the failure message shows raw bytes, not text:"$'\n'"$check")
            fi
        fi
        restore "$patch"
        printf '%-4s %-50s %-10s %3d s\n' "$verdict" "$id" "$kind" $((SECONDS - t0))
    done
done

# Every exercise check has a solution folder, and every folder names a real check.
for file in "$root"/tests/*.rs; do
    chapter=$(basename "$file" .rs)
    for exercise in $(sed -n 's/^fn \(exercise_[A-Za-z0-9_]*\)().*/\1/p' "$file"); do
        matches_filter "$chapter/$exercise" || continue
        [[ -d $root/solutions/$chapter/$exercise ]] ||
            problems+=("$chapter/$exercise: no solutions/$chapter/$exercise/")
    done
done

echo "checked $count patches in $((SECONDS - started)) s"
if [[ ${#problems[@]} -gt 0 ]]; then
    printf '\nexercise solution problem: %s\n' "${problems[@]}" >&2
    exit 1
fi
if [[ $count -eq 0 ]]; then
    echo "no solutions matched ${filters[*]:-}" >&2
    exit 1
fi
echo "every reference solution passes its check, and every known mistake fails it"

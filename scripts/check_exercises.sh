#!/usr/bin/env bash
# Checks that every exercise check fails on the listings as shipped.
#
# Exercise checks are tests named `exercise_*`, marked #[ignore]. Each one describes a change a
# learner is asked to make, so on the shipped code it must fail; one that passes would let a
# learner "solve" an exercise without doing anything. Run: scripts/check_exercises.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --quiet --tests
total=0
bad=()
for file in tests/*.rs; do
    target=$(basename "$file" .rs)
    names=$(cargo test --quiet --test "$target" -- --ignored --list 2>/dev/null |
        sed -n 's/^\(exercise_[A-Za-z0-9_]*\): test$/\1/p')
    for name in $names; do
        total=$((total + 1))
        if output=$(cargo test --quiet --test "$target" -- --ignored --exact "$name" 2>&1); then
            bad+=("$target::$name passes on the shipped listing")
        elif ! grep -q "test result: FAILED. 0 passed; 1 failed" <<<"$output"; then
            bad+=("$target::$name did not run as a failing test:"$'\n'"$output")
        fi
    done
done

if [[ ${#bad[@]} -gt 0 ]]; then
    printf 'exercise check problem: %s\n' "${bad[@]}" >&2
    exit 1
fi
if [[ $total -eq 0 ]]; then
    echo "no exercise_* tests found" >&2
    exit 1
fi
echo "all $total exercise checks fail on the shipped listings, as they should"

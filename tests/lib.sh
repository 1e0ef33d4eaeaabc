# Shared by the bash test tiers (tests/docker/run.sh, tests/workloads/run.sh):
# how a tier reports (say, unavailable, begin/note/bad/expect, count_case, the
# final "N passed, M failed" counters), shows a command line, and waits. The
# sourcing script sets TIER (its name in messages) first.
# shellcheck shell=bash

say() { echo "$TIER tier: $*"; }

# Gives up on the whole tier: a failure under CI, a skip elsewhere.
unavailable() {
    if [[ ${CI:-} = true ]]; then
        say "FAIL: $* (CI=true: the $TIER tier must run)" >&2
        exit 1
    fi
    say "SKIP: $*"
    exit 0
}

alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

# shellcheck disable=SC2034 # SKIPPED: counted by the tiers that skip cases
PASSED=0 FAILED=0 SKIPPED=0 CASE='' ERRORS=()

begin() {
    CASE=$1 ERRORS=()
    echo
    echo "--- $CASE: $2"
}
# Notes go to fd 3, the tier's stdout, even from a command whose output is discarded.
exec 3>&1
note() { echo "    $*" >&3; }
bad() {
    ERRORS+=("$*")
    note "not ok: $*"
}
# expect DESCRIPTION TEST...: records the check, in the case, with its outcome.
expect() {
    local what=$1
    shift
    if "$@"; then note "ok: $what"; else bad "$what"; fi
}
# Counts the case as passed or failed; each tier's `end` cleans up, then calls it.
count_case() {
    if ((${#ERRORS[@]} == 0)); then
        PASSED=$((PASSED + 1))
        echo "PASS: $CASE"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL: $CASE: $(IFS=';'; echo "${ERRORS[*]}")"
    fi
}

# Shows a command line, quoted where needed.
shown() {
    local arg out=()
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then out+=("$arg"); else out+=("'${arg//\'/\'\\\'\'}'"); fi
    done
    echo "${out[*]}"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for SECONDS WHAT TEST...: polls TEST until it succeeds; a timeout is a failure.
wait_for() {
    local limit=$1 what=$2 deadline=$((SECONDS + $1))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            bad "timed out after ${limit} s waiting for $what"
            return 1
        fi
        sleep 0.1
    done
}
# Waits up to $1 seconds for process $2 to exit.
wait_gone() {
    local deadline=$((SECONDS + $1))
    while alive "$2" && ((SECONDS < deadline)); do sleep 0.05; done
    ! alive "$2"
}
not() { ! "$@"; }
eq() { [[ $1 = "$2" ]]; }
ge() { [[ $1 =~ ^[0-9]+$ ]] && (($1 >= $2)); }
lt() { [[ $1 =~ ^[0-9]+$ ]] && (($1 < $2)); }

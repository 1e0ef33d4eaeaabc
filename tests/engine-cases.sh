# The cases both engine tiers (tests/docker/run.sh, tests/podman/run.sh) run the
# same way through their engine's command line: exit codes, the stop, signals from
# `ENGINE kill`, orphans. A separate file, not tests/lib.sh: lib.sh is every bash
# tier's kit (the workloads and cgroup2 tiers source it too, with no engine), and
# these are cases, which lean on what only an engine tier defines.
#
# The sourcing tier, after tests/lib.sh, sets ENGINE and BASE (an image with no
# pidone and no entrypoint, for the controls) and defines `engine` and `end` (removes
# the case's containers, then count_case). Before each case it sets CASE_PREFIX
# (put before the case's name: the tier's names stay its own) and RUN_AS (the
# `ENGINE run` arguments up to the command: the image with pidone as its ENTRYPOINT,
# or the engine's `--init` options and BASE). A case's optional argument names its
# control; with none, it runs none (a mode whose control another case ran).
# shellcheck shell=bash

case_exit_codes() {
    begin "${CASE_PREFIX}exit-codes" "the workload's status passes through pidone"
    local code=0
    run run --rm --network none "${RUN_AS[@]}" sh -c 'exit 3' || code=$?
    expect "exit 3 -> 3 (got $code)" eq "$code" 3
    code=0
    run run --rm --network none "${RUN_AS[@]}" sh -c 'kill -TERM $$' || code=$?
    expect "death by TERM -> 143 (got $code)" eq "$code" 143
    end
}

# case_stop [CONTROL]: with CONTROL (its description), also stops `sleep` as PID 1,
# which has no TERM handler and, as PID 1, is not killed by TERM: the timeout, then KILL.
case_stop() {
    begin "${CASE_PREFIX}stop" "$ENGINE stop: pidone forwards TERM${1:+; $1}"
    run run -d --name e2e-stop --network none "${RUN_AS[@]}" sleep 1000 >/dev/null
    wait_for 20 "sleep under pidone" in_container e2e-stop pidof sleep
    note "PID 1: $(pid1 e2e-stop)"
    stop_timed e2e-stop 10
    expect "pidone: exit code 143, the workload died of the forwarded TERM" eq "$STOP_CODE" 143
    expect "pidone: stopped before the 10 s timeout" lt "$STOP_MS" 10000
    if [[ -n ${1:-} ]]; then
        local pidone_ms=$STOP_MS
        run run -d --name e2e-stop-control --network none --entrypoint sleep "$BASE" 1000 >/dev/null
        wait_for 20 "the control running" running e2e-stop-control
        stop_timed e2e-stop-control 2
        expect "control: exit code 137 (SIGKILL after the timeout)" eq "$STOP_CODE" 137
        expect "control: took the 2 s timeout" ge "$STOP_MS" 1900
        note "measured: pidone ${pidone_ms} ms vs control ${STOP_MS} ms"
    fi
    end
}

# No control: a shell as PID 1 with these traps would get the signals too.
case_signals() {
    begin "${CASE_PREFIX}signals" "$ENGINE kill -s HUP / -s USR1 reach the workload"
    run run -d --name e2e-signals --network none "${RUN_AS[@]}" sh -c \
        'trap "echo got HUP >> /tmp/log" HUP; trap "echo got USR1 >> /tmp/log" USR1; echo ready; while :; do sleep 1; done' >/dev/null
    wait_for 20 "ready" logs_have e2e-signals ready
    local sig
    for sig in HUP USR1; do
        run kill -s "$sig" e2e-signals >/dev/null
        wait_for 10 "got $sig in /tmp/log" file_has e2e-signals /tmp/log "got $sig" &&
            note "ok: the workload's trap ran for $sig"
    done
    note "/tmp/log: $(engine exec e2e-signals cat /tmp/log 2>&1 | tr '\n' '|')"
    stop_timed e2e-signals 10
    expect "stopped with 143" eq "$STOP_CODE" 143
    end
}

# case_zombies [CONTROL]: with CONTROL (its description), also runs the orphans
# under `sh` as PID 1, which `exec sleep` turns into a PID 1 that reaps nothing.
case_zombies() {
    begin "${CASE_PREFIX}zombies" "$ORPHANS orphans: pidone reaps them${1:+; $1}"
    note "workload: sh -c '$ORPHAN_SCRIPT'"
    run run -d --name e2e-zombies --network none "${RUN_AS[@]}" sh -c "$ORPHAN_SCRIPT" >/dev/null
    zombie_check e2e-zombies none
    if [[ -n ${1:-} ]]; then
        run run -d --name e2e-zombies-control --network none --entrypoint sh "$BASE" -c "$ORPHAN_SCRIPT" >/dev/null
        zombie_check e2e-zombies-control many
    fi
    end
}

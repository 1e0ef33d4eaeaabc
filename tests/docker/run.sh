#!/usr/bin/env bash
# The engine tier: pidone as PID 1 of real containers, in a real Docker engine.
#
# Builds the static pidone (`cargo build-static`) and four static examples, starts
# a private dockerd (its own data and exec roots, socket, containerd, no network,
# no iptables; `--init-path` is pidone), imports a test image with no registry
# (an empty root filesystem with busybox and a few scripts), builds the runtime
# stage of Dockerfile.example on it, and runs the cases below and those it shares
# with the podman tier (tests/engine-cases.sh), each with a control where one
# makes sense. Each case prints what it ran and measured, then PASS or
# FAIL; the last line is "N passed, M failed". Exit status: 0 when all passed.
#
# Needs root, dockerd (Debian: docker.io) and a static /bin/busybox (busybox-static):
# they are installed with apt-get when missing. When the engine cannot run here, the
# tier is skipped with a reason, except under CI=true, where that is a failure.
#
#   bash tests/docker/run.sh
set -uo pipefail

EXAMPLES=(graceful zombies daemonize ignore_term)
BASE=pidone-e2e-base # busybox, no pidone, no entrypoint
IMAGE=pidone-e2e     # Dockerfile.example's runtime stage on top of BASE

TIER=engine ENGINE=docker
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/engine-cases.sh
source "$(dirname "$0")/../engine-cases.sh"

# ---------------------------------------------------------------- prerequisites

install_missing() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    is_static /bin/busybox || missing+=(busybox-static)
    apt_install "${missing[@]}"
}

[[ $(uname -s) = Linux ]] || unavailable "not Linux"
[[ $(id -u) = 0 ]] || unavailable "not root: a Docker engine needs root"
install_missing
DOCKERD=${DOCKERD:-dockerd} # the engine to test; another build of dockerd may be given
# docker.io's client speaks the daemon's API version; another docker on PATH may not.
DOCKER=/usr/bin/docker
[[ -x $DOCKER ]] || DOCKER=$(command -v docker) || unavailable "no docker client"

# --------------------------------------------------------------------- build

build_static "${EXAMPLES[@]}"

# --------------------------------------------------------------- the engine

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pidone-e2e.XXXXXX")
SOCK=$WORK/docker.sock
DOCKERD_PID=
export DOCKER_CONFIG=$WORK/client DOCKER_BUILDKIT=0 DOCKER_CLI_HINTS=false
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

teardown() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    if alive "$DOCKERD_PID"; then
        engine ps -aq 2>/dev/null | xargs -r timeout 60 "$DOCKER" -H "unix://$SOCK" rm -f >/dev/null 2>&1
        kill -TERM "$DOCKERD_PID"
        wait_gone 30 "$DOCKERD_PID" || {
            say "dockerd (pid $DOCKERD_PID) did not stop in 30 s: killing it"
            kill -KILL "$DOCKERD_PID"
        }
        wait "$DOCKERD_PID" 2>/dev/null
    fi
    # Our containerd and its shims name the work dir.
    kill_leftovers "$WORK"
    unmount_under "$WORK"
    rm -rf "$WORK"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

engine() { timeout 60 "$DOCKER" -H "unix://$SOCK" "$@"; }

start_engine() {
    mkdir -p "$WORK/data" "$WORK/exec" "$WORK/bin" "$DOCKER_CONFIG"
    cp "$BIN" "$WORK/bin/pidone"
    echo '{}' >"$WORK/daemon.json"
    DOCKERD_ARGS=(--config-file "$WORK/daemon.json" --data-root "$WORK/data" --exec-root "$WORK/exec"
        --pidfile "$WORK/dockerd.pid" -H "unix://$SOCK" --iptables=false --ip6tables=false
        --bridge=none --exec-opt native.cgroupdriver=cgroupfs --init-path "$WORK/bin/pidone")
    say "starting: $DOCKERD ${DOCKERD_ARGS[*]}"
    "$DOCKERD" "${DOCKERD_ARGS[@]}" >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    local deadline=$((SECONDS + 60))
    until engine version >/dev/null 2>&1; do
        if ! alive "$DOCKERD_PID" || ((SECONDS >= deadline)); then
            tail -n 20 "$WORK/dockerd.log" | sed 's/^/    dockerd: /'
            unavailable "the Docker engine did not start (see the log above)"
        fi
        sleep 0.2
    done
    say "engine up: $(engine version -f 'server {{.Server.Version}}, client {{.Client.Version}}'), $(engine info -f 'storage {{.Driver}}, cgroup driver {{.CgroupDriver}}, cgroup v{{.CgroupVersion}}')"
}

# The test images: BASE is imported from a tar, IMAGE is built with no network.
build_images() { base_and_stage "$WORK" --build-arg "RUNTIME_IMAGE=$BASE"; }

# -------------------------------------------------------------- case helpers

# Ends the case: removes its containers and counts it.
end() {
    engine ps -aq | xargs -r timeout 60 "$DOCKER" -H "unix://$SOCK" rm -f >/dev/null 2>&1
    count_case
}

# ------------------------------------------------------------------- cases

case_static_binary() {
    begin static-binary "cargo build-static makes one static executable"
    local ldd_out size
    ldd_out=$(ldd "$BIN" 2>&1)
    size=$(stat -c %s "$BIN")
    note "binary: $BIN, $size bytes ($((size / 1024)) KiB)"
    command -v file >/dev/null && note "file: $(file -b "$BIN")"
    note "ldd: ${ldd_out//$'\n'/ }"
    expect "ldd: statically linked / not a dynamic executable" \
        grep -qE 'statically linked|not a dynamic executable' <<<"$ldd_out"
    if command -v readelf >/dev/null; then
        expect "no ELF interpreter (readelf: no INTERP header)" not grep -q INTERP < <(readelf -lW "$BIN")
    fi
    count_case
}

# The README's "run an example under pidone", on the host.
case_host_example() {
    begin host-example "pidone -s -- examples/graceful on the host; TERM to pidone"
    local out=$WORK/graceful.out pid code t0
    note "\$ $BIN -s -- $EXAMPLES_DIR/graceful"
    "$BIN" -s -- "$EXAMPLES_DIR/graceful" >"$out" 2>&1 &
    pid=$!
    if wait_for 10 "graceful: ready" grep -q 'graceful: ready' "$out"; then
        t0=$(now_ms)
        kill -TERM "$pid"
    fi
    wait_gone 10 "$pid" || {
        bad "pidone still running 10 s after TERM"
        kill -KILL "$pid"
    }
    wait "$pid"
    code=$?
    note "measured: exit code $code $(($(now_ms) - ${t0:-0})) ms after TERM; output: $(tr '\n' '|' <"$out")"
    expect "exit code 0" eq "$code" 0
    expect "the worker finished its job" grep -q 'graceful: done' "$out"
    count_case
}

case_rewrite() {
    begin rewrite "pidone -r 15:3 -r 10:0: TERM becomes QUIT, USR1 is dropped"
    run run -d --name e2e-rewrite --network none --ulimit core=0 --entrypoint /usr/bin/pidone "$IMAGE" \
        -r 15:3 -r 10:0 -- sh -c 'trap "echo got QUIT; exit 0" QUIT; trap "echo got TERM; exit 0" TERM; trap "echo got USR1" USR1; trap "echo got USR2" USR2; echo ready; while :; do sleep 1; done' >/dev/null
    if wait_for 20 "ready" logs_have e2e-rewrite ready; then
        run kill -s USR1 e2e-rewrite >/dev/null
        run kill -s USR2 e2e-rewrite >/dev/null
        wait_for 10 "got USR2 (sent after USR1)" logs_have e2e-rewrite "got USR2"
        expect "USR1 was dropped" not logs_have e2e-rewrite "got USR1"
        stop_timed e2e-rewrite 10
        expect "docker stop: the workload got QUIT" logs_have e2e-rewrite "got QUIT"
        expect "docker stop: exit code 0 (the QUIT trap exits 0)" eq "$STOP_CODE" 0
    fi
    note "logs: $(log_line e2e-rewrite)"
    end
}

case_pod() {
    begin pod "pidone --pause as the pod's PID 1; members join with --pid container:"
    run run -d --name e2e-pod --network none --entrypoint /usr/bin/pidone "$IMAGE" --pause >/dev/null
    if wait_for 20 "the pause container running" in_container e2e-pod true; then
        note "pod PID 1: $(pid1 e2e-pod)"
        run run -d --name e2e-pod-member --network none --pid container:e2e-pod --entrypoint sh "$BASE" \
            -c "$ORPHAN_SCRIPT" >/dev/null
        zombie_check e2e-pod-member none
        stop_timed e2e-pod 10
        expect "the pause container exits 0 on TERM" eq "$STOP_CODE" 0
        wait_for 20 "the member to exit with the pod" exited e2e-pod-member
        note "measured: member status $(engine inspect -f '{{.State.Status}}' e2e-pod-member), exit code $(exit_code e2e-pod-member)"
        expect "the member died with the pod" exited e2e-pod-member
    fi
    note "pod logs: $(log_line e2e-pod)"
    end
}

case_init() {
    begin init "docker run --init: the engine injects pidone (dockerd --init-path) as PID 1"
    local code=0
    run run -d --name e2e-init --network none --init "$BASE" sleep 1000 >/dev/null
    wait_for 20 "sleep under docker-init" in_container e2e-init pidof sleep
    init_is_pidone e2e-init /sbin/docker-init
    stop_timed e2e-init 10
    expect "docker stop: exit code 143" eq "$STOP_CODE" 143
    run run --rm --network none --init "$BASE" sh -c 'exit 3' || code=$?
    expect "exit 3 -> 3 (got $code)" eq "$code" 3
    run run -d --name e2e-init-zombies --network none --init "$BASE" sh -c "$ORPHAN_SCRIPT" >/dev/null
    zombie_check e2e-init-zombies none
    end
}

case_init_version() {
    begin init-version "docker info parses pidone --version (tini's format)"
    local info
    note "pidone --version: $("$BIN" --version 2>&1 | head -n1)"
    info=$(engine info 2>&1)
    note "docker info: $(grep -E 'Init Binary|init version' <<<"$info" | sed 's/^ *//' | tr '\n' '|')"
    # The engine names the component after the init binary's file name.
    note "docker version: $(engine version 2>&1 | grep -A2 '^ *pidone:' | sed 's/^ *//' | tr '\n' '|')"
    expect "Init Binary is the static pidone" grep -qE "Init Binary: $WORK/bin/pidone\$" <<<"$info"
    expect "init version is a commit" grep -qE 'init version: [0-9a-zA-Z]+$' <<<"$info"
    local warning='failed to (parse|retrieve)|unknown output format'
    expect "no parse warning in docker info" not grep -qiE "$warning" <<<"$info"
    expect "no parse warning in dockerd's log" not grep -qiE "$warning" "$WORK/dockerd.log"
    grep -iE "$warning" "$WORK/dockerd.log" | sed 's/^/    dockerd: /' 
    end
}

case_dockerfile_example() {
    begin dockerfile-example "Dockerfile.example's runtime stage, its own CMD, docker stop"
    note "image: $IMAGE, ENTRYPOINT $(engine inspect -f '{{json .Config.Entrypoint}}' "$IMAGE"), CMD $(engine inspect -f '{{json .Config.Cmd}}' "$IMAGE")"
    run run -d --name e2e-example --network none "$IMAGE" >/dev/null
    wait_for 20 "ready" logs_have e2e-example ready
    stop_timed e2e-example 10
    note "logs: $(log_line e2e-example)"
    expect "exit code 0: the workload's TERM trap ran" eq "$STOP_CODE" 0
    expect "the workload said bye" logs_have e2e-example bye
    end
}

case_examples() {
    begin examples "examples/*.rs (static) in containers under pidone"
    local mount=(-v "$EXAMPLES_DIR:/ex:ro") code=0 t0 out
    run run -d --name e2e-graceful --network none "${mount[@]}" "$IMAGE" /ex/graceful >/dev/null
    wait_for 20 "graceful: ready" logs_have e2e-graceful "graceful: ready"
    stop_timed e2e-graceful 10
    expect "graceful: exit code 0 on docker stop" eq "$STOP_CODE" 0
    expect "graceful: finished its job" logs_have e2e-graceful "graceful: done"

    run run -d --name e2e-ignore --network none "${mount[@]}" "$IMAGE" /ex/ignore_term >/dev/null
    wait_for 20 "ignore_term: ready" logs_have e2e-ignore "ignore_term: ready"
    stop_timed e2e-ignore 2
    expect "ignore_term: killed after the timeout (137)" eq "$STOP_CODE" 137
    expect "ignore_term: took the 2 s timeout" ge "$STOP_MS" 1900

    run run -d --name e2e-zfactory --network none "${mount[@]}" "$IMAGE" /ex/zombies "$ORPHANS" >/dev/null
    wait_for 20 "zombies: left" logs_have e2e-zfactory "zombies: left"
    wait_for 20 "the factory's orphans gone, no zombie" settled e2e-zfactory zombies 1 0
    procs e2e-zfactory zombies && note "measured: under pidone, zombies $ZOMBIES"
    expect "zombies under pidone: none" eq "${ZOMBIES:-}" 0
    run run -d --name e2e-zfactory-control --network none "${mount[@]}" --entrypoint /ex/zombies "$BASE" "$ORPHANS" >/dev/null
    wait_for 20 "zombies: left" logs_have e2e-zfactory-control "zombies: left"
    wait_for 20 "the factory's orphans exited" settled e2e-zfactory-control zombies 1
    procs e2e-zfactory-control zombies && note "measured: as PID 1 itself, zombies $ZOMBIES"
    expect "zombies as PID 1 without pidone: all $ORPHANS stay" eq "${ZOMBIES:-}" "$ORPHANS"

    t0=$(now_ms)
    out=$(run run --rm --network none "${mount[@]}" "$IMAGE" /ex/daemonize 2>&1) || code=$?
    note "measured: daemonize: exit code $code after $(($(now_ms) - t0)) ms; output: ${out//$'\n'/|}"
    expect "daemonize: the container ends with the parent, status 0" eq "$code" 0
    end
}

# -------------------------------------------------------------------- main

T0=$SECONDS
case_static_binary
case_host_example
start_engine
build_images || {
    say "FAIL: cannot build the test images"
    exit 1
}
# pidone as the image's ENTRYPOINT (Dockerfile.example's runtime stage).
CASE_PREFIX='' RUN_AS=("$IMAGE")
case_exit_codes
case_stop "control: sleep as PID 1 needs SIGKILL"
case_signals
case_rewrite
case_zombies "control: nothing reaps"
case_pod
case_init
case_init_version
case_dockerfile_example
case_examples
echo
say "$((PASSED + FAILED)) cases in $((SECONDS - T0)) s (build excluded)"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

# Shared by the bash test tiers (tests/docker/run.sh, tests/podman/run.sh,
# tests/workloads/run.sh): how a tier reports (say, unavailable,
# begin/note/bad/expect, count_case, the final "N passed, M failed" counters),
# shows a command line, waits, installs what it lacks and builds pidone; and, for
# the two engine tiers, the test images (a busybox root, Dockerfile.example's
# runtime stage on it), the cleanup of what an engine leaves behind, and the checks
# run through the engine's command line (the cases made of them that both engines
# run are tests/engine-cases.sh). The sourcing script sets TIER (its name in
# messages) first.
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

# ------------------------------------------------------- install and build

is_static() { [[ -x $1 ]] && ! ldd "$1" >/dev/null 2>&1; }

# apt_install PACKAGE...: installs the packages (none: nothing to do); a failure
# makes the tier unavailable.
apt_install() {
    (($# == 0)) && return 0
    [[ $(id -u) = 0 ]] || unavailable "not root: cannot install $*"
    say "installing $*"
    if ! timeout 600 apt-get update -q >/dev/null ||
        ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q "$@" >/dev/null; then
        unavailable "apt-get install $* failed"
    fi
}

# build_static [EXAMPLE...]: `cargo build-static` of pidone and of the examples
# named; sets BIN and EXAMPLES_DIR. A failed build fails the tier.
build_static() {
    local repo target_dir e args=()
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    target_dir=${CARGO_TARGET_DIR:-target}
    [[ $target_dir = /* ]] || target_dir=$repo/$target_dir
    BIN=$target_dir/x86_64-unknown-linux-gnu/release/pidone
    # shellcheck disable=SC2034 # used by the tiers
    EXAMPLES_DIR=$target_dir/x86_64-unknown-linux-gnu/release/examples
    for e in "$@"; do args+=(--example "$e"); done
    say "building: cargo build-static${*:+; cargo build-static ${args[*]}}"
    (cd "$repo" && timeout 1800 cargo build-static && { (($# == 0)) || timeout 1800 cargo build-static "${args[@]}"; }) || {
        say "FAIL: the static build failed" >&2
        exit 1
    }
}

# ------------------------------------------------- images and the cleanup

# make_rootfs DIR: the test image's root file system: a static busybox with its
# applets and /e2e/procs, which counts processes and zombies in the PID namespace
# it runs in (`procs NAME` prints "live=L zombies=Z": L live processes called
# NAME, Z zombies of any name).
make_rootfs() {
    local root=$1 applet
    mkdir -p "$root"/{bin,usr/bin,tmp,proc,sys,dev,etc,e2e}
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
    done
    cat >"$root/e2e/procs" <<'PROCS'
#!/bin/sh
live=0 zombies=0
for f in /proc/[0-9]*/stat; do
    read -r pid comm state rest 2>/dev/null <"$f" || continue
    if [ "$state" = Z ]; then zombies=$((zombies + 1))
    elif [ "$comm" = "($1)" ]; then live=$((live + 1)); fi
done
echo "live=$live zombies=$zombies"
PROCS
    chmod 755 "$root/e2e/procs"
}

# runtime_stage DIR: DIR/Dockerfile is Dockerfile.example's runtime stage (its
# RUNTIME_IMAGE a build argument), with the static pidone, copied to DIR, in place
# of the build stage's binary: the build context of the image an engine tier tests.
runtime_stage() {
    local ctx=$1 example copy='COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/pidone /usr/bin/pidone'
    example=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/Dockerfile.example
    mkdir -p "$ctx"
    {
        echo 'ARG RUNTIME_IMAGE'
        # shellcheck disable=SC2016 # a literal ${RUNTIME_IMAGE}
        sed -n '/^FROM \${RUNTIME_IMAGE}/,/^$/p' "$example"
    } >"$ctx/Dockerfile"
    grep -qxF "$copy" "$ctx/Dockerfile" || {
        say "Dockerfile.example has no runtime stage 'FROM \${RUNTIME_IMAGE}' with '$copy'"
        return 1
    }
    sed -i "s|^$copy\$|COPY pidone /usr/bin/pidone|" "$ctx/Dockerfile"
    cp "$BIN" "$ctx/pidone"
}

# base_and_stage DIR BUILD_OPTION...: the two images both engine tiers test: BASE,
# imported from DIR/rootfs (make_rootfs, from a tar: no registry), and IMAGE, built
# with no network from runtime_stage DIR/context, shown first. The options are the
# engine's own for that build: how it names BASE in RUNTIME_IMAGE, whether it pulls.
# shellcheck disable=SC2153 # BASE and IMAGE: the engine tier's image names
base_and_stage() {
    local dir=$1
    shift
    make_rootfs "$dir/rootfs"
    tar -C "$dir/rootfs" -c . | engine import --change 'CMD ["sh"]' - "$BASE" >/dev/null || return 1
    runtime_stage "$dir/context" || return 1
    say "building $IMAGE from Dockerfile.example's runtime stage:"
    sed 's/^/    | /' "$dir/context/Dockerfile"
    engine build -q --network none "$@" -t "$IMAGE" "$dir/context" >/dev/null
}

# Processes whose command line names directory $1: what an engine started there
# (its containerd, conmons, shims). Not this shell.
processes_naming() {
    local f pid
    for f in /proc/[0-9]*/cmdline; do
        pid=$(basename "$(dirname "$f")")
        [[ $pid = "$$" || $pid = "$BASHPID" ]] && continue
        { tr '\0' ' ' <"$f" | grep -qF "$1/"; } 2>/dev/null && echo "$pid"
    done
}
# kill_leftovers DIR: kills, with a word each, the processes that name DIR.
kill_leftovers() {
    local pid
    for pid in $(processes_naming "$1"); do
        say "killing leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100)"
        kill -KILL "$pid" 2>/dev/null
    done
}
# unmount_under DIR: lazily unmounts every mount at or below DIR, deepest first.
unmount_under() {
    awk -v root="$1/" 'index($5 "/", root) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r mnt; do umount -l "$mnt" 2>/dev/null; done
}

# ---------------------------------------- checks through an engine's CLI

# The engine tiers set ENGINE (docker, podman: the name shown) and define
# `engine ARG...`, their command line with its options and a timeout.

# Runs the engine and shows the command line.
run() {
    note "\$ $ENGINE $(shown "$@")"
    engine "$@"
}
logs_have() { engine logs "$1" 2>&1 | grep -qF -- "$2"; }
file_has() { engine exec "$1" cat "$2" 2>/dev/null | grep -qF -- "$3"; }
running() { [[ $(engine inspect -f '{{.State.Running}}' "$1" 2>/dev/null) = true ]]; }
exited() { [[ $(engine inspect -f '{{.State.Status}}' "$1" 2>/dev/null) = exited ]]; }
exit_code() { engine inspect -f '{{.State.ExitCode}}' "$1" 2>/dev/null; }
in_container() { engine exec "$1" "${@:2}"; }
# The command line of PID 1 in container $1's PID namespace, one line.
pid1() { engine exec "$1" cat /proc/1/cmdline 2>/dev/null | tr '\0\n' ' |' | sed 's/ $//'; }
# What container $1 logged (its stdout and stderr), one line.
log_line() { engine logs "$1" 2>&1 | tr '\n' '|'; }

# init_is_pidone CONTAINER PATH: PID 1 of CONTAINER, the init the engine injected
# (`ENGINE run --init`), is PATH, and its executable is the static pidone built
# here (the engine names its init after itself: the file's hash says which it is).
init_is_pidone() {
    local exe want got
    exe=$(engine exec "$1" readlink /proc/1/exe)
    note "PID 1: $(pid1 "$1"), exe $exe"
    want=$(sha256sum <"$BIN" | cut -d' ' -f1)
    got=$(engine exec "$1" sha256sum /proc/1/exe | cut -d' ' -f1)
    expect "PID 1 is $2" eq "$exe" "$2"
    expect "PID 1's executable is the static pidone (sha256 ${got:0:12})" eq "$got" "$want"
}

# stop_timed CONTAINER SECONDS: `ENGINE stop -t SECONDS`; sets STOP_MS and STOP_CODE.
stop_timed() {
    local t0
    t0=$(now_ms)
    run stop -t "$2" "$1" >/dev/null
    STOP_MS=$(($(now_ms) - t0))
    STOP_CODE=$(exit_code "$1")
    note "measured: $ENGINE stop -t $2 took ${STOP_MS} ms, exit code $STOP_CODE"
}

# procs CONTAINER NAME: sets LIVE and ZOMBIES as seen in the container's PID namespace.
procs() {
    local out
    out=$(engine exec "$1" /e2e/procs "$2" 2>/dev/null) || return 1
    [[ $out =~ ^live=([0-9]+)\ zombies=([0-9]+)$ ]] || return 1
    LIVE=${BASH_REMATCH[1]} ZOMBIES=${BASH_REMATCH[2]}
}
# settled CONTAINER NAME LIVE [ZOMBIES]: true once LIVE processes called NAME are left
# (and, if given, exactly ZOMBIES zombies).
settled() { procs "$1" "$2" && ((LIVE == $3)) && { (($# < 4)) || ((ZOMBIES == $4)); }; }

# The orphan workload: ORPHANS background `usleep`s whose parent subshell exits at
# once, so they are re-parented to PID 1; then /tmp/spawned; then `sleep 1000`.
# A tier may set ORPHANS first.
ORPHANS=${ORPHANS:-50}
# shellcheck disable=SC2034 # used by the engine tiers
ORPHAN_SCRIPT="for i in \$(seq $ORPHANS); do (usleep 500000 &); done; touch /tmp/spawned; exec sleep 1000"

# zombie_check CONTAINER EXPECTED: waits until the orphans have exited, then counts
# the zombies. EXPECTED is "none" (PID 1 reaps) or "many" (nothing reaps).
zombie_check() {
    wait_for 20 "/tmp/spawned in $1" in_container "$1" test -e /tmp/spawned || return
    if [[ $2 = none ]]; then
        wait_for 20 "every orphan gone and no zombie" settled "$1" usleep 0 0
    else
        wait_for 20 "every orphan exited" settled "$1" usleep 0
    fi
    procs "$1" usleep
    note "measured: live orphans $LIVE, zombies $ZOMBIES"
    if [[ $2 = none ]]; then
        expect "no zombie left" eq "$ZOMBIES" 0
    else
        expect "the orphans stay zombies ($ZOMBIES >= $((ORPHANS / 2)))" ge "$ZOMBIES" $((ORPHANS / 2))
    fi
}

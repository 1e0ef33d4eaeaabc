#!/usr/bin/env bash
# The podman tier: pidone in Podman, as a container's ENTRYPOINT, as the injected
# `--init`, as a pod's infra (pause) process, and in the Kubernetes Pod manifests
# of examples/kubernetes/, played with `podman kube play`.
#
# Builds the static pidone (`cargo build-static`), gives podman a storage root, run
# root, containers.conf, storage.conf and registries.conf of its own in a temporary
# directory (vfs storage, cgroupfs, runc, no search registry), imports a test image
# with no registry (a busybox root file system from a tar), builds on it the runtime
# stage of Dockerfile.example (tagged pidone-demo, the image the manifests name) and
# examples/kubernetes/pause.Containerfile (pidone-pause), and runs the cases below
# and those it shares with the engine tier (tests/engine-cases.sh), each with a
# control where one makes sense. Every container runs with `--network none`. Each
# case prints what it ran and measured, then PASS or FAIL; the last line is "N
# passed, M failed". Exit status: 0 when all passed.
#
# What this podman needs here, and why:
# - containers.conf `default_ulimits = []`: podman raises RLIMIT_NOFILE by default,
#   which some sandboxes refuse (every container fails to start);
# - runc, not crun: Debian's crun 1.8 refuses a cgroup v1 host whose cgroup v2
#   hierarchy has a controller ("cgroups in hybrid mode not supported");
# - podman 4.3 takes containers.conf `infra_image` for `pod create` and for `kube
#   play`, but applies `infra_command` (a string, not a list) to neither, and
#   `--infra-command` is one path with no argument: pause mode comes from the pause
#   image (its ENTRYPOINT, and PIDONE_PAUSE=1 for an --infra-command).
# Whatever its configuration says, podman 4.3 writes its blob cache to
# /var/lib/containers/cache, and netavark and runc create /run/containers and
# /run/runc: the tier removes those that did not exist before it ran.
#
# Needs root, podman, runc, catatonit (podman kube play builds its pause image
# with it) and a static /bin/busybox (busybox-static): they are
# installed with apt-get when missing. When podman cannot run here, the tier is
# skipped with a reason, except under CI=true, where that is a failure.
#
# The termination message check of the crash case (issue 14) runs once pidone
# accepts --termination-log; PIDONE_REQUIRE_TERMINATION_LOG=1 makes it run (and
# fail) before.
#
#   bash tests/podman/run.sh
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
KUBE=$REPO/examples/kubernetes
BASE=pidone-e2e-base # busybox, no pidone, no entrypoint
IMAGE=pidone-demo    # Dockerfile.example's runtime stage on top of BASE
PAUSE=pidone-pause   # examples/kubernetes/pause.Containerfile
# Made by podman, whatever its configuration (see above).
HOST_DIRS=(/var/lib/containers /run/containers /run/runc /run/crun /run/libpod /etc/containers/networks)

TIER=podman ENGINE=podman
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/engine-cases.sh
source "$(dirname "$0")/../engine-cases.sh"

# ---------------------------------------------------------------- prerequisites

install_missing() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    # podman kube play builds its local pause image around catatonit (a
    # Recommends of podman, so a --no-install-recommends podman lacks it).
    command -v catatonit >/dev/null || [[ -x /usr/libexec/podman/catatonit ]] ||
        missing+=(catatonit)
    is_static /bin/busybox || missing+=(busybox-static)
    apt_install "${missing[@]}"
}

[[ $(uname -s) = Linux ]] || unavailable "not Linux"
[[ $(id -u) = 0 ]] || unavailable "not root: this tier runs podman rootful"
install_missing
# shellcheck disable=SC2119 # no example to build
build_static

# --------------------------------------------------------------- the engine

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pidone-podman.XXXXXX")
NEW_DIRS=()
for d in "${HOST_DIRS[@]}"; do [[ -e $d ]] || NEW_DIRS+=("$d"); done
export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf \
    CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf
PAUSE_CONF=$WORK/containers-pause.conf # the same, with infra_image = pidone-pause
unset CONTAINER_HOST CONTAINER_CONNECTION

engine() { timeout 120 podman --root "$WORK/root" --runroot "$WORK/runroot" --storage-driver vfs "$@"; }

teardown() {
    local status=$? d
    set +e
    trap - EXIT INT TERM
    if [[ -e $WORK/containers.conf ]]; then
        engine pod rm -af -t 0 >/dev/null 2>&1
        engine rm -af -t 0 >/dev/null 2>&1
    fi
    # Our conmons name the work dir.
    kill_leftovers "$WORK"
    unmount_under "$WORK"
    rm -rf "$WORK"
    for d in "${NEW_DIRS[@]}"; do
        [[ -e $d ]] && rm -rf "$d"
    done
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

start_engine() {
    mkdir -p "$WORK/bin" "$WORK/tmp"
    cp "$BIN" "$WORK/bin/pidone"
    cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
tmp_dir = "$WORK/tmp"
image_copy_tmp_dir = "$WORK/tmp"

[network]
network_config_dir = "$WORK/networks"
EOF
    sed 's|^\[engine\]$|[engine]\ninfra_image = "localhost/'"$PAUSE"':latest"|' "$CONTAINERS_CONF" >"$PAUSE_CONF"
    cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
graphroot = "$WORK/root"
runroot = "$WORK/runroot"
EOF
    echo 'unqualified-search-registries = []' >"$CONTAINERS_REGISTRIES_CONF"
    say "podman: --root $WORK/root --runroot $WORK/runroot --storage-driver vfs; CONTAINERS_CONF=$CONTAINERS_CONF:"
    sed 's/^/    | /' "$CONTAINERS_CONF"
    local info
    info=$(engine info --format '{{.Version.Version}}, runtime {{.Host.OCIRuntime.Name}}, cgroup v{{.Host.CgroupsVersion}} ({{.Host.CgroupManager}}), storage {{.Store.GraphDriverName}}' 2>&1) ||
        unavailable "podman info failed: $info"
    say "podman $info"
}

# The test images, with no registry: BASE from a tar, IMAGE and PAUSE built on it.
build_images() {
    # podman names an imported image localhost/NAME, and would look up a registry.
    base_and_stage "$WORK" --pull=never --build-arg "RUNTIME_IMAGE=localhost/$BASE" || return 1
    mkdir -p "$WORK/pause" && cp "$BIN" "$WORK/pause/pidone"
    say "building $PAUSE: podman build -f examples/kubernetes/pause.Containerfile -t $PAUSE DIR (DIR holds pidone)"
    engine build -q --pull=never --network none -f "$KUBE/pause.Containerfile" -t "$PAUSE" "$WORK/pause" >/dev/null
}

# -------------------------------------------------------------- case helpers

# Ends the case: removes its pods and containers and counts it.
end() {
    engine pod rm -af -t 0 >/dev/null 2>&1
    engine rm -af -t 0 >/dev/null 2>&1
    count_case
}

starts_with() { [[ $1 == "$2"* ]]; }
# The PID namespace of container $1, seen from the host.
pid_ns() { readlink "/proc/$(engine inspect -f '{{.State.Pid}}' "$1")/ns/pid"; }
# Container $1's process in its own PID namespace (the last NSpid field).
ns_pid() { awk '$1 == "NSpid:" { print $NF }' "/proc/$(engine inspect -f '{{.State.Pid}}' "$1")/status"; }
# The lines of container $1's log that mention pidone.
pidone_lines() { engine logs "$1" 2>&1 | grep -i pidone; }

# The orphans the manifests' app leaves (20 `sleep 3`): waits until it is ready and
# they have exited, then counts the zombies of the pod's (or container's) namespace.
kube_orphans_reaped() {
    wait_for 30 "ready in $1's log" logs_have "$1" ready || return
    procs "$1" sleep && note "measured: at ready, live orphans $LIVE, zombies $ZOMBIES"
    wait_for 20 "every orphan gone and no zombie" settled "$1" sleep 0 0
    procs "$1" sleep
    note "measured: live orphans $LIVE, zombies $ZOMBIES"
    expect "no zombie left" eq "$ZOMBIES" 0
}

# pod_stop_timed POD: `podman pod stop -t 10 POD`; sets STOP_MS.
pod_stop_timed() {
    local t0
    t0=$(now_ms)
    run pod stop -t 10 "$1" >/dev/null
    STOP_MS=$(($(now_ms) - t0))
    note "measured: podman pod stop -t 10 took ${STOP_MS} ms"
}

# ------------------------------------------------------------------- cases

# 1. pidone as the image's ENTRYPOINT (Dockerfile.example's runtime stage).
case_entrypoint() {
    CASE_PREFIX=entrypoint- RUN_AS=("$IMAGE")
    case_exit_codes
    case_stop "control: sleep as PID 1 needs SIGKILL"
    case_signals
    case_zombies "control: sh then sleep as PID 1, nothing reaps"
}

# 2. `podman run --init --init-path`: podman bind-mounts pidone at /run/podman-init.
case_init() {
    begin init "podman run --init --init-path pidone: PID 1 is /run/podman-init, the static pidone"
    run run -d --name e2e-init --network none --init --init-path "$WORK/bin/pidone" "$BASE" sleep 1000 >/dev/null
    wait_for 20 "sleep under the init" in_container e2e-init pidof sleep
    init_is_pidone e2e-init /run/podman-init
    end
    # The controls ran with the ENTRYPOINT cases.
    CASE_PREFIX=init- RUN_AS=(--init --init-path "$WORK/bin/pidone" "$BASE")
    case_exit_codes
    case_stop
    case_signals
    case_zombies
}

# 3. pidone --pause as the infra process of a pod made with `podman pod create`.
case_pod_infra() {
    begin pod-infra "podman pod create --infra-image $PAUSE --infra-command /usr/bin/pidone: pidone --pause is the pod's PID 1"
    local infra
    run pod create --name e2e-pod --network none --share pid,ipc,uts \
        --infra-image "localhost/$PAUSE:latest" --infra-command /usr/bin/pidone >/dev/null
    run run -d --pod e2e-pod --name e2e-pod-member "$BASE" sh -c "$ORPHAN_SCRIPT" >/dev/null
    infra=$(engine pod inspect -f '{{.InfraContainerID}}' e2e-pod)
    if wait_for 20 "the member running" in_container e2e-pod-member true; then
        note "pod PID 1: $(pid1 e2e-pod-member), its PIDONE_ variables: $(engine exec e2e-pod-member cat /proc/1/environ | tr '\0' '\n' | grep '^PIDONE_' | tr '\n' ' ')"
        expect "PID 1 of the pod is pidone" eq "$(engine exec e2e-pod-member readlink /proc/1/exe)" /usr/bin/pidone
        expect "the member is in the infra's PID namespace" eq "$(pid_ns e2e-pod-member)" "$(pid_ns "$infra")"
        expect "the infra's process is PID 1 there" eq "$(ns_pid "$infra")" 1
        expect "pause mode: PIDONE_PAUSE=1 from the image (--infra-command takes no argument)" \
            grep -qx PIDONE_PAUSE=1 < <(engine exec e2e-pod-member cat /proc/1/environ | tr '\0' '\n')
        zombie_check e2e-pod-member none
        pod_stop_timed e2e-pod
        expect "podman pod stop returned before the 10 s timeout" lt "$STOP_MS" 10000
        note "measured: infra exit code $(exit_code "$infra"), member exit code $(exit_code e2e-pod-member)"
        expect "the infra (pidone --pause) exits 0" eq "$(exit_code "$infra")" 0
        # 143: the member's TERM came first; 137: the infra died first and the
        # kernel killed the rest of its PID namespace (podman 4.3 stops both at once).
        expect "the member ended with the pod (143 or 137)" grep -qxE '143|137' <<<"$(exit_code e2e-pod-member)"
    fi
    note "infra logs: $(log_line "$infra")"
    end
}

# 4a. examples/kubernetes/init.yaml and shared-pid.yaml: pidone as the app's init.
# kube_app MANIFEST POD INFRA: plays MANIFEST, checks PID 1 (pidone, or the pod's
# infra process INFRA), the orphans, the stop (the app, then the pod), the log,
# and `podman kube down`.
kube_app() {
    local manifest=$1 pod=$2 infra_want=$3 ctr=$2-app infra
    if ! run kube play --network none "$KUBE/$manifest" >/dev/null; then
        bad "podman kube play $manifest failed"
        return
    fi
    wait_for 30 "ready in $ctr's log" logs_have "$ctr" ready || return
    infra=$(engine pod inspect -f '{{.InfraContainerID}}' "$pod")
    note "pod $pod: infra image $(engine inspect -f '{{.ImageName}}' "$infra"), app PID 1: $(pid1 "$ctr")"
    case $infra_want in
    pidone) expect "PID 1 of the app container is pidone" starts_with "$(pid1 "$ctr")" "/usr/bin/pidone -- sh -c " ;;
    *) expect "PID 1 of the pod is $infra_want" eq "$(pid1 "$ctr")" "$infra_want" ;;
    esac
    kube_orphans_reaped "$ctr"
    # The kubelet's order: the app containers (TERM, grace period, KILL), then the
    # sandbox. podman 4.3's `pod stop` stops the infra alongside the app, and when
    # the infra, PID 1 of a shared PID namespace, dies first, the kernel kills the
    # app (137, its TERM handler never runs).
    stop_timed "$ctr" 10
    note "app log: $(log_line "$ctr")"
    expect "the app stopped before the 10 s timeout" lt "$STOP_MS" 10000
    expect "the app's TERM trap ran (bye)" logs_have "$ctr" bye
    expect "the app exited 0" eq "$STOP_CODE" 0
    pod_stop_timed "$pod"
    note "measured: infra exit code $(exit_code "$infra")"
    expect "the pod stopped before the 10 s timeout" lt "$STOP_MS" 10000
    [[ $infra_want = "/usr/bin/pidone --pause" ]] && expect "the infra (pidone --pause) exited 0" eq "$(exit_code "$infra")" 0
    local said
    said=$(pidone_lines "$ctr")
    expect "the app container's log holds nothing from pidone${said:+ (it holds: ${said//$'\n'/|})}" eq "$said" ""
    run kube down "$KUBE/$manifest" >/dev/null || bad "podman kube down $manifest failed"
    expect "podman kube down removed the pod" not engine pod exists "$pod"
}

case_kube_init() {
    begin kube-init "podman kube play examples/kubernetes/init.yaml: pidone is PID 1 of the app container"
    kube_app init.yaml pidone-init pidone
    end
}

case_kube_shared() {
    begin kube-shared "podman kube play examples/kubernetes/shared-pid.yaml: shareProcessNamespace, podman's pause image"
    kube_app shared-pid.yaml pidone-shared "/catatonit -P"
    end
}

# 4b. The same pod, with containers.conf infra_image = pidone-pause (podman 4.3
# honours it for kube play; it ignores containers.conf infra_command).
case_kube_infra() {
    begin kube-infra "CONTAINERS_CONF with infra_image = $PAUSE; podman kube play examples/kubernetes/shared-pid.yaml"
    note "containers.conf: $(grep infra_image "$PAUSE_CONF")"
    CONTAINERS_CONF=$PAUSE_CONF kube_app shared-pid.yaml pidone-shared "/usr/bin/pidone --pause"
    end
}

# Whether this pidone writes a termination message (issue 14).
has_termination_log() { "$BIN" --termination-log "$WORK/termination-probe" -- true >/dev/null 2>&1; }

# 4c. examples/kubernetes/crash.yaml: the app dies of SIGSEGV.
case_kube_crash() {
    begin kube-crash "podman kube play examples/kubernetes/crash.yaml: the app dies of SIGSEGV"
    local path manifest=$WORK/crash.yaml log=$WORK/termination-log ctr=pidone-crash-app
    path=$(sed -n 's/^ *terminationMessagePath: *//p' "$KUBE/crash.yaml")
    expect "crash.yaml names a terminationMessagePath ($path)" test -n "$path"
    # On a cluster the kubelet mounts that file; here it is a host file.
    : >"$log"
    {
        sed "s|^\( *\)terminationMessagePath: .*|&\n\1volumeMounts:\n\1- {name: termination-log, mountPath: $path}|" "$KUBE/crash.yaml"
        echo "  volumes:"
        echo "  - {name: termination-log, hostPath: {path: $log, type: File}}"
    } >"$manifest"
    note "played: crash.yaml with a hostPath volume $log mounted at $path"
    run kube play --network none "$manifest" >/dev/null || bad "podman kube play crash.yaml failed"
    wait_for 30 "the app to die" exited "$ctr"
    expect "the host file is mounted at $path" \
        grep -qxF "$path" < <(engine inspect -f '{{range .Mounts}}{{println .Destination}}{{end}}' "$ctr")
    note "measured: exit code $(exit_code "$ctr"), status $(engine inspect -f '{{.State.Status}}' "$ctr"); log: $(log_line "$ctr")"
    expect "podman inspect: exit code 139 (128 + SIGSEGV)" eq "$(exit_code "$ctr")" 139
    note "termination message ($path): $(tr '\n' '|' <"$log")"
    if has_termination_log || [[ ${PIDONE_REQUIRE_TERMINATION_LOG:-} = 1 ]]; then
        expect "one line in the termination message" eq "$(grep -c '' "$log")" 1
        expect "it says the workload was killed by SIGSEGV" \
            grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z: the workload 'sh -c .*' \(pid [0-9]+\) died after .*: killed by SIGSEGV$" "$log"
    else
        note "skipped: the termination message check (this pidone has no --termination-log: issue 14)"
        SKIPPED=$((SKIPPED + 1))
    fi
    run kube down "$manifest" >/dev/null || bad "podman kube down crash.yaml failed"
    end
}

# -------------------------------------------------------------------- main

T0=$SECONDS
start_engine
build_images || {
    say "FAIL: cannot build the test images"
    exit 1
}
case_entrypoint
case_init
case_pod_infra
case_kube_init
case_kube_shared
case_kube_infra
case_kube_crash
echo
say "$((PASSED + FAILED)) cases in $((SECONDS - T0)) s (build excluded)$( ((SKIPPED == 0)) || echo ", $SKIPPED check skipped")"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

#!/usr/bin/env bash
# The workload tier: pidone as PID 1 of the real programs it is made for, php-fpm,
# nginx and node, from Debian's packages, each in a fresh PID namespace
# (`unshare --pid --fork --mount-proc pidone ... -- COMMAND`).
#
# Builds the static pidone (`cargo build-static`), writes the configurations of
# this directory (php-fpm.conf, nginx.conf, nginx-php.conf, www/*.php) and
# examples/php/Procfile into a temporary directory, and runs the cases below. Processes are watched from the host's /proc: pidone's
# descendants, their states (zombies), who is whose parent. Each case prints what
# it ran and measured, then PASS or FAIL; the last line is "N passed, M failed".
# Exit status: 0 when all passed. Traffic goes to 127.0.0.1 only, every wait has a
# bound, and no system service or configuration is touched.
#
# Needs root, unshare (util-linux), php-fpm, nginx, cgi-fcgi (libfcgi-bin), curl
# and node: the missing ones are installed with apt-get. The OOM case also needs
# the cgroup v1 memory controller at /sys/fs/cgroup/memory; the php-image case,
# Debian's nginx and php8.2-fpm configuration in /etc, nsenter and ip. What cannot be had is
# a skip with a reason, except under CI=true, where it is a failure.
#
#   bash tests/workloads/run.sh
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/tests/workloads
TRIPLE=x86_64-unknown-linux-gnu
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ $TARGET_DIR = /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
BIN=$TARGET_DIR/$TRIPLE/release/pidone
MEMCG_ROOT=/sys/fs/cgroup/memory
MEMCG_LIMIT=$((32 << 20)) # php-fpm and 2 idle workers use about 9 MiB
ORPHANS=20                 # short-lived orphans left by examples/node/spawner.js
STOP_BOUND=10              # docker stop's default grace period, in seconds
GRACE=10                   # pidone -t, in seconds, where reloads are tested with it

TIER=workload
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

# ---------------------------------------------------------------- prerequisites

# The Debian binary is versioned (php-fpm8.2); other systems have php-fpm.
find_php_fpm() {
    PHP_FPM=$(command -v php-fpm) ||
        PHP_FPM=$(find /usr/sbin /usr/bin -maxdepth 1 -name 'php-fpm[0-9]*' 2>/dev/null | sort -V | tail -n1)
    [[ -n $PHP_FPM && -x $PHP_FPM ]]
}

install_missing() {
    local missing=()
    find_php_fpm || missing+=(php-fpm)
    command -v nginx >/dev/null || missing+=(nginx)
    command -v cgi-fcgi >/dev/null || missing+=(libfcgi-bin)
    command -v curl >/dev/null || missing+=(curl)
    command -v node >/dev/null || missing+=(nodejs)
    command -v unshare >/dev/null || missing+=(util-linux)
    ((${#missing[@]} == 0)) && return 0
    say "installing ${missing[*]}"
    # Debian's policy-rc.d in containers keeps the packages' services from
    # starting; elsewhere they may start, on their own ports: this tier uses its own.
    if ! timeout 600 apt-get update -q >/dev/null ||
        ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q "${missing[@]}" >/dev/null; then
        unavailable "apt-get install ${missing[*]} failed"
    fi
    find_php_fpm || unavailable "no php-fpm binary after installing php-fpm"
}

[[ $(uname -s) = Linux ]] || unavailable "not Linux"
[[ $(id -u) = 0 ]] || unavailable "not root: PID namespaces, packages and cgroups need root"
install_missing
unshare --pid --fork --mount-proc true 2>/dev/null || unavailable "unshare --pid --fork --mount-proc does not work here"
WWW_USER=www-data WWW_GROUP=www-data
id -u www-data >/dev/null 2>&1 || WWW_USER=nobody WWW_GROUP=nogroup
unset NOTIFY_SOCKET # php-fpm would talk to systemd

# --------------------------------------------------------------------- build

say "building: cargo build-static"
(cd "$REPO" && timeout 1800 cargo build-static) || {
    say "FAIL: the static build failed" >&2
    exit 1
}
say "pidone: $BIN ($("$BIN" --version 2>&1 | head -n1)); $("$PHP_FPM" -v | head -n1); nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'); node $(node --version)"

# --------------------------------------------------------------- the work dir

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pidone-wl.XXXXXX")
chmod 755 "$WORK" # the workers run as $WWW_USER and read the scripts
MEMCG=
WRAP=()    # what start() runs unshare under
STARTED=() # the pidones this tier started (host pids), for the teardown

teardown() {
    local status=$? pid
    set +e
    trap - EXIT INT TERM
    # Killing a PID 1 kills its whole namespace.
    for pid in "${STARTED[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
    if [[ -n $MEMCG && -d $MEMCG ]]; then
        while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$MEMCG/cgroup.procs"
        local tries=0
        until rmdir "$MEMCG" 2>/dev/null || ((++tries > 50)); do sleep 0.1; done
        [[ -d $MEMCG ]] && say "could not remove the memory cgroup $MEMCG"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# A port on 127.0.0.1 that nothing listens on, from a range that depends on our pid.
free_port() {
    local port i hex
    for ((i = 0; i < 100; i++)); do
        port=$((20000 + ($$ * 7 + i * 131 + $1) % 30000))
        printf -v hex '%04X' "$port"
        grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null || {
            echo "$port"
            return
        }
    done
    echo "$((40000 + $1))"
}
FPM_PORT=$(free_port 1)
NGINX_PORT=$(free_port 2)
NODE_PORT=$(free_port 3)
WEB_PORT=$(free_port 4)

# Copies template $1 to $2, with the placeholders filled in for directory $3.
render() {
    sed -e "s|@DIR@|$3|g" -e "s|@USER@|$WWW_USER|g" -e "s|@GROUP@|$WWW_GROUP|g" -e "s|@PORT@|$4|g" \
        -e "s|@ROOT@|$FPM_DIR/www|g" -e "s|@FPM_PORT@|$FPM_PORT|g" "$1" >"$2"
}
FPM_DIR=$WORK/php
mkdir -p "$FPM_DIR/www" "$FPM_DIR/run"
chmod 777 "$FPM_DIR/run" # slow.php's marker, written by a worker
render "$HERE/php-fpm.conf" "$FPM_DIR/php-fpm.conf" "$FPM_DIR" "$FPM_PORT"
cp "$HERE"/www/*.php "$FPM_DIR/www/"
chmod -R a+rX "$FPM_DIR/www"
NGINX_DIR=$WORK/nginx
mkdir -p "$NGINX_DIR/tmp"
render "$HERE/nginx.conf" "$NGINX_DIR/nginx.conf" "$NGINX_DIR" "$NGINX_PORT"
NGINX=(nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log")
# The classic PHP image: nginx in front of the same pool, both from one Procfile,
# examples/php/Procfile with this tier's paths (its shape is checked in the case).
WEB_DIR=$WORK/web
mkdir -p "$WEB_DIR/tmp"
render "$HERE/nginx-php.conf" "$WEB_DIR/nginx.conf" "$WEB_DIR" "$WEB_PORT"
PROCFILE=$WORK/Procfile
sed -e "s|nginx -c /etc/nginx/nginx.conf |nginx -p $WEB_DIR -c $WEB_DIR/nginx.conf -e $WEB_DIR/error.log |" \
    -e "s|php-fpm8.2 -F -y /etc/php/8.2/fpm/php-fpm.conf\$|$PHP_FPM -F -y $FPM_DIR/php-fpm.conf|" \
    "$REPO/examples/php/Procfile" >"$PROCFILE"

# -------------------------------------------------------------- case helpers

# Ends the case: kills what it left running (a failed case may) and counts it.
end() {
    local pid
    for pid in "${STARTED[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
    count_case
}
# A case that cannot run here: a failure under CI, a skip elsewhere.
skip_case() {
    if [[ ${CI:-} = true ]]; then
        bad "$* (CI=true: the case must run)"
        end
        return
    fi
    SKIPPED=$((SKIPPED + 1))
    echo "SKIP: $CASE: $*"
}

has() { grep -qE -- "$2" "$1" 2>/dev/null; }

# ------------------------------------------------------ processes, from the host

# children PID: sets KIDS, the children of every thread of PID (host pids).
children() {
    local t k
    KIDS=()
    for t in /proc/"$1"/task/*/children; do
        read -r -a k <"$t" 2>/dev/null || true
        KIDS+=("${k[@]}")
    done 2>/dev/null
}
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }
state() {
    local stat
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    stat=${stat##*) }
    echo "${stat%% *}"
}
# tree PID: sets TREE, PID's descendants (host pids; as PID 1, the whole namespace
# but PID 1), and ZOMBIES, how many of them are zombies. Bounded: 5000 processes.
tree() {
    local queue=("$1") pid i=0
    TREE=() ZOMBIES=0
    while ((${#queue[@]} > 0 && i++ < 5000)); do
        children "${queue[0]}"
        queue=("${queue[@]:1}" "${KIDS[@]}")
        for pid in "${KIDS[@]}"; do
            TREE+=("$pid")
            [[ $(state "$pid") = Z ]] && ZOMBIES=$((ZOMBIES + 1))
        done
    done
}
# child_of PARENT PATTERN: prints the first child of PARENT whose command line matches.
child_of() {
    local pid
    children "$1"
    for pid in "${KIDS[@]}"; do
        [[ $(cmdline "$pid") =~ $2 ]] && echo "$pid" && return 0
    done
    return 1
}
# count_in TREE_ROOT PATTERN: sets N, the descendants whose command line matches.
count_in() {
    local pid
    tree "$1"
    N=0
    for pid in "${TREE[@]}"; do [[ $(cmdline "$pid") =~ $2 ]] && N=$((N + 1)); done
    return 0
}
ns_of() { stat -L -c %i "/proc/$1/ns/pid" 2>/dev/null; }
# ns_pid PID: the pid of host process PID in its own (innermost) PID namespace.
ns_pid() { awk '$1 == "NSpid:" { print $NF }' "/proc/$1/status" 2>/dev/null; }
# stays MS PID...: true if every PID stays alive for MS milliseconds; false at
# once when one is gone. After a reload this outlasts the grace period: a KILL
# that a reload had set off would come within it.
stays() {
    local deadline=$(($(now_ms) + $1)) pid
    shift
    while (($(now_ms) < deadline)); do
        for pid in "$@"; do alive "$pid" || return 1; done
        sleep 0.2
    done
}
# in_ns INODE: prints how many processes of the host live in that PID namespace.
in_ns() { stat -L -c %i /proc/[0-9]*/ns/pid 2>/dev/null | grep -cx "$1"; }
ns_empty() { [[ $(in_ns "$1") = 0 ]]; }

# start NAME PIDONE_ARGS...: runs `unshare --pid --fork --mount-proc pidone ARGS` in
# the background (after ${WRAP[@]}, if set), its output in $WORK/NAME.log. Sets
# LOG, UNSHARE (the job) and P1 (pidone's host pid) and NS (its namespace).
start() {
    local name=$1
    shift
    LOG=$WORK/$name.log P1='' NS=''
    note "\$ ${WRAP:+$(shown "${WRAP[@]}") }unshare --pid --fork --mount-proc pidone $(shown "$@")"
    "${WRAP[@]}" unshare --pid --fork --mount-proc "$BIN" "$@" >"$LOG" 2>&1 &
    UNSHARE=$!
    wait_for 10 "pidone under unshare" pidone_up || return 1
    if [[ -z $P1 ]]; then
        wait "$UNSHARE"
        bad "pidone exited at once, status $?: $(head -c 300 "$LOG" | tr '\n' '|')"
        return 1
    fi
    STARTED+=("$P1")
    NS=$(ns_of "$P1")
}
# True once pidone runs under unshare, or unshare has exited (P1 empty).
pidone_up() {
    alive "$UNSHARE" || { P1='' && return 0; }
    children "$UNSHARE"
    P1=${KIDS[0]:-}
    [[ -n $P1 && $(readlink "/proc/$P1/exe") = "$BIN" ]]
}
# stop SIG: sends SIG to pidone and waits for it (STOP_BOUND s); sets CODE, STOP_MS.
stop() {
    local t0
    t0=$(now_ms)
    note "\$ kill -$1 <pidone>"
    kill -"$1" "$P1"
    wait_gone "$STOP_BOUND" "$UNSHARE" || bad "pidone still running $STOP_BOUND s after $1"
    STOP_MS=$(($(now_ms) - t0))
    alive "$UNSHARE" && kill -KILL "$P1"
    wait "$UNSHARE"
    CODE=$?
    note "measured: pidone exited with $CODE, ${STOP_MS} ms after $1"
}
# Shows pidone's and the workload's output, indented.
show_log() { sed 's/^/    | /' "$1" >&3; }

# ------------------------------------------------------------------- php-fpm

# One FastCGI request to the pool, as nginx would send it: the body on stdout.
fcgi() {
    SCRIPT_FILENAME=$FPM_DIR/www/$1 SCRIPT_NAME=/$1 REQUEST_METHOD=GET QUERY_STRING=${2:-} \
        SERVER_NAME=localhost SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 \
        timeout 20 cgi-fcgi -bind -connect "127.0.0.1:$FPM_PORT"
}
FPM_CMD=("$PHP_FPM" -F -y "$FPM_DIR/php-fpm.conf")

# fpm_up: true once pidone's child is the php-fpm master with 2 workers;
# sets MASTER and WORKERS.
fpm_up() {
    MASTER=$(child_of "$P1" '^php-fpm: master process') || return 1
    local pid
    WORKERS=()
    children "$MASTER"
    for pid in "${KIDS[@]}"; do [[ $(cmdline "$pid") =~ ^php-fpm:\ pool ]] && WORKERS+=("$pid"); done
    ((${#WORKERS[@]} == 2)) && has "$FPM_DIR/php-fpm.log" 'ready to handle connections'
}
# replaced OLD: true once 2 workers run, OLD is not one of them, and no zombie is left.
replaced() {
    fpm_up && [[ " ${WORKERS[*]} " != *" $1 "* ]] && tree "$P1" && ((ZOMBIES == 0))
}
# fpm_reloaded MASTER OLD_WORKERS: true once php-fpm has re-executed itself
# (its log says so), MASTER still is pidone's child with 2 workers, none of
# them old, and no zombie is left.
fpm_reloaded() {
    has "$FPM_DIR/php-fpm.log" 'reloading: execvp' && fpm_up && [[ $MASTER = "$1" ]] || return 1
    local pid
    for pid in "${WORKERS[@]}"; do [[ " $2 " = *" $pid "* ]] && return 1; done
    tree "$P1"
    ((ZOMBIES == 0))
}

case_php_fpm() {
    begin php-fpm "pidone -t ${GRACE}s -r TERM:QUIT -- $(basename "$PHP_FPM") -F: requests, a worker killed, USR2 reloads, graceful stop"
    local t0 out victim slow_pid slow_ms stop_t old_master old_workers
    : >"$FPM_DIR/php-fpm.log"
    rm -f "$FPM_DIR/run/slow.started"
    t0=$(now_ms)
    start php-fpm -v -t "${GRACE}s" -r TERM:QUIT -- "${FPM_CMD[@]}" || { end; return; }
    if wait_for 20 "the php-fpm master and 2 workers, ready" fpm_up; then
        note "measured: up in $(($(now_ms) - t0)) ms: pidone $P1 > master $MASTER ($(cmdline "$MASTER")) > workers ${WORKERS[*]} (host pids)"
        note "\$ SCRIPT_FILENAME=.../hello.php REQUEST_METHOD=GET cgi-fcgi -bind -connect 127.0.0.1:$FPM_PORT"
        t0=$(now_ms)
        out=$(fcgi hello.php 2>&1)
        note "measured: answered in $(($(now_ms) - t0)) ms: $(tail -n1 <<<"$out")"
        expect "a request through FastCGI is answered by a worker" grep -q 'hello from php-fpm' <<<"$out"

        victim=${WORKERS[0]}
        note "\$ kill -KILL $victim   # a worker"
        t0=$(now_ms)
        kill -KILL "$victim"
        wait_for 10 "the master to replace worker $victim, and no zombie" replaced "$victim" &&
            note "measured: replaced in $(($(now_ms) - t0)) ms by ${WORKERS[*]}; zombies: $ZOMBIES"
        expect "the fpm log tells of the killed worker" has "$FPM_DIR/php-fpm.log" "exited on signal 9"
        expect "still answering" grep -q 'hello from php-fpm' < <(fcgi hello.php 2>&1)

        # USR2 is php-fpm's reload: the master re-executes itself (same pid) and
        # starts new workers. It is no stop signal: -t must not start counting.
        old_master=$MASTER old_workers="${WORKERS[*]}"
        note "\$ kill -USR2 <pidone>   # reload"
        t0=$(now_ms)
        kill -USR2 "$P1"
        if wait_for 20 "php-fpm to re-execute itself (same master), new workers, no zombie" \
            fpm_reloaded "$old_master" "$old_workers"; then
            note "measured: reloaded in $(($(now_ms) - t0)) ms: master $old_master -> $MASTER, workers $old_workers -> ${WORKERS[*]}, zombies $ZOMBIES"
        fi
        expect "USR2 reloads: the master pid stays" eq "$(child_of "$P1" '^php-fpm: master process')" "$old_master"
        expect "php-fpm logged the reload" has "$FPM_DIR/php-fpm.log" 'Reloading in progress'
        note "waiting $((GRACE + 1)) s, past the ${GRACE} s grace period"
        expect "nothing is killed after the reload: pidone and the master still run $((GRACE + 1)) s later" \
            stays $(((GRACE + 1) * 1000)) "$P1" "$old_master"
        expect "... and the master is still pidone's child" eq "$(child_of "$P1" '^php-fpm: master process')" "$old_master"
        expect "answering after the reload" grep -q 'hello from php-fpm' < <(fcgi hello.php 2>&1)

        # A slow request in flight when TERM (as QUIT) arrives must get its answer.
        fcgi slow.php s=2 >"$WORK/slow.out" 2>&1 &
        slow_pid=$!
        if wait_for 10 "slow.php to start" test -e "$FPM_DIR/run/slow.started"; then
            stop_t=$(now_ms)
            stop TERM
            wait "$slow_pid"
            slow_ms=$(($(date -r "$WORK/slow.out" +%s%3N) - stop_t))
            note "measured: the slow request ended ${slow_ms} ms after TERM: $(tail -n1 "$WORK/slow.out")"
            expect "the request in flight finished (QUIT is graceful)" grep -q 'slow request done' "$WORK/slow.out"
            expect "pidone exits with the pool's status, 0" eq "$CODE" 0
            expect "pidone says the workload exited with 0" has "$LOG" 'the workload exited with 0'
            expect "nothing needed KILL" has "$LOG" ' 0 process\(es\) needed KILL'
            expect "php-fpm shut down gracefully" has "$FPM_DIR/php-fpm.log" 'Finishing|exiting, bye-bye'
            expect "no process remains in the namespace" ns_empty "$NS"
        fi
    fi
    note "pidone's log:"
    show_log "$LOG"
    note "php-fpm's log:"
    show_log "$FPM_DIR/php-fpm.log"
    end
}

new_master() { fpm_up && [[ $MASTER != "$1" ]]; }

# The outage from the field: the pool in a memory cgroup too small for a request.
case_php_fpm_oom() {
    begin php-fpm-oom "php-fpm in a $((MEMCG_LIMIT >> 20)) MiB memory cgroup: the master is OOM-killed; --restart on-failure"
    if [[ ! -w $MEMCG_ROOT/cgroup.procs ]]; then
        skip_case "no cgroup v1 memory controller at $MEMCG_ROOT"
        return
    fi
    MEMCG=$MEMCG_ROOT/pidone-wl-$$
    if ! mkdir "$MEMCG" || ! echo "$MEMCG_LIMIT" >"$MEMCG/memory.limit_in_bytes"; then
        skip_case "cannot create a memory cgroup with a limit under $MEMCG_ROOT"
        return
    fi
    note "memory cgroup $MEMCG, memory.limit_in_bytes $(cat "$MEMCG/memory.limit_in_bytes")"
    local old t0 out kills line pid
    : >"$FPM_DIR/php-fpm.log"
    # pidone (and so everything it starts) joins the cgroup before it starts.
    # shellcheck disable=SC2016 # $$ and $@ are the inner shell's
    WRAP=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$MEMCG")
    start php-fpm-oom -v -r TERM:QUIT --restart on-failure --restart-delay 200ms --max-restarts 3 -- "${FPM_CMD[@]}"
    local started=$?
    WRAP=()
    ((started == 0)) || { end; return; }
    if wait_for 20 "the php-fpm master and 2 workers, ready" fpm_up; then
        old=$MASTER
        note "pool up: master $MASTER, workers ${WORKERS[*]}; cgroup usage $(($(cat "$MEMCG/memory.usage_in_bytes") >> 10)) KiB"
        # The kernel kills the process it scores highest; the test makes that the
        # master, so the outage it recreates is the one where the service itself dies.
        note "\$ echo 1000 > /proc/$MASTER/oom_score_adj   # the master is the OOM killer's choice"
        echo 1000 >"/proc/$MASTER/oom_score_adj"
        note "\$ SCRIPT_FILENAME=.../eat.php QUERY_STRING=mb=128 cgi-fcgi ...   # allocates 128 MiB in a worker"
        t0=$(now_ms)
        out=$(fcgi eat.php mb=128 2>&1)
        note "request: exit $?, ${out:-no answer}"
        wait_for 10 "the OOM killer to act (memory.oom_control: oom_kill)" \
            grep -qE '^oom_kill [1-9]' "$MEMCG/memory.oom_control"
        kills=$(awk '$1 == "oom_kill" { print $2 }' "$MEMCG/memory.oom_control")
        note "measured: $kills OOM kill(s) in the cgroup; the master $old is $(alive "$old" && echo alive || echo gone)"
        dmesg 2>/dev/null | grep -E 'Memory cgroup out of memory: Killed process' | tail -n "${kills:-1}" | sed 's/^/    kernel: /'
        if wait_for 20 "a new master (restarted by pidone), with 2 workers" new_master "$old"; then
            note "measured: back $(($(now_ms) - t0)) ms after the request: master $MASTER, workers ${WORKERS[*]}"
            tree "$P1"
            for pid in "${TREE[@]}"; do note "  in the namespace: $pid $(cmdline "$pid")"; done
            expect "no worker of the killed pool is left beside the new one" eq "${#TREE[@]}" 3
            expect "the restarted pool answers" grep -q 'hello from php-fpm' < <(fcgi hello.php 2>&1)
        fi
        line=$(grep -m1 'killed by the kernel OOM killer' "$LOG")
        note "${line:-(no line in the log names the OOM killer)}"
        expect "pidone's log names the OOM killer" test -n "$line"
        expect "the line has a timestamp" grep -qE '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}' <<<"$line"
        expect "the line is a warning" grep -q 'warning' <<<"$line"
        if alive "$UNSHARE"; then
            stop TERM
            expect "pidone exits 0 after the restarted pool's graceful stop" eq "$CODE" 0
            expect "no process remains in the namespace" ns_empty "$NS"
        else
            wait "$UNSHARE"
            bad "pidone exited ($?) instead of restarting the pool"
        fi
    fi
    note "pidone's log:"
    show_log "$LOG"
    note "php-fpm's log:"
    show_log "$FPM_DIR/php-fpm.log"
    local tries=0
    until rmdir "$MEMCG" 2>/dev/null || ((++tries > 50)); do sleep 0.1; done
    [[ -d $MEMCG ]] || MEMCG=
    end
}

# --------------------------------------------------------------------- nginx

# nginx_up PARENT [PORT]: true once PARENT's child is the nginx master with 2
# workers answering (on PORT, default NGINX_PORT); sets MASTER and WORKERS.
nginx_up() {
    MASTER=$(child_of "$1" '^nginx: master process') || return 1
    nginx_workers
    ((${#WORKERS[@]} == 2)) && curl -fsS -m 5 "http://127.0.0.1:${2:-$NGINX_PORT}/" >/dev/null
}
nginx_workers() {
    local pid
    WORKERS=()
    children "$MASTER"
    for pid in "${KIDS[@]}"; do [[ $(cmdline "$pid") =~ ^nginx:\ worker ]] && WORKERS+=("$pid"); done
}
# reloaded OLD_WORKERS: true once 2 workers run, none of them old, and no zombie.
reloaded() {
    local pid
    nginx_workers
    ((${#WORKERS[@]} == 2)) || return 1
    for pid in "${WORKERS[@]}"; do [[ " $1 " = *" $pid "* ]] && return 1; done
    tree "$P1"
    ((ZOMBIES == 0))
}

# The checks both nginx cases share, once nginx is up under pidone; $1 is the
# grace period pidone was given (-t), in seconds, or 0 for none.
nginx_checks() {
    local grace=$1 out old_master old_workers t0 reload hold
    out=$(curl -sS -m 5 "http://127.0.0.1:$NGINX_PORT/" 2>&1)
    note "\$ curl http://127.0.0.1:$NGINX_PORT/ -> $out"
    expect "a request to 127.0.0.1 is answered" grep -q 'hello from nginx' <<<"$out"

    old_master=$MASTER
    # Two reloads: HUP is no stop signal however often it comes.
    for reload in 1 2; do
        old_workers="${WORKERS[*]}"
        note "\$ kill -HUP <pidone>   # reload $reload"
        t0=$(now_ms)
        kill -HUP "$P1"
        if wait_for 20 "new workers after HUP $reload, the old ones gone, no zombie" reloaded "$old_workers"; then
            note "measured: reload $reload in $(($(now_ms) - t0)) ms: master $old_master -> $(child_of "$MASTER_PARENT" '^nginx: master process'), workers $old_workers -> ${WORKERS[*]}, zombies $ZOMBIES"
        fi
        expect "HUP $reload reloads: the master pid stays" eq "$(child_of "$MASTER_PARENT" '^nginx: master process')" "$old_master"
    done
    # nginx names the sender: pidone, PID 1 of the namespace.
    expect "nginx logged 2 reloads, on HUP from pidone" \
        eq "$(grep -cE '\(SIGHUP\) received from 1, reconfiguring$' "$NGINX_DIR/error.log")" 2
    # With a grace period, outlast it: a KILL that a reload had set off would come.
    if ((grace > 0)); then
        hold=$((grace + 1))
        note "waiting $hold s, past the ${grace} s grace period"
    else
        hold=2
        note "waiting $hold s"
    fi
    expect "nothing is killed after the reloads: pidone and the master still run $hold s later" \
        stays $((hold * 1000)) "$P1" "$old_master"
    expect "... and the master is still the same" eq "$(child_of "$MASTER_PARENT" '^nginx: master process')" "$old_master"
    expect "pidone is still running after HUP" alive "$UNSHARE"
    out=$(curl -sS -m 5 "http://127.0.0.1:$NGINX_PORT/" 2>&1)
    note "\$ curl http://127.0.0.1:$NGINX_PORT/ -> $out"
    expect "answered after the reload, by a new worker" grep -qE "hello from nginx, worker ($(ns_pid "${WORKERS[0]}")|$(ns_pid "${WORKERS[1]}"))\$" <<<"$out"

    stop TERM
    if ((grace > 0)); then
        expect "docker stop-style TERM ends it well within the ${grace} s grace period (under $((grace / 2)) s)" lt "$STOP_MS" $((grace * 500))
    else
        expect "docker stop-style TERM ends it within ${STOP_BOUND} s" lt "$STOP_MS" $((STOP_BOUND * 1000))
    fi
    expect "pidone exits with nginx's status, 0" eq "$CODE" 0
    expect "nothing needed KILL" has "$LOG" ' 0 process\(es\) needed KILL'
    expect "no process remains in the namespace" ns_empty "$NS"
}

case_nginx_foreground() {
    begin nginx "pidone -t ${GRACE}s -- nginx -g 'daemon off;': a request, HUP reloads and kills nothing, TERM stops"
    local t0
    : >"$NGINX_DIR/error.log"
    t0=$(now_ms)
    start nginx -v -t "${GRACE}s" -- "${NGINX[@]}" -g 'daemon off;' || { end; return; }
    MASTER_PARENT=$P1
    if wait_for 20 "the nginx master (pidone's child) and 2 workers, answering" nginx_up "$P1"; then
        note "measured: up in $(($(now_ms) - t0)) ms: pidone $P1 > master $MASTER > workers ${WORKERS[*]}"
        nginx_checks "$GRACE"
    fi
    note "pidone's log:"
    show_log "$LOG"
    end
}

case_nginx_daemon() {
    begin nginx-daemon "pidone --pidfile nginx.pid -- nginx (it daemonizes): followed through the pid file; control: no --pidfile"
    local t0
    : >"$NGINX_DIR/error.log"
    rm -f "$NGINX_DIR/nginx.pid"
    t0=$(now_ms)
    start nginx-daemon -v --pidfile "$NGINX_DIR/nginx.pid" -- "${NGINX[@]}" || { end; return; }
    MASTER_PARENT=$P1
    # The daemon's parent exits; the daemon is re-parented to pidone (PID 1).
    if wait_for 20 "the daemonized master (re-parented to pidone) and 2 workers, answering" nginx_up "$P1"; then
        note "measured: up in $(($(now_ms) - t0)) ms: pidone $P1 > master $MASTER (pid file: $(cat "$NGINX_DIR/nginx.pid" 2>/dev/null)) > workers ${WORKERS[*]}"
        # The master is pidone's child only once the first nginx process has exited.
        expect "pidone is still running after the nginx parent exited" alive "$UNSHARE"
        expect "the master leads a process group of its own (setsid): the first one's is gone" \
            eq "$(ps -o pgid= -p "$MASTER" | tr -d ' ')" "$MASTER"
        alive "$UNSHARE" && nginx_checks 0
    fi
    if alive "$UNSHARE"; then stop TERM; fi
    note "pidone's log:"
    show_log "$LOG"

    # The control: without --pidfile, the workload is the first nginx process,
    # which exits 0 once the daemon is forked; pidone follows it out and ends nginx.
    local ctl=$WORK/nginx-daemon-control.log code
    : >"$NGINX_DIR/error.log"
    rm -f "$NGINX_DIR/nginx.pid"
    note "\$ unshare --pid --fork --mount-proc pidone -v -- $(shown "${NGINX[@]}")   # control"
    unshare --pid --fork --mount-proc "$BIN" -v -- "${NGINX[@]}" >"$ctl" 2>&1 &
    UNSHARE=$!
    if wait_for 20 "control: pidone to exit" not alive "$UNSHARE"; then
        wait "$UNSHARE"
        code=$?
        note "measured: control: pidone exited with $code; nginx had started $(grep -cE 'start worker process [0-9]+' "$NGINX_DIR/error.log") worker(s)"
        expect "control: pidone exits 0 with the first nginx process" eq "$code" 0
        expect "control: pidone terminated the daemon it left behind" has "$ctl" '[1-9][0-9]* leftover process\(es\) got TERM'
        expect "control: no nginx of this test outlives it" not pgrep -f "$NGINX_DIR/nginx.conf"
    fi
    note "control: pidone's log:"
    show_log "$ctl"
    end
}

# ------------------------------------------------------- nginx and php-fpm

# both_up: true once pidone's children are the php-fpm master with 2 workers,
# ready, and the nginx master with 2 workers, answering on WEB_PORT; sets
# FPM_MASTER, FPM_WORKERS, WEB_MASTER and WEB_WORKERS.
both_up() {
    fpm_up || return 1
    FPM_MASTER=$MASTER FPM_WORKERS=("${WORKERS[@]}")
    nginx_up "$P1" "$WEB_PORT" || return 1
    WEB_MASTER=$MASTER WEB_WORKERS=("${WORKERS[@]}")
}
# php_answer: one request through nginx to hello.php; true if a worker of the
# pool now running (FPM_WORKERS, by its pid in the namespace) answered it. Sets OUT.
php_answer() {
    local pid
    OUT=$(curl -fsS -m 5 "http://127.0.0.1:$WEB_PORT/hello.php" 2>&1) || return 1
    for pid in "${FPM_WORKERS[@]}"; do
        [[ $OUT = "hello from php-fpm, worker $(ns_pid "$pid")" ]] && return 0
    done
    return 1
}
# session_leader PID: true if PID leads its own session (a service of its own).
session_leader() { [[ $(ps -o sid= -p "$1" | tr -d ' ') = "$1" ]]; }
# Shows the processes below pidone, one a line.
show_tree() {
    local pid
    tree "$P1"
    for pid in "${TREE[@]}"; do note "  $pid (ppid $(ps -o ppid= -p "$pid" | tr -d ' ')) $(cmdline "$pid")"; done
}
# procfile_checks: the Procfile is examples/php/Procfile with this tier's paths.
procfile_checks() {
    note "Procfile (examples/php/Procfile with the tier's paths):"
    grep -v '^#' "$PROCFILE" | sed 's/^/    | /'
    expect "the Procfile's web line is examples/php/Procfile's, with the tier's nginx.conf" \
        grep -qxF "web: nginx -p $WEB_DIR -c $WEB_DIR/nginx.conf -e $WEB_DIR/error.log -g 'daemon off;'" "$PROCFILE"
    expect "the Procfile's php line is examples/php/Procfile's, with the tier's php-fpm.conf" \
        grep -qxF "php: $PHP_FPM -F -y $FPM_DIR/php-fpm.conf" "$PROCFILE"
}
# php_nginx_start NAME PIDONE_ARGS...: starts pidone on the Procfile, waits for
# both services and checks how they run.
php_nginx_start() {
    local name=$1 t0
    shift
    : >"$FPM_DIR/php-fpm.log"
    : >"$WEB_DIR/error.log"
    : >"$WEB_DIR/access.log"
    t0=$(now_ms)
    start "$name" "$@" --procfile "$PROCFILE" || return 1
    wait_for 20 "both services up: the php-fpm master and 2 workers, the nginx master and 2 workers, answering" both_up || return 1
    note "measured: up in $(($(now_ms) - t0)) ms: pidone $P1 > nginx master $WEB_MASTER > workers ${WEB_WORKERS[*]}; pidone $P1 > php-fpm master $FPM_MASTER > workers ${FPM_WORKERS[*]} (host pids)"
    expect "the service 'web' (nginx) leads a session of its own" session_leader "$WEB_MASTER"
    expect "the service 'php' (php-fpm) leads a session of its own" session_leader "$FPM_MASTER"
    t0=$(now_ms)
    php_answer
    note "\$ curl http://127.0.0.1:$WEB_PORT/hello.php -> ${OUT} ($(($(now_ms) - t0)) ms)"
    expect "a request through nginx reaches hello.php over FastCGI, answered by a worker of the pool" php_answer
    expect "nginx logged the requests with 200" has "$WEB_DIR/access.log" '"GET /hello.php HTTP/1.1" 200 '
}

# both_reloaded WEB_MASTER OLD_WEB_WORKERS FPM_MASTER OLD_FPM_WORKERS: true once
# both masters are the same, each with 2 new workers, and no zombie is left.
both_reloaded() {
    fpm_reloaded "$3" "$4" || return 1
    FPM_WORKERS=("${WORKERS[@]}")
    MASTER=$1
    reloaded "$2" && [[ $(child_of "$P1" '^nginx: master process') = "$1" ]] || return 1
    WEB_WORKERS=("${WORKERS[@]}")
}

case_php_nginx() {
    begin php-nginx "pidone -r TERM:QUIT --procfile Procfile (web: nginx, php: php-fpm): a PHP request through nginx, graceful stop of both"
    local slow_pid stop_t slow_ms fpm_ns web_ns t0 old_web old_fpm
    procfile_checks
    rm -f "$FPM_DIR/run/slow.started"
    # -vv: pidone says which signal went to whom, and how each service ended.
    if php_nginx_start php-nginx -vv -r TERM:QUIT; then
        fpm_ns=$(ns_pid "$FPM_MASTER") web_ns=$(ns_pid "$WEB_MASTER")

        # HUP goes to both: nginx reloads, and so does php-fpm 8.2 (as on USR2).
        old_web="${WEB_WORKERS[*]}" old_fpm="${FPM_WORKERS[*]}"
        note "\$ kill -HUP <pidone>   # reload"
        t0=$(now_ms)
        kill -HUP "$P1"
        if wait_for 20 "both reloaded: the same masters, new workers, no zombie" \
            both_reloaded "$WEB_MASTER" "$old_web" "$FPM_MASTER" "$old_fpm"; then
            note "measured: both reloaded in $(($(now_ms) - t0)) ms: nginx workers $old_web -> ${WEB_WORKERS[*]}, php-fpm workers $old_fpm -> ${FPM_WORKERS[*]}"
        fi
        expect "nginx logged the reload, on HUP from pidone" has "$WEB_DIR/error.log" '\(SIGHUP\) received from 1, reconfiguring$'
        expect "php-fpm logged its reload" has "$FPM_DIR/php-fpm.log" 'Reloading in progress'
        expect "pidone is still running after HUP" alive "$UNSHARE"
        expect "answered after the reload, by a new worker of the pool" php_answer
        note "\$ curl 'http://127.0.0.1:$WEB_PORT/slow.php?s=2' &   # 2 s, in flight at TERM"
        curl -sS -m 20 "http://127.0.0.1:$WEB_PORT/slow.php?s=2" >"$WORK/web-slow.out" 2>&1 &
        slow_pid=$!
        if wait_for 10 "slow.php to start" test -e "$FPM_DIR/run/slow.started"; then
            stop_t=$(now_ms)
            stop TERM
            wait "$slow_pid"
            slow_ms=$(($(date -r "$WORK/web-slow.out" +%s%3N) - stop_t))
            note "measured: the slow request's answer arrived ${slow_ms} ms after TERM: $(tail -n1 "$WORK/web-slow.out")"
            expect "the request in flight finished: its answer came through nginx" grep -q '^slow request done' "$WORK/web-slow.out"
            expect "... after TERM" ge "$slow_ms" 1
            expect "TERM went to nginx's process group as QUIT" has "$LOG" "forwarded QUIT to -$web_ns\$"
            expect "TERM went to php-fpm's process group as QUIT" has "$LOG" "forwarded QUIT to -$fpm_ns\$"
            expect "the service 'web' exited with 0" has "$LOG" "the service 'web' \\(pid $web_ns\\) ended: status 0"
            expect "the service 'php' exited with 0" has "$LOG" "the service 'php' \\(pid $fpm_ns\\) ended: status 0"
            expect "nginx shut down gracefully" has "$WEB_DIR/error.log" 'gracefully shutting down'
            expect "php-fpm shut down gracefully" has "$FPM_DIR/php-fpm.log" 'exiting, bye-bye'
            expect "pidone exits 0" eq "$CODE" 0
            expect "nothing needed KILL" has "$LOG" ' 0 process\(es\) needed KILL'
            expect "no process remains in the namespace" ns_empty "$NS"
        fi
    fi
    note "pidone's log:"
    show_log "$LOG"
    end
}

# fpm_back OLD_MASTER OLD_WORKERS: true once a new php-fpm master with 2 workers
# runs, none of the old processes is left in the namespace, and no zombie.
fpm_back() {
    fpm_up && [[ $MASTER != "$1" ]] || return 1
    local pid
    tree "$P1"
    ((ZOMBIES == 0)) || return 1
    for pid in "${TREE[@]}"; do [[ " $1 $2 " = *" $pid "* ]] && return 1; done
    FPM_MASTER=$MASTER FPM_WORKERS=("${WORKERS[@]}")
}

case_php_nginx_restart() {
    begin php-nginx-restart "pidone -r TERM:QUIT --restart on-failure --procfile Procfile: php-fpm's master killed, php-fpm alone restarts"
    local old_master old_workers web_workers t0 back_ms
    if php_nginx_start php-nginx-restart -v -r TERM:QUIT --restart on-failure; then
        old_master=$FPM_MASTER old_workers="${FPM_WORKERS[*]}" web_workers="${WEB_WORKERS[*]}"
        note "\$ kill -KILL $old_master   # the php-fpm master"
        t0=$(now_ms)
        kill -KILL "$old_master"
        if wait_for 20 "a new php-fpm master with 2 workers, the old master and workers gone, no zombie" \
            fpm_back "$old_master" "$old_workers"; then
            back_ms=$(($(now_ms) - t0))
            note "measured: php-fpm restarted in ${back_ms} ms: master $old_master -> $FPM_MASTER, workers $old_workers -> ${FPM_WORKERS[*]}, zombies $ZOMBIES"
            if wait_for 20 "a request through nginx answered by the new pool" php_answer; then
                note "measured: answered again $(($(now_ms) - t0)) ms after the KILL: $OUT"
            fi
        fi
        show_tree
        expect "nginx kept its master" eq "$(child_of "$P1" '^nginx: master process')" "$WEB_MASTER"
        MASTER=$WEB_MASTER
        nginx_workers
        expect "... and its workers" eq "${WORKERS[*]}" "$web_workers"
        expect "nothing else runs: 2 masters, 4 workers" eq "${#TREE[@]}" 6
        expect "pidone's log names the service that died" has "$LOG" "the service 'php' \\(.*\\) died after .*: killed by SIGKILL"
        expect "pidone restarted php only" eq "$(grep -c 'restarted the service' "$LOG")" 1
        expect "... it says so" has "$LOG" "restarted the service 'php' \\(pid [0-9]+, restart 1\\)"
        if alive "$UNSHARE"; then
            stop TERM
            expect "pidone exits 0 after both stop gracefully" eq "$CODE" 0
            expect "nothing needed KILL" has "$LOG" ' 0 process\(es\) needed KILL'
            expect "no process remains in the namespace" ns_empty "$NS"
        else
            wait "$UNSHARE"
            bad "pidone exited ($?) instead of restarting php-fpm"
        fi
    fi
    note "pidone's log:"
    show_log "$LOG"
    end
}

# The image of Dockerfile.example without an engine: examples/php/Procfile and
# examples/php/default.conf as they are, on the system's own Debian nginx and
# php8.2-fpm configuration, with the image's one change to it (PHP_IMAGE_SED).
# Private mount and network namespaces stand in for the container: /run,
# /var/log, /var/lib/nginx and /var/www are fresh tmpfs, the site and php-fpm.conf
# are bind-mounted over the system's in that namespace only, and nginx listens on
# port 80 of a loopback of its own. Nothing of the host's is changed (mount -n:
# not even libmount's /run/mount).
PHP_IMAGE_SED='s/^;process_control_timeout = 0$/process_control_timeout = 8s/'
IMAGE_FILES=(/etc/nginx/nginx.conf /etc/nginx/sites-available/default /etc/nginx/snippets/fastcgi-php.conf /etc/php/8.2/fpm/php-fpm.conf)
# shellcheck disable=SC2016 # the inner shell's $1..$4
IMAGE_SETUP='ip link set lo up &&
mount -n -t tmpfs tmpfs /run && mkdir /run/php &&
mount -n -t tmpfs tmpfs /var/log && mkdir /var/log/nginx &&
mount -n -t tmpfs tmpfs /var/lib/nginx &&
mount -n -t tmpfs tmpfs /var/www && mkdir -m 755 /var/www/html && mkdir -m 777 /var/www/run &&
cp "$2"/*.php /var/www/html/ && chmod 644 /var/www/html/*.php &&
mount -n --bind "$1/examples/php/default.conf" /etc/nginx/sites-available/default &&
mount -n --bind "$3" /etc/php/8.2/fpm/php-fpm.conf &&
exec "$4" -vv -r TERM:QUIT --procfile "$1/examples/php/Procfile"'

in_image() { nsenter --net="/proc/$P1/ns/net" "$@"; }
# image_up: true once both masters are pidone's children and hello.php answers on port 80.
image_up() {
    FPM_MASTER=$(child_of "$P1" '^php-fpm: master process') || return 1
    WEB_MASTER=$(child_of "$P1" '^nginx: master process') || return 1
    in_image curl -fsS -m 5 http://127.0.0.1/hello.php | grep -q '^hello from php-fpm'
}

# image_run NAME PHP_FPM_CONF: pidone on examples/php/Procfile in the stand-in
# container; a 2 s request in flight at TERM; sets SLOW_OUT (its answer) and CODE.
image_run() {
    local name=$1 conf=$2 slow_pid out
    LOG=$WORK/$name.log P1='' SLOW_OUT=$WORK/$name-slow.out CODE=''
    note "\$ unshare --mount --net --pid --fork --mount-proc sh -c 'SETUP; exec pidone -vv -r TERM:QUIT --procfile examples/php/Procfile'"
    unshare --mount --net --pid --fork --mount-proc sh -c "$IMAGE_SETUP" sh "$REPO" "$HERE/www" "$conf" "$BIN" >"$LOG" 2>&1 &
    UNSHARE=$!
    wait_for 10 "pidone under unshare" pidone_up || return 1
    [[ -n $P1 ]] || { bad "pidone exited at once: $(head -c 300 "$LOG" | tr '\n' '|')"; return 1; }
    STARTED+=("$P1")
    NS=$(ns_of "$P1")
    wait_for 20 "nginx and php-fpm up, hello.php answered on port 80" image_up || return 1
    out=$(in_image curl -fsS -m 5 http://127.0.0.1/hello.php 2>&1)
    note "measured: pidone $P1 > nginx master $WEB_MASTER ($(cmdline "$WEB_MASTER")), php-fpm master $FPM_MASTER ($(cmdline "$FPM_MASTER"))"
    note "\$ curl http://127.0.0.1/hello.php   # in the container's network namespace -> $out"
    expect "$name: a request through nginx on port 80 reaches php-fpm's socket and is answered" grep -q '^hello from php-fpm, worker' <<<"$out"
    in_image curl -sS -m 20 "http://127.0.0.1/slow.php?s=2" >"$SLOW_OUT" 2>&1 &
    slow_pid=$!
    wait_for 10 "$name: slow.php to start" test -e "/proc/$P1/root/var/www/run/slow.started" || return 1
    stop TERM
    wait "$slow_pid"
    note "measured: $name: the request in flight got: $(tr '\n' ' ' <"$SLOW_OUT" | cut -c1-80)"
    expect "$name: pidone exits 0" eq "$CODE" 0
    expect "$name: no process remains in the namespace" ns_empty "$NS"
}

case_php_image() {
    begin php-image "Dockerfile.example's nginx + php-fpm image, without an engine: examples/php/Procfile on Debian's configuration"
    local f conf=$WORK/image-php-fpm.conf
    for f in "${IMAGE_FILES[@]}"; do
        [[ -f $f ]] || { skip_case "no $f: not Debian's nginx and php8.2-fpm"; return; }
    done
    command -v php-fpm8.2 >/dev/null || { skip_case "no php-fpm8.2 in PATH"; return; }
    if ! command -v nsenter >/dev/null || ! command -v ip >/dev/null; then
        skip_case "no nsenter or ip"
        return
    fi
    sed "$PHP_IMAGE_SED" /etc/php/8.2/fpm/php-fpm.conf >"$conf"
    note "the image's change to php-fpm.conf: $(diff /etc/php/8.2/fpm/php-fpm.conf "$conf" | grep '^>')"
    expect "Dockerfile.example makes the same change" grep -qF "sed -i '$PHP_IMAGE_SED'" "$REPO/Dockerfile.example"
    if image_run php-image "$conf"; then
        expect "the request in flight finished (process_control_timeout = 8s)" grep -q '^slow request done' "$SLOW_OUT"
        expect "both services ended with 0" eq "$(grep -cE "the service '(web|php)' \(pid [0-9]+\) ended: status 0" "$LOG")" 2
        expect "nothing needed KILL" has "$LOG" ' 0 process\(es\) needed KILL'
    fi
    note "pidone's log:"
    show_log "$LOG"
    # The control: Debian's php-fpm.conf as it is, process_control_timeout = 0.
    if image_run php-image-control /etc/php/8.2/fpm/php-fpm.conf; then
        expect "control: with Debian's process_control_timeout = 0 the request in flight is cut (502)" \
            grep -q '502 Bad Gateway' "$SLOW_OUT"
    fi
    end
}

# ---------------------------------------------------------------------- node

case_node_server() {
    begin node-server "pidone -- node examples/node/server.js: a request in flight finishes, TERM exits 0"
    local out
    start node-server -v -- node "$REPO/examples/node/server.js" "$NODE_PORT" || { end; return; }
    if wait_for 20 "server: listening" has "$LOG" 'server: listening'; then
        out=$(curl -sS -m 5 "http://127.0.0.1:$NODE_PORT/" 2>&1)
        note "\$ curl http://127.0.0.1:$NODE_PORT/ -> $out"
        expect "a request is answered" grep -q 'hello from node' <<<"$out"
        curl -sS -m 10 "http://127.0.0.1:$NODE_PORT/slow" >"$WORK/node-slow.out" 2>&1 &
        local slow=$!
        if wait_for 10 "the slow request to reach node" has "$LOG" 'slow request received'; then
            stop TERM
            wait "$slow"
            note "slow request: $(cat "$WORK/node-slow.out")"
            expect "the request in flight got its answer" grep -q 'slow request done' "$WORK/node-slow.out"
            expect "exit code 0: node closed the server and exited" eq "$CODE" 0
            expect "node logged its close" has "$LOG" 'server: closed, exit 0'
            expect "no process remains in the namespace" ns_empty "$NS"
        fi
    fi
    note "output:"
    show_log "$LOG"
    end
}

# sleeps_settled: spawner's short orphans are gone, its 2 long sleeps remain, no zombie.
sleeps_settled() { count_in "$1" '^sleep ' && ((N == 2 && ZOMBIES == 0)); }

two_sleeps() { count_in "$1" '^sleep ' && ((N == 2)); }

case_node_spawner() {
    begin node-spawner "pidone -- node examples/node/spawner.js $ORPHANS: orphans reaped, leftovers terminated; control: node as PID 1"
    start node-spawner -v -- node "$REPO/examples/node/spawner.js" "$ORPHANS" || { end; return; }
    if wait_for 20 "spawner: ready" has "$LOG" 'spawner: ready'; then
        if wait_for 20 "the $ORPHANS short orphans reaped: 2 sleeps left, no zombie" sleeps_settled "$P1"; then
            note "measured: under pidone: ${#TREE[@]} processes below pidone, zombies $ZOMBIES"
        fi
        stop TERM
        expect "exit code 0, the spawner's" eq "$CODE" 0
        expect "pidone terminated the leftovers" has "$LOG" '[1-9][0-9]* leftover process\(es\) got TERM'
        expect "none needed KILL" has "$LOG" ' 0 process\(es\) needed KILL'
        expect "no process remains in the namespace" ns_empty "$NS"
    fi
    note "output:"
    show_log "$LOG"

    # The control: node as PID 1 reaps its own children, not the orphans.
    local ctl=$WORK/node-control.log pid ns_ino
    note "\$ unshare --pid --fork --mount-proc node examples/node/spawner.js $ORPHANS   # control"
    unshare --pid --fork --mount-proc node "$REPO/examples/node/spawner.js" "$ORPHANS" >"$ctl" 2>&1 &
    UNSHARE=$!
    if wait_for 20 "control: spawner: ready" has "$ctl" 'spawner: ready'; then
        children "$UNSHARE"
        pid=${KIDS[0]}
        STARTED+=("$pid")
        ns_ino=$(ns_of "$pid")
        wait_for 20 "control: the short orphans exited" two_sleeps "$pid"
        tree "$pid"
        note "measured: with node as PID 1: zombies $ZOMBIES"
        expect "control: the $ORPHANS orphans stay zombies" eq "$ZOMBIES" "$ORPHANS"
        kill -KILL "$pid"
        wait "$UNSHARE"
        wait_for 10 "control: the namespace gone" ns_empty "$ns_ino"
    fi
    end
}

# -------------------------------------------------------------------- main

T0=$SECONDS
say "ports on 127.0.0.1: php-fpm $FPM_PORT, nginx $NGINX_PORT, nginx in front of php-fpm $WEB_PORT, node $NODE_PORT; work dir $WORK"
case_php_fpm
case_php_fpm_oom
case_nginx_foreground
case_nginx_daemon
case_php_nginx
case_php_nginx_restart
case_php_image
case_node_server
case_node_spawner
echo
say "$((PASSED + FAILED + SKIPPED)) cases in $((SECONDS - T0)) s (build excluded)"
((SKIPPED == 0)) || say "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

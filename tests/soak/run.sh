#!/usr/bin/env bash
# The soak tier: pidone under random load for DURATION seconds (default 60),
# run after run, each a scenario drawn at random with random parameters, as PID 1
# of a new PID namespace (`unshare --pid --fork --mount-proc`) or as a subreaper
# (`-s`), and every invariant checked after every run:
#
# - signals: random signals (HUP, USR1, USR2, WINCH, ALRM, URG, PIPE, real-time
#   ones, TSTP then CONT) to a recording workload, each forwarded once and in
#   order; then a stop signal (TERM, QUIT, or INT with -t, which the workload
#   ignores: KILL at the grace period);
# - orphans: a shell that leaves orphans and exits at a random moment with a
#   random code or dies of a random signal (`-e` and `--wait-all` at random), or
#   leaves processes that need TERM and KILL;
# - restarts: a `--restart on-failure` storm with short delays, given up after
#   `--max-restarts`, or cut short by TERM at a random moment;
# - procfile: several services writing numbered lines through `--prefix` while
#   some crash and restart, an idle one that runs until TERM;
# - pids: forks failing at a v1 `pids.max`; memory: an OOM kill at a v1
#   `memory.limit_in_bytes` (a child cgroup of each, made for the run and removed).
#
# Invariants: the exit status is the README's (the code, 128+N, `-e`, the
# service that ended first, the last status after the restarts); no zombie while
# it runs and no process of the run left after it; every relayed line exactly
# once and whole; pidone's CPU (utime+stime of /proc/PID/stat) over an idle window
# at most IDLE_TICKS clock ticks (a bound on pidone, not a timing of the test);
# the stop within its bound (the grace period, the KILL wait, and slack for a
# busy machine). Every check prints `ok:` or `not ok:`; the last line is "N
# passed, M failed", and the exit status is 0 when all passed.
#
# Random with a seed it prints: `SEED=N bash tests/soak/run.sh` draws the same
# runs (the timing of a machine is not reproduced). `PIDONE_BIN=PATH` runs
# another build (or a fake init) instead of the fresh `cargo build-static`.
#
# Needs root, Linux, unshare (util-linux) and the cgroup v1 pids and memory
# hierarchies at /sys/fs/cgroup/{pids,memory}; what is missing is installed
# with apt-get, and what cannot be had skips the tier with a reason, except
# under CI=true, where it fails.
#
#   DURATION=60 bash tests/soak/run.sh
set -uo pipefail

TIER=soak
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

DURATION=${DURATION:-60}
SEED=${SEED:-$(($(date +%s%N) / 1000 % 1000000000))}
IDLE_WINDOW=1     # seconds of idleness measured
IDLE_TICKS=1      # pidone's CPU over that window, in clock ticks, at most
KILL_WAIT=2       # src/shutdown.rs KILL_WAIT, in seconds
DEFAULT_GRACE=2   # src/shutdown.rs DEFAULT_GRACE, in seconds
SLACK=4           # seconds a busy 2-core machine may add to a stop
CGROUP_TOP=/sys/fs/cgroup

[[ $DURATION =~ ^[0-9]+$ ]] || unavailable "DURATION=$DURATION is not a number of seconds"
[[ $SEED =~ ^[0-9]+$ ]] || unavailable "SEED=$SEED is not a number"

# ---------------------------------------------------------------- prerequisites

[[ $(uname -s) = Linux ]] || unavailable "not Linux"
[[ $(id -u) = 0 ]] || unavailable "not root: PID namespaces and cgroups need root"
command -v unshare >/dev/null || apt_install util-linux
unshare --pid --fork --mount-proc true 2>/dev/null || unavailable "unshare --pid --fork --mount-proc does not work here"
FSTYPE=$(stat -fc %T "$CGROUP_TOP" 2>/dev/null)
say "$CGROUP_TOP is $FSTYPE"
for controller in pids memory; do
    [[ -w $CGROUP_TOP/$controller/cgroup.procs ]] ||
        unavailable "no writable cgroup v1 $controller hierarchy at $CGROUP_TOP/$controller (the limit runs need one)"
done

if [[ -n ${PIDONE_BIN:-} ]]; then
    build_static workload hog
    BIN=$PIDONE_BIN
    say "PIDONE_BIN: running $BIN instead of the fresh build"
else
    build_static workload hog
fi
W=$EXAMPLES_DIR/workload
HOG=$EXAMPLES_DIR/hog
for f in "$BIN" "$W" "$HOG"; do [[ -x $f ]] || unavailable "$f is not there after the build"; done
TICK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- the work dir

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pidone-soak.XXXXXX")
chmod 755 "$WORK"
STARTED=() # host pids of the pidones (or unshares) started, for the teardown
CGROUPS=() # the cgroups made, for the teardown

# tagged TAG: the processes whose environment holds SOAK_RUN=TAG (a run's:
# each run's processes inherit it); with a TAG ending in -, any run's of this tier.
tagged() {
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        [[ $pid = "$$" || $pid = "$BASHPID" ]] && continue
        if [[ $1 = *- ]]; then
            grep -qzE "^SOAK_RUN=$1[0-9]+$" "$f" 2>/dev/null && echo "$pid"
        else
            grep -qzxF "SOAK_RUN=$1" "$f" 2>/dev/null && echo "$pid"
        fi
    done
}
kill_tagged() {
    local pid
    for pid in $(tagged "$1"); do kill -KILL "$pid" 2>/dev/null; done
}
# remove_cgroup DIR: kills what is left in it, then removes it.
remove_cgroup() {
    local pid tries=0
    [[ -d $1 ]] || return 0
    while read -r pid; do kill -KILL "$pid" 2>/dev/null; done <"$1/cgroup.procs"
    until rmdir "$1" 2>/dev/null || ((++tries > 50)); do sleep 0.1; done
    [[ -d $1 ]] && say "could not remove the cgroup $1"
}
teardown() {
    local status=$? pid dir
    set +e
    trap - EXIT INT TERM
    for pid in "${STARTED[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
    kill_tagged "soak-$$-"
    for dir in "${CGROUPS[@]}"; do remove_cgroup "$dir"; done
    rm -rf "$WORK"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- randomness

# Every draw comes from bash's RANDOM, seeded once, in this shell only (never in
# a subshell, which would draw a sequence of its own): the same SEED, the same runs.
RANDOM=$SEED
# rand N: R is a number in 0..N-1.
rand() { R=$((RANDOM % $1)); }
# pick WORD...: P is one of the words.
pick() {
    rand $#
    local words=("$@")
    P=${words[$R]}
}
# chance PERCENT: true that often.
chance() {
    rand 100
    ((R < $1))
}

# --------------------------------------------------------- processes, from here

cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null; }
state() {
    local stat
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    stat=${stat##*) }
    echo "${stat%% *}"
}
# descendants PID: sets DESC (host pids) and ZOMBIES (how many of them are zombies).
descendants() {
    local queue=("$1") pid kids t i=0
    DESC=() ZOMBIES=0
    while ((${#queue[@]} > 0 && i++ < 5000)); do
        kids=()
        for t in /proc/"${queue[0]}"/task/*/children; do
            more=()
            read -r -a more <"$t" 2>/dev/null # no newline at its end: read says 1
            kids+=("${more[@]}")
        done 2>/dev/null
        queue=("${queue[@]:1}" "${kids[@]}")
        for pid in "${kids[@]}"; do
            DESC+=("$pid")
            [[ $(state "$pid") = Z ]] && ZOMBIES=$((ZOMBIES + 1))
        done
    done
}
# cpu_ticks PID: utime + stime of PID, in clock ticks.
cpu_ticks() {
    local stat fields
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    read -r -a fields <<<"${stat##*) }"
    # After the comm: state is field 3, utime 14, stime 15 (1-based, of the whole line).
    echo $((fields[11] + fields[12]))
}
# all_stopped: pidone's descendants (a recorder, its grandchild) are all stopped.
all_stopped() {
    local pid
    descendants "$P1"
    ((${#DESC[@]} > 0)) || return 1
    for pid in "${DESC[@]}"; do [[ $(state "$pid") = T ]] || return 1; done
}
# The wait channel pidone sleeps in: it has a signal wait of its own.
syscall_of() { cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null; }

# ---------------------------------------------------------------- one run

RUNS=0
# begin_run SCENARIO DESCRIPTION: a fresh run directory, a tag, and how pidone runs.
begin_run() {
    RUNS=$((RUNS + 1))
    TAG="soak-$$-$RUNS"
    RUN=$WORK/run$RUNS
    mkdir -p "$RUN"
    chmod 777 "$RUN"
    pick pid1 subreaper
    HOW=$P
    WRAP=()
    CG_PIDS='' CG_MEMORY=''
    begin "run $RUNS ($1, $HOW)" "$2"
}

# start ARG...: pidone ARG... in the background, as $HOW, its stdout and stderr
# in $RUN/out and $RUN/err, under ${WRAP[@]}. Sets JOB (what this shell waits
# for: unshare or pidone), P1 (pidone's host pid, once seen; empty if it was
# gone first) and T0 (ms).
start() {
    local pre=() args=("$@")
    if [[ $HOW = pid1 ]]; then pre=(unshare --pid --fork --mount-proc); else args=(-s "$@"); fi
    note "\$ SOAK_RUN=$TAG ${WRAP[*]:+$(shown "${WRAP[@]}") }$(shown "${pre[@]}" pidone "${args[@]}")"
    T0=$(now_ms)
    SOAK_RUN=$TAG "${WRAP[@]}" "${pre[@]}" "$BIN" "${args[@]}" >"$RUN/out" 2>"$RUN/err" </dev/null &
    JOB=$!
    STARTED+=("$JOB")
    P1=''
    local deadline=$((SECONDS + 10)) kid
    while ((SECONDS < deadline)) && alive "$JOB"; do
        if [[ $HOW = pid1 ]]; then
            read -r kid _ <"/proc/$JOB/task/$JOB/children" 2>/dev/null
            [[ -n ${kid:-} && $(readlink "/proc/$kid/exe" 2>/dev/null) = "$(readlink -f "$BIN")" ]] && P1=$kid
        else
            [[ $(readlink "/proc/$JOB/exe" 2>/dev/null) = "$(readlink -f "$BIN")" ]] && P1=$JOB
        fi
        [[ -n $P1 ]] && break
        sleep 0.01
    done
    [[ -n $P1 ]] && STARTED+=("$P1")
}
# signal SIG: sends SIG to pidone.
signal() { [[ -n $P1 ]] && kill -s "$1" "$P1" 2>/dev/null; }
# finish BOUND_S: waits up to BOUND_S seconds for pidone; sets CODE and MS (since
# STOP_AT, or the start). A pidone still there then is killed: a failure.
finish() {
    local bound=$1 from=${STOP_AT:-$T0}
    if ! wait_gone "$bound" "$JOB"; then
        bad "pidone still running ${bound} s after $( ((from == T0)) && echo the start || echo the stop): killed"
        [[ -n $P1 ]] && kill -KILL "$P1" 2>/dev/null
        kill -KILL "$JOB" 2>/dev/null
    fi
    wait "$JOB"
    CODE=$?
    MS=$(($(now_ms) - from))
    STOP_AT=''
}
# stop_with SIG: sends the stop signal and notes when.
stop_with() {
    STOP_AT=$(now_ms)
    signal "$1"
}
# end_run: the checks every run ends with, then the cleanup and the count.
end_run() {
    local left
    left=$(tagged "$TAG" | tr '\n' ' ')
    expect "no process of the run left after pidone${left:+ (left: $left)}" eq "$left" ''
    if [[ -n $left ]]; then
        for pid in $left; do note "  left: $pid $(cmdline "$pid")"; done
        kill_tagged "$TAG"
    fi
    if grep -qE 'panicked|RUST_BACKTRACE' "$RUN/err"; then bad "pidone panicked: $(head -c 300 "$RUN/err")"; fi
    [[ -n $CG_PIDS ]] && remove_cgroup "$CG_PIDS"
    [[ -n $CG_MEMORY ]] && remove_cgroup "$CG_MEMORY"
    ((${#ERRORS[@]} == 0)) || note "pidone's stderr: $(head -c 1500 "$RUN/err" | tr '\n' '|')"
    count_case
    rm -rf "$RUN"
}
expect_code() { expect "exit status $CODE is $1${2:+ ($2)}" eq "$CODE" "$1"; }
expect_stop() {
    note "measured: pidone exited $MS ms after the stop (bound ${1} s)"
    expect "the stop took at most $1 s" lt "$MS" $(($1 * 1000 + 1))
}
# no_zombie N_LIVE: waits (bounded) until none of pidone's descendants is a
# zombie, with at most N_LIVE descendants left alive, pidone still running.
no_zombie() {
    local live=$1
    [[ -n $P1 ]] || {
        bad "pidone was not seen running: no zombie count"
        return
    }
    settled() {
        alive "$P1" || return 1
        descendants "$P1"
        ((ZOMBIES == 0 && ${#DESC[@]} - ZOMBIES <= live))
    }
    wait_for 10 "no zombie and at most $live process(es) under pidone" settled
    note "measured: ${#DESC[@]} descendant(s) of pidone, $ZOMBIES zombie(s)"
    expect "no zombie under pidone" eq "$ZOMBIES" 0
}
# idle_cpu: pidone's CPU over IDLE_WINDOW seconds while nothing happens.
idle_cpu() {
    local a b
    [[ -n $P1 ]] && alive "$P1" || return
    # Past the one read 10 ms after the start (and any limit event): a signal wait.
    sleep 0.2
    a=$(cpu_ticks "$P1") || return
    sleep "$IDLE_WINDOW"
    b=$(cpu_ticks "$P1") || return
    note "measured: pidone used $((b - a)) tick(s) of CPU (1/$TICK s) in ${IDLE_WINDOW} s idle; syscall $(syscall_of "$P1")"
    expect "pidone's CPU while idle is at most $IDLE_TICKS tick(s)" lt $((b - a)) $((IDLE_TICKS + 1))
}
# wait_lines FILE N: waits until FILE has at least N lines.
has_lines() { (($(wc -l <"$1" 2>/dev/null || echo 0) >= $2)); }

# make_cgroup CONTROLLER: a child cgroup of the v1 hierarchy for this run.
make_cgroup() {
    local dir=$CGROUP_TOP/$1/pidone-soak-$$-$RUNS
    mkdir "$dir" || return 1
    CGROUPS+=("$dir")
    echo "$dir"
}

# ---------------------------------------------------------------- scenarios

# As sent, and as the recorder names it (`workload` says RTMIN+N).
SIGNALS=(HUP USR1 USR2 WINCH ALRM URG PIPE RTMIN+1 RTMIN+5 RTMAX-2:RTMIN+28 TSTP)

scenario_signals() {
    local n sig grace='' stop logs=(child.log) sent=() i want
    rand 8
    n=$((R + 1))
    chance 50 && logs+=(grandchild.log)
    pick TERM QUIT INT
    stop=$P
    if [[ $stop = INT ]] || chance 30; then
        rand 2
        grace=$((R + 1))
    fi
    begin_run signals "$n random signals forwarded to a recorder${logs[1]:+ and its grandchild}, then $stop${grace:+ (-t ${grace}s)}"
    local opts=()
    [[ -n $grace ]] && opts+=(-t "${grace}s")
    start "${opts[@]}" -- "$W" record "$RUN" ${logs[1]:+--grandchild}
    wait_for 10 "the recorder" test -e "$RUN/child.ready"
    [[ ${logs[1]:-} ]] && wait_for 10 "the grandchild" test -e "$RUN/grandchild.ready"
    for ((i = 0; i < n; i++)); do
        pick "${SIGNALS[@]}"
        sig=${P%%:*}
        if [[ $sig = TSTP ]]; then
            # Forwarded as STOP (no log), and pidone stops itself when not PID 1:
            # CONT resumes it all, and is forwarded.
            signal TSTP
            wait_for 10 "the recorder stopped by TSTP" all_stopped
            signal CONT
            sig=CONT
        else
            signal "$sig"
            sig=${P#*:}
        fi
        sent+=("$sig")
        for log in "${logs[@]}"; do
            wait_for 10 "$sig in $log" has_lines "$RUN/$log" "${#sent[@]}"
        done
    done
    if chance 50; then
        # Real-time signals queue: a burst of them, each forwarded once.
        local burst
        rand 100
        burst=$((R + 10))
        note "a burst of $burst RTMIN+3"
        for ((i = 0; i < burst; i++)); do signal RTMIN+3; done
        for ((i = 0; i < burst; i++)); do sent+=(RTMIN+3); done
        for log in "${logs[@]}"; do
            wait_for 20 "the burst in $log" has_lines "$RUN/$log" "${#sent[@]}"
        done
    fi
    for log in "${logs[@]}"; do
        want=$(printf '%s\n' "${sent[@]}")
        expect "$log: each signal once, in order (${sent[*]})" eq "$(cat "$RUN/$log" 2>/dev/null)" "$want"
    done
    no_zombie 2
    idle_cpu
    stop_with "$stop"
    if [[ $stop = INT ]]; then
        finish $((grace + KILL_WAIT + SLACK))
        expect_code 137 "the recorder ignores INT: KILL at the grace period"
        expect_stop $((grace + KILL_WAIT + SLACK))
    else
        finish $((DEFAULT_GRACE + SLACK))
        expect_code 0 "the recorder exits 0 on $stop"
        expect_stop $((DEFAULT_GRACE + SLACK))
    fi
    end_run
}

scenario_orphans() {
    local n end code sig expected opts=() what wait_all=''
    rand 40
    n=$((R + 1))
    local nap
    rand 20
    nap=$((R / 10 + 1)).$((R % 10))
    rand 3
    case $R in
    0)
        rand 256
        code=$R
        end="exit $code"
        expected=$code
        what="exits $code"
        ;;
    1)
        pick HUP USR1 USR2 TERM KILL SEGV ABRT ALRM
        sig=$P
        end="kill -$sig \$\$"
        expected=$((128 + $(kill -l "$sig")))
        what="dies of $sig"
        ;;
    2)
        end=leave
        expected=3
        what="leaves a polite, a stubborn and a setsid'd daemon behind and exits 3"
        ;;
    esac
    if chance 20 && [[ $end != leave ]]; then
        opts+=(-e "$expected")
        expected=0
    fi
    [[ $end != leave ]] && chance 30 && wait_all=1 && opts+=(--wait-all)
    begin_run orphans "a shell leaves $n orphans, sleeps ${nap}s, then $what${opts[*]:+ (${opts[*]})}"
    local then="$end"
    [[ $end = leave ]] && then='exec "$0" leave "$1"'
    start "${opts[@]}" -- sh -c "ulimit -c 0; for i in \$(seq $n); do (sleep 0.\$((\$i % 5)) &); done; touch \"\$1/spawned\"; sleep $nap; $then" "$W" "$RUN"
    # The orphans end within 0.4 s, the shell sleeps 1 s or more: then only it and its sleep.
    wait_for 10 "the orphans spawned" test -e "$RUN/spawned"
    no_zombie 2
    if [[ $end = leave ]]; then
        finish $((3 + DEFAULT_GRACE + KILL_WAIT + SLACK))
        expect "the stubborn one and the daemon needed KILL" grep -qF '2 process(es) needed KILL' "$RUN/err"
    else
        finish $((3 + SLACK))
    fi
    expect_code "$expected" "the workload $what${opts[*]:+, ${opts[*]}}"
    end_run
}

scenario_restarts() {
    local k code sig end expected delay term=''
    rand 8
    k=$((R + 1))
    rand 20
    delay=$((R + 1))
    if chance 50; then
        rand 255
        code=$((R + 1))
        end="exit $code"
        expected=$code
    else
        pick HUP USR1 TERM KILL SEGV
        sig=$P
        end="ulimit -c 0; kill -$sig \$\$"
        expected=$((128 + $(kill -l "$sig")))
    fi
    chance 30 && term=1
    begin_run restarts "--restart on-failure storm: '$end', ${delay}ms delays, --max-restarts $k${term:+, TERM at a random moment}"
    start -v --restart on-failure --restart-delay "${delay}ms" --restart-max-delay 50ms --max-restarts "$k" -- sh -c "$end"
    if [[ -n $term ]]; then
        rand 300
        sleep "0.$(printf %03d "$R")"
        stop_with TERM
        finish $((DEFAULT_GRACE + KILL_WAIT + SLACK))
        expect "exit status $CODE is $expected (the last status, TERM during a delay) or 143 (TERM forwarded to a run)" \
            test "$CODE" = "$expected" -o "$CODE" = 143
        [[ -n $MS ]] && expect_stop $((DEFAULT_GRACE + KILL_WAIT + SLACK))
    else
        finish $((k + SLACK + 5))
        expect_code "$expected" "the last status after $k restarts"
        local restarted
        restarted=$(grep -c 'info: restarted the workload' "$RUN/err")
        expect "$k restart lines ($restarted)" eq "$restarted" "$k"
    fi
    end_run
}

scenario_procfile() {
    local writers crashers k idle='' procfile name l i total=0 kinds=() how
    rand 3
    writers=$((R + 1))
    rand 2
    crashers=$((R + 1))
    rand 4
    k=$((R + 1))
    chance 60 && idle=1
    begin_run procfile "$writers writer(s), $crashers crasher(s) restarted $k times, ${idle:+an idle service, }--prefix --wait-all"
    procfile=$RUN/Procfile
    : >"$procfile"
    for ((i = 1; i <= writers; i++)); do
        rand 4000
        l=$((R + 1))
        echo "w$i: $W lines $l w$i-$TAG" >>"$procfile"
        kinds+=("w$i:writer:$l")
    done
    for ((i = 1; i <= crashers; i++)); do
        rand 2000
        l=$((R + 1))
        pick KILL SEGV exit3
        how=$P
        if [[ $how = exit3 ]]; then
            echo "c$i: $W lines $l c$i-\$\$; exit 3" >>"$procfile"
        else
            echo "c$i: ulimit -c 0; $W lines $l c$i-\$\$; kill -$how \$\$" >>"$procfile"
        fi
        kinds+=("c$i:$how:$l")
    done
    [[ -n $idle ]] && echo "idle: $W named $RUN idle" >>"$procfile"
    sed 's/^/    | /' "$procfile" >&3
    start -v --prefix --wait-all --restart on-failure --restart-delay 5ms --max-restarts "$k" --procfile "$procfile"
    for kind in "${kinds[@]}"; do
        IFS=: read -r name how l <<<"$kind"
        if [[ $how = writer ]]; then total=$((total + l)); else total=$((total + l * (k + 1))); fi
    done
    note "expecting $total relayed lines"
    if [[ -n $idle ]]; then
        wait_for 60 "$total lines relayed" has_lines "$RUN/out" "$total"
        wait_for 10 "the idle service" test -e "$RUN/idle.ready"
        no_zombie 1
        idle_cpu
        stop_with TERM
        finish $((DEFAULT_GRACE + KILL_WAIT + SLACK))
        expect_stop $((DEFAULT_GRACE + KILL_WAIT + SLACK))
    else
        finish 60
    fi
    # The status: that of the service that ended first, as pidone's line names it.
    local first want
    first=$(sed -nE "s/^pidone: (info|warning): exiting with status [0-9]+: the service '([a-z0-9]+)'.*/\2/p" "$RUN/err" | head -n1)
    case $first in
    w*|idle) want=0 ;;
    c*)
        for kind in "${kinds[@]}"; do
            IFS=: read -r name how l <<<"$kind"
            [[ $name = "$first" ]] || continue
            case $how in KILL) want=137 ;; SEGV) want=139 ;; exit3) want=3 ;; esac
        done
        ;;
    *) want=unknown ;;
    esac
    expect_code "${want:-unknown}" "the service that ended first: '${first:-none named}'"
    # Every line: `NAME | TAG N`, names padded to one width; each once, in order.
    local width=0 bad_lines
    for kind in "${kinds[@]}" ${idle:+idle:idle:0}; do
        name=${kind%%:*}
        ((${#name} > width)) && width=${#name}
    done
    bad_lines=$(grep -cvE "^(w[0-9]|c[0-9]|idle) *\| [wc][0-9]+-[a-z0-9-]+ [0-9]+$" "$RUN/out")
    expect "every relayed line whole and prefixed (bad: $bad_lines of $(wc -l <"$RUN/out"))" eq "$bad_lines" 0
    local misaligned
    misaligned=$(awk -v w="$width" 'index($0, " | ") != w + 1' "$RUN/out" | wc -l)
    expect "every prefix padded to $width" eq "$misaligned" 0
    for kind in "${kinds[@]}"; do
        IFS=: read -r name how l <<<"$kind"
        if [[ $how = writer ]]; then
            expect "$name: lines 1..$l once each, in order" eq \
                "$(awk -v n="$name" '$1 == n { print $NF }' "$RUN/out" | md5sum)" "$(seq "$l" | md5sum)"
        else
            local runs ok_runs=0 tag
            runs=$(awk -v n="$name" '$1 == n { print $(NF-1) }' "$RUN/out" | sort -u)
            for tag in $runs; do
                [[ $(awk -v t="$tag" '$(NF-1) == t { print $NF }' "$RUN/out" | md5sum) = "$(seq "$l" | md5sum)" ]] && ok_runs=$((ok_runs + 1))
            done
            expect "$name: $((k + 1)) runs of lines 1..$l, once each (whole runs: $ok_runs of $(wc -w <<<"$runs"))" eq "$ok_runs/$(wc -w <<<"$runs")" "$((k + 1))/$((k + 1))"
        fi
    done
    end_run
}

scenario_pids() {
    local max forks failed line
    rand 12
    max=$((R + 4))
    rand 30
    forks=$((max + R))
    begin_run pids "a workload forks $forks times in a v1 pids cgroup of pids.max $max"
    CG_PIDS=$(make_cgroup pids) || {
        bad "cannot create a pids cgroup"
        end_run
        return
    }
    echo "$max" >"$CG_PIDS/pids.max"
    WRAP=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_PIDS")
    start -- "$W" forks "$forks" "$RUN"
    wait_for 10 "the forks" test -e "$RUN/child.ready"
    failed=$(cat "$RUN/forks.failed" 2>/dev/null)
    note "measured: $failed fork(s) failed; pids.events: $(cat "$CG_PIDS/pids.events")"
    idle_cpu
    stop_with TERM
    finish $((DEFAULT_GRACE + SLACK))
    expect_code 0 "the workload exits 0 on TERM"
    expect_stop $((DEFAULT_GRACE + SLACK))
    line=$(grep -F 'pids.max reached: ' "$RUN/err")
    note "line: $line"
    if ((failed > 0)); then
        expect "the line says $failed fork(s) failed, when the workload ended" \
            grep -qE "pids.max reached: $failed forks? failed in the container \(pids.events max $failed, read when the workload ended" "$RUN/err"
    else
        expect "no fork failed, no line" eq "$line" ''
    fi
    end_run
}

scenario_memory() {
    local k limit=$((32 << 20))
    rand 3
    k=$R
    begin_run memory "the workload eats memory in a v1 memory cgroup of 32 MiB, --restart on-failure --max-restarts $k"
    CG_MEMORY=$(make_cgroup memory) || {
        bad "cannot create a memory cgroup"
        end_run
        return
    }
    echo "$limit" >"$CG_MEMORY/memory.limit_in_bytes"
    [[ -e $CG_MEMORY/memory.memsw.limit_in_bytes ]] && echo "$limit" >"$CG_MEMORY/memory.memsw.limit_in_bytes"
    echo 0 >"$CG_MEMORY/memory.swappiness" 2>/dev/null
    WRAP=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG_MEMORY")
    start --restart on-failure --restart-delay 10ms --max-restarts "$k" -- "$HOG" 256
    finish $((30 + k * 10))
    note "memory.oom_control: $(tr '\n' ' ' <"$CG_MEMORY/memory.oom_control")"
    expect_code 137 "the OOM killer's KILL, after $k restarts"
    local deaths
    deaths=$(grep -cE 'killed by (the kernel OOM killer|SIGKILL, likely by the kernel OOM killer)' "$RUN/err")
    expect "$((k + 1)) death lines name the OOM killer ($deaths)" eq "$deaths" $((k + 1))
    end_run
}

# ---------------------------------------------------------------- the soak

say "SEED=$SEED DURATION=$DURATION (SEED=$SEED DURATION=$DURATION bash tests/soak/run.sh draws the same runs)"
say "pidone: $BIN ($("$BIN" --version 2>&1 | head -n1))"
SCENARIOS=(signals signals orphans orphans orphans restarts restarts procfile procfile pids memory)
START=$SECONDS
# Each scenario at least once, in a random order; then random ones until DURATION.
ORDER=(signals orphans restarts procfile pids memory)
for ((i = ${#ORDER[@]} - 1; i > 0; i--)); do
    rand $((i + 1))
    tmp=${ORDER[$i]}
    ORDER[$i]=${ORDER[$R]}
    ORDER[$R]=$tmp
done
for s in "${ORDER[@]}"; do "scenario_$s"; done
while ((SECONDS - START < DURATION)); do
    pick "${SCENARIOS[@]}"
    "scenario_$P"
done

echo
say "$RUNS runs in $((SECONDS - START)) s, SEED=$SEED"
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

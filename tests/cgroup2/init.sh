#!/bin/sh
# /init of the cgroup2 tier's VM (busybox sh, PID 1 of a Debian kernel): mounts
# cgroup2, enables memory and pids, runs each case with pidone as PID 1 of a new
# PID namespace (`unshare -p -f --mount-proc`) in a cgroup of its own, and powers
# off. The host (tests/cgroup2/run.sh) reads the serial console: every line of ours
# starts with "@@ " (kernel messages may come between): "cases N", then per case
# "begin NAME DESCRIPTION", "note TEXT", "bad TEXT" and "PASS: NAME" or
# "FAIL: NAME: WHY", and "done" last. /pidone is the static pidone, /ex the
# static examples. Every wait polls with a deadline.
# shellcheck shell=sh
export PATH=/bin
CG=/sys/fs/cgroup
CASES="main_oom worker_oom workload_forks pidone_fork termination_log idle"

out() { echo "@@ $*"; }
note() { out note "$*"; }
bad() {
    ERRORS="${ERRORS:+$ERRORS; }$*"
    out bad "$*"
}
expect() {
    what=$1
    shift
    if "$@"; then note "ok: $what"; else bad "$what"; fi
}
begin() {
    CASE=$1 ERRORS='' PIDONE='' LAUNCHER='' RUN=0
    out begin "$1" "$2"
}
# Ends the case: what each pidone of the case wrote to stderr, the verdict; then
# every process left in the case's cgroup is killed (cgroup.kill), and the last
# launcher reaped.
end() {
    i=0
    while [ "$i" -lt "$RUN" ]; do
        i=$((i + 1)) what=stderr
        [ "$RUN" -gt 1 ] && what="stderr of pidone $i"
        if [ -s "/tmp/$CASE.$i.err" ]; then
            while IFS= read -r line; do note "$what: $line"; done <"/tmp/$CASE.$i.err"
        else
            note "$what: (empty)"
        fi
    done
    if [ -z "$ERRORS" ]; then out "PASS: $CASE"; else out "FAIL: $CASE: $ERRORS"; fi
    echo 1 >"$GROUP/cgroup.kill"
    deadline=$(($(now) + 30))
    while [ -s "$GROUP/cgroup.procs" ] && [ "$(now)" -lt "$deadline" ]; do sleep 0.05; done
    [ -s "$GROUP/cgroup.procs" ] && out "info: processes left in $GROUP: $(tr '\n' ' ' <"$GROUP/cgroup.procs")"
    wait "$LAUNCHER" 2>/dev/null
}

alive() { [ -n "$1" ] && [ -d "/proc/$1" ] && [ "$(state "$1")" != Z ]; }
state() { sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
now() { date +%s; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds; a timeout is a
# failure of the case.
wait_for() {
    limit=$1 what=$2 deadline=$(($(now) + $1))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$(now)" -ge "$deadline" ]; then
            bad "timed out after $limit s waiting for $what"
            return 1
        fi
        sleep 0.05
    done
}

# group NAME MEMORY_MAX PIDS_MAX: a fresh cgroup with these limits.
group() {
    GROUP=$CG/$1
    mkdir "$GROUP" || bad "mkdir $GROUP failed"
    echo "$2" >"$GROUP/memory.max" || bad "cannot set memory.max $2 in $GROUP"
    echo "$3" >"$GROUP/pids.max" || bad "cannot set pids.max $3 in $GROUP"
    note "cgroup $GROUP: memory.max $(cat "$GROUP/memory.max"), pids.max $(cat "$GROUP/pids.max")"
}
# counter FILE KEY: the value of KEY in a flat-keyed cgroup file.
counter() { sed -n "s/^$2 //p" "$GROUP/$1"; }

# launch [VAR=VALUE...] -- PIDONE_ARGS...: pidone, as PID 1 of a new PID namespace,
# in $GROUP (the shell joins it, then execs unshare, which forks pidone), in the
# background; its stdout and stderr go to $OUT and $ERR, the case's RUN-th. Sets
# LAUNCHER.
launch() {
    RUN=$((RUN + 1))
    OUT=/tmp/$CASE.$RUN.out ERR=/tmp/$CASE.$RUN.err PIDONE=''
    note "\$ $(echo "$*" | sed 's/ *-- */ unshare -p -f --mount-proc \/pidone /')"
    (
        while [ "$1" != -- ]; do
            export "${1?}"
            shift
        done
        shift
        # shellcheck disable=SC2016 # $$ and $@ are the inner shell's
        exec sh -c 'echo $$ >"$0/cgroup.procs" && exec unshare -p -f --mount-proc /pidone "$@"' "$GROUP" "$@"
    ) >"$OUT" 2>"$ERR" &
    LAUNCHER=$!
}
# Sets PIDONE to the pid of pidone (here, outside its namespace), once it runs.
find_pidone() { PIDONE=$(pid_in_group pidone); }
# The pid (here) of the first process called $1 in $GROUP.
pid_in_group() {
    while read -r p; do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p" && return 0
    done <"$GROUP/cgroup.procs"
    return 1
}
# Waits for the launcher (and so pidone) to exit; sets CODE, its exit status.
finish() {
    deadline=$(($(now) + $1))
    while alive "$LAUNCHER" && [ "$(now)" -lt "$deadline" ]; do sleep 0.05; done
    if alive "$LAUNCHER"; then
        bad "pidone still running $1 s later"
        CODE=none
        return 1
    fi
    wait "$LAUNCHER"
    CODE=$?
    note "pidone exited with status $CODE"
}

# Whether $1 sleeps in a wait that only an event ends: rt_sigtimedwait, ppoll,
# pselect6 or epoll_pwait2 with a NULL timeout, poll, epoll_wait or epoll_pwait with
# a timeout of -1. /proc/PID/syscall holds the number, then the arguments.
untimed_wait() {
    # shellcheck disable=SC2046 # the fields of /proc/PID/syscall
    set -- $(cat "/proc/$1/syscall" 2>/dev/null)
    [ $# -ge 7 ] || return 1
    case $1 in
    128 | 271) [ "$4" = 0x0 ] ;; # rt_sigtimedwait, ppoll: the 3rd argument
    270) [ "$6" = 0x0 ] ;;       # pselect6: the 5th
    441) [ "$5" = 0x0 ] ;;       # epoll_pwait2: the 4th
    7) minus_one "$4" ;;         # poll: the 3rd
    232 | 281) minus_one "$5" ;; # epoll_wait, epoll_pwait: the 4th
    *) false ;;
    esac
}
# Whether an int argument in /proc/PID/syscall is -1 (sign-extended or not).
minus_one() { case $1 in 0xffffffff | 0xffffffffffffffff) ;; *) false ;; esac }
# The descriptors of process $1: "FD -> WHAT ...".
descriptors() {
    for fd in "/proc/$1/fd/"*; do printf '%s -> %s ' "${fd##*/}" "$(readlink "$fd")"; done
}
# Waits until pidone runs and sleeps with no deadline: its first wakeup, where it
# reads (and, with limit events, starts watching) the cgroup's counters, is behind
# it. Notes what it sleeps in and which files it holds.
wait_settled() {
    wait_for 30 "pidone to start in $GROUP" find_pidone || return 1
    wait_for 30 "pidone (pid $PIDONE) to sleep with no deadline" untimed_wait "$PIDONE" || {
        note "pidone's /proc/PID/syscall: $(cat "/proc/$PIDONE/syscall" 2>&1)"
        return 1
    }
    note "pidone (pid $PIDONE) sleeps: /proc/PID/syscall $(cut -d' ' -f1-7 "/proc/$PIDONE/syscall")"
    note "pidone's descriptors: $(descriptors "$PIDONE")"
}
# A gate for a workload that must wait until pidone is settled: the workload's
# shell blocks opening the fifo; `open_gate` lets it go on.
GATE=/tmp/gate
make_gate() { rm -f "$GATE" && mkfifo "$GATE"; }
open_gate() { echo go >"$GATE"; }

has() { grep -qF -- "$2" "$1"; }
has_re() { grep -qE -- "$2" "$1"; }
not() { ! "$@"; }
eq() { [ "$1" = "$2" ]; }
ge() { [ -n "$1" ] && [ "$1" -ge "$2" ] 2>/dev/null; }
# same_line FILE LINE: FILE holds LINE, which is not empty.
same_line() { [ -n "$2" ] && [ "$(cat "$1")" = "$2" ]; }
# The death line: pidone's last warning line, without its "pidone: warning: ".
death_line() { grep '^pidone: warning: ' "$ERR" | tail -n1 | sed 's/^pidone: warning: //'; }

# --------------------------------------------------------------------- cases

case_main_oom() {
    begin main-oom "the main workload (hog) OOM-killed in memory.max 32M: pidone's death line names the OOM killer"
    group main-oom 32M max
    make_gate
    launch -- -- sh -c "read -r _ <$GATE; exec /ex/hog 256"
    if wait_settled; then
        open_gate
        finish 60
        expect "pidone exits 137, the workload's SIGKILL (got $CODE)" eq "$CODE" 137
        expect "memory.events oom_kill 1: the kernel OOM killer struck" eq "$(counter memory.events oom_kill)" 1
        expect "the death line names the OOM killer: 'killed by the kernel OOM killer (oom_kill 0 → 1'" \
            has "$ERR" 'killed by the kernel OOM killer (oom_kill 0 → 1'
    fi
    end
}

case_worker_oom() {
    begin worker-oom "a worker (hog) OOM-killed in memory.max 32M while the main shell lives on: an event line"
    group worker-oom 32M max
    make_gate
    launch -- -- sh -c "read -r _ <$GATE; /ex/hog 256; echo \$? >/tmp/worker.status; exec sleep 1000"
    if wait_settled; then
        open_gate
        wait_for 60 "the worker's end (/tmp/worker.status)" test -s /tmp/worker.status
        expect "the worker died of SIGKILL (status $(cat /tmp/worker.status 2>/dev/null))" \
            eq "$(cat /tmp/worker.status 2>/dev/null)" 137
        expect "memory.events oom_kill 1: the kernel OOM killer struck" eq "$(counter memory.events oom_kill)" 1
        wait_for 20 "pidone's OOM event line ('the kernel OOM killer killed a process in the container')" \
            has "$ERR" 'the kernel OOM killer killed a process in the container'
        expect "the event line is a timestamped warning with 'oom_kill 0 → 1; memory '" \
            has_re "$ERR" '^pidone: warning: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z: the kernel OOM killer killed a process in the container \(oom_kill 0 → 1; memory [0-9.]+ [KMG]iB of 32(\.0)? MiB\)'
        # v2 tells of the kill after it: the victim's memory is freed by then, and
        # the largest left may hold a few KiB (pidone itself, the shell).
        expect "the event line names the largest processes ('largest now: NAME (pid P) SIZE', SIZE as N B or N.N KiB/MiB)" \
            has_re "$ERR" 'largest now: [^ ]+ \(pid [0-9]+\) ([0-9]+ B|[0-9]+\.[0-9] [KMGTP]iB)'
        expect "pidone runs on" alive "$PIDONE"
        expect "the main process runs on (sleep, after the shell's exec)" pid_in_group sleep
        kill -TERM "$PIDONE"
        finish 30
        expect "TERM: pidone exits 143 (got $CODE)" eq "$CODE" 143
    fi
    end
}

case_workload_forks() {
    begin workload-forks "the workload's forks fail at pids.max 16: an event line, and pidone runs on"
    group workload-forks 64M 16
    make_gate
    mkdir -p /tmp/forks
    launch -- -- sh -c "read -r _ <$GATE; exec /ex/workload forks 40 /tmp/forks"
    if wait_settled; then
        open_gate
        wait_for 30 "the workload's forks (/tmp/forks/child.ready)" test -e /tmp/forks/child.ready
        note "forks failed: $(cat /tmp/forks/forks.failed); pids.events max $(counter pids.events max), pids.current $(cat "$GROUP/pids.current")"
        expect "some forks failed" ge "$(cat /tmp/forks/forks.failed)" 1
        expect "pids.events max moved" ge "$(counter pids.events max)" 1
        wait_for 20 "pidone's pids event line ('pids.max reached:')" has "$ERR" 'pids.max reached:'
        expect "the event line is a timestamped warning: 'pids.max reached: N forks failed in the container (pids.events max 0 → N, pids.current C of 16)'" \
            has_re "$ERR" '^pidone: warning: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z: pids\.max reached: [0-9]+ forks? failed in the container \(pids\.events max 0 → [0-9]+, pids\.current [0-9]+ of 16\)'
        expect "the event line names the processes with most tasks ('most tasks: NAME (pid P) T')" \
            has_re "$ERR" 'most tasks: [^ ]+ \(pid [0-9]+\) [0-9]+'
        expect "pidone runs on" alive "$PIDONE"
        kill -TERM "$PIDONE"
        finish 30
        expect "TERM: pidone exits 0, the workload's status on TERM (got $CODE)" eq "$CODE" 0
    fi
    end
}

case_pidone_fork() {
    begin pidone-fork "pidone's own fork fails at pids.max 2 (unshare and pidone): the error names pids.max"
    group pidone-fork 64M 2
    launch -- -- true
    finish 30
    expect "pidone exits 1 (got $CODE)" eq "$CODE" 1
    expect "pids.events max moved" ge "$(counter pids.events max)" 1
    expect "the error names the limit: 'pids.current N of pids.max 2'" \
        has_re "$ERR" 'pids\.current [0-9]+ of pids\.max 2'
    end
}

case_termination_log() {
    begin termination-log "the termination message: pidone's explanation of a death by SIGSEGV (--termination-log) and by an outside KILL (PIDONE_TERMINATION_LOG)"
    group termination-log 64M 64
    : >/tmp/termination.log
    launch -- --termination-log /tmp/termination.log -- /ex/workload raise SEGV
    finish 30
    line=$(death_line)
    note "death line: $line"
    note "/tmp/termination.log: $(cat /tmp/termination.log)"
    expect "SEGV: pidone exits 139 (got $CODE)" eq "$CODE" 139
    expect "SEGV: the death line names SIGSEGV" has "$ERR" SIGSEGV
    expect "SEGV: the file holds the death line without 'pidone: warning: '" same_line /tmp/termination.log "$line"

    : >/tmp/termination2.log
    launch PIDONE_TERMINATION_LOG=/tmp/termination2.log -- -- sleep 1000
    if wait_settled; then
        sleeper=$(pid_in_group sleep)
        note "kill -KILL $sleeper (the workload, from outside)"
        kill -KILL "$sleeper"
        finish 30
        line=$(death_line)
        note "death line: $line"
        note "/tmp/termination2.log: $(cat /tmp/termination2.log)"
        expect "KILL: pidone exits 137 (got $CODE)" eq "$CODE" 137
        expect "KILL: the death line names SIGKILL" has "$ERR" SIGKILL
        expect "KILL: the file holds the death line without 'pidone: warning: '" same_line /tmp/termination2.log "$line"
    fi
    end
}

case_idle() {
    begin idle "no wakeup in 2 s while the workload sleeps, in memory and pids cgroups"
    group idle 64M 64
    launch -- -- sleep 1000
    if wait_settled; then
        switches() {
            sed -n 's/^\(non\)\{0,1\}voluntary_ctxt_switches:[[:space:]]*//p' "/proc/$PIDONE/status" |
                { read -r a && read -r b && echo $((a + b)); }
        }
        before=$(switches)
        sleep 2
        after=$(switches)
        note "context switches of pidone: $before, 2 s later $after"
        expect "pidone did not wake up ($((after - before)) switches)" eq "$after" "$before"
        kill -TERM "$PIDONE"
        finish 30
        expect "TERM: pidone exits 143 (got $CODE)" eq "$CODE" 143
    fi
    end
}

# --------------------------------------------------------------------- main

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 "$CG"
echo 1 >/proc/sys/kernel/printk # kernel messages would cut into our lines
# shellcheck disable=SC3045 # busybox sh has ulimit -c
ulimit -c 0
out "info: kernel $(uname -r), $(nproc) cpu, cgroup2 controllers: $(cat "$CG/cgroup.controllers")"
echo "+memory +pids" >"$CG/cgroup.subtree_control" ||
    out "info: cannot enable memory and pids in $CG/cgroup.subtree_control"
# shellcheck disable=SC2086 # the list of cases
set -- $CASES
out cases $#
for c in $CASES; do "case_$c"; done
out "done"
poweroff -f

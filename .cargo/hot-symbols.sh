#!/bin/sh
# Regenerates the text part of .cargo/hot-symbols.txt, the --symbol-ordering-file
# of `cargo build-static` (see .cargo/config.toml): the functions pidone runs, so
# that lld puts them together at the start of .text.
#
# Why: the kernel maps a file's pages 64 KiB at a time around each page fault
# (fault-around), so one function run in each 64 KiB of a 1 MB .text maps all of
# it into pidone's VmRSS. Gathered, they take a few such windows.
#
# How: the shipped build (same profile: the Rust symbol hashes depend on it) is
# linked with a map file and run as PID 1 under valgrind's lackey three times
# (exit at once; TERM forwarded; orphans reaped), and once with a relayed
# Procfile; every executed address is named
# from the map (a merge of two sorted lists). What one forwarded signal runs goes
# first (a fourth run): fewer pages per signal, fewer TLB misses. Then the other
# variants of each glibc string function used: valgrind's CPU picks the AVX2 one,
# a recent CPU EVEX or AVX-512. Then, with perf, the page faults of the binary
# built with that list, on this CPU: what glibc runs here and not under valgrind
# is added, until no fault lands outside the list (at most 3 rounds; skipped
# without perf). The hand-kept part above the "# --- text" line stays as it is.
# Names that stop matching (a new Rust, new crates) are ignored by lld: the cost
# of a stale list is memory, not a build.
# Needs valgrind and unshare (perf optional); as root: .cargo/hot-symbols.sh
set -eu
cd "$(dirname "$0")/.."
list=.cargo/hot-symbols.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/target/x86_64-unknown-linux-gnu/release/pidone

# Builds the shipped binary with the current list, and its symbols, by address:
# "ADDRESS S NAME" with the address in 16 hex digits.
build() {
    CARGO_TARGET_DIR="$tmp/target" cargo build-static --quiet --config \
        "target.x86_64-unknown-linux-gnu.rustflags = ['-C', 'link-arg=-Wl,-Map=$tmp/map', '-C', 'link-arg=-Wl,--no-demangle']"
    # Symbol lines of lld's map: "VMA LMA SIZE ALIGN NAME", NAME at column 66
    # (an output section's name is at column 50, an input section's at 58).
    awk 'NF == 5 && substr($0, 50, 16) == "                " { s = $1
        while (length(s) < 16) s = "0" s; print s, "S", $5 }' "$tmp/map" | sort -k1,1 >"$tmp/syms"
}

# Names the addresses on stdin (hex, one per line) by the symbol before each.
name() {
    awk '{ s = $1; while (length(s) < 16) s = "0" s; print s, "A" }' | sort -u >"$tmp/addrs"
    sort -s -k1,1 "$tmp/syms" "$tmp/addrs" |
        awk '$2 == "S" { n = $3 } $2 == "A" && n != "" && !seen[n]++ { print n }'
}

kept=$(sed -n '1,/^# --- text/p' $list)
build
lackey="valgrind --tool=lackey --trace-mem=yes --log-file=$tmp/l"
unshare -pf sh -c "${lackey}1 $bin -- /bin/true 2>/dev/null"
unshare -pf sh -c "${lackey}2 $bin -- sleep 5 2>/dev/null & sleep 3; kill -TERM \$!; wait"
unshare -pf sh -c "${lackey}3 $bin -- sh -c '(sleep 0.2 &); (sleep 0.2 &); sleep 0.6' 2>/dev/null"
# Several services, relayed: what --procfile and --prefix run.
printf 'a: sleep 5\nb: sh -c "echo hi; echo err >&2; sleep 5"\n' >"$tmp/Procfile"
unshare -pf sh -c "${lackey}5 $bin --prefix --procfile $tmp/Procfile >/dev/null 2>&1 & sleep 3; kill -TERM \$!; wait"
cat "$tmp"/l[123] | awk '$1 == "I" { split($2, a, ","); print a[1] }' | name >"$tmp/run"
# What only the Procfile run adds (clap, the relay) goes after: the plain
# invocation's functions stay together, in as few 64 KiB windows as before.
awk '$1 == "I" { split($2, a, ","); print a[1] }' "$tmp/l5" | name | grep -vxF -f "$tmp/run" >"$tmp/more" || true

# The loop first: what runs at every wakeup that forwards a signal (the code of
# every iteration from the 2nd entry into sigtimedwait to the last: the 1st
# wakeup is the 10 ms deadline of the OOM baseline, the last the reap and exit),
# 3 code pages per signal instead of 6.
unshare -pf sh -c "${lackey}4 $bin -- sh -c 'trap \"\" USR1; sleep 5' 2>/dev/null & sleep 2
    for i in 1 2 3; do kill -USR1 \$!; sleep 0.3; done; kill -TERM \$!; wait"
wait_at=$(awk '$3 == "sigtimedwait" { sub(/^0+/, "", $1); print $1 }' "$tmp/syms")
awk '$1 == "I" { split($2, a, ","); print a[1] }' "$tmp/l4" | sed 's/^0*//' >"$tmp/i4"
entries=$(grep -cx "$wait_at" "$tmp/i4")
awk -v at="$wait_at" -v last="$entries" '$0 == at { n++ }
    n >= 2 && n < last && !((n, $0) in hit) { hit[n, $0]; count[$0]++ }
    END { for (a in count) if (count[a] == last - 2) print a }' "$tmp/i4" | name >"$tmp/loop"

variants() {
    bases=$(sed -nE 's/^__((mem|str|stp|wcs|wmem|rawmem)[a-z]*)_(avx|evex|sse|erms).*/\1/p' "$tmp/run" |
        sort -u | paste -sd'|')
    # The AVX2, EVEX and AVX-512 ones: SSE variants serve CPUs older than 2013,
    # RTM ones the few with TSX on; each costs at most one 64 KiB window there.
    awk '{ print $3 }' "$tmp/syms" | grep -E "^__($bases)_.*(avx|evex)" |
        grep -vE '_rtm|no_vzeroupper' | grep -vxF -f "$tmp/run" || true
}
write() {
    { echo "$kept"; cat "$tmp/loop"; grep -vxF -f "$tmp/loop" "$tmp/run"; variants
      grep -vxF -f "$tmp/loop" "$tmp/more" || true; } >"$tmp/new"
    cp "$tmp/new" $list
}
write

if command -v perf >/dev/null; then
    for round in 1 2 3; do
        build
        perf record -q -e page-faults -c 1 -d -o "$tmp/pf" -- unshare -pf sh -c \
            "$bin -- sleep 2 & sleep 1; kill -TERM \$!; wait; $bin -- /bin/true" 2>/dev/null
        # The faults in .text (not data, not the stack, not .iplt, which stays last).
        text=$(readelf -SW "$bin" | sed 's/^ *\[ *[0-9]*\] *//' | awk '$1 == ".text" { print $3, $5 }')
        perf script -i "$tmp/pf" -F comm,addr 2>/dev/null | awk -v t="$text" '
            function pad(s) { while (length(s) < 16) s = "0" s; return s }
            BEGIN { split(t, x, " "); lo = pad(x[1]); hi = pad(sprintf("%x", hex(x[1]) + hex(x[2]))) }
            function hex(s,  i, v) { v = 0; s = tolower(s)
                for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
                return v }
            $1 == "pidone" && pad($2) >= lo && pad($2) < hi { print $2 }' |
            name | grep -vxF -f "$tmp/new" >"$tmp/found" || true
        [ -s "$tmp/found" ] || break
        echo "round $round: $(wc -l <"$tmp/found") more from page faults"
        cat "$tmp/found" >>"$tmp/run"
        write
    done
fi
echo "$(grep -vc '^#' $list) names in $list"

#!/bin/bash
# Instructions per single-row INSERT transaction, for comparing trigger variants on a machine whose CPU is
# shared (docs/benchmarks.md, "Durable write path"): timings there move by ±30 % from minute to minute, an
# instruction count does not. The backend runs in single-user mode under callgrind and executes the same
# single-row INSERTs pgbench sends (each its own transaction, trigger, commit and NOTIFY included; no
# client, network or lock waits); N=1500 minus N=500, divided by 1000, cancels start-up and shutdown.
#
# usage: benchmarks-trigger-instructions.sh DATA_DIR TABLE...
#   DATA_DIR  a copy of a stopped cluster's data directory, owned by the postgres user (each run adds rows to it)
#   TABLE     tables of the pgbench shape (id bigserial, customer int, item text, qty int, created timestamptz),
#             each with the trigger variant to measure (see benchmarks-durable-trigger-variants.sql)
# needs: valgrind, PostgreSQL 15 server binaries; run as root (the backend runs as postgres).
set -euo pipefail
data=$1
shift
bin=/usr/lib/postgresql/15/bin
work=$(mktemp -d)
chmod 1777 "$work"
trap 'rm -rf "$work"' EXIT
for table in "$@"; do
    counts=()
    for n in 500 1500; do
        for ((i = 1; i <= n; i++)); do
            c=$(( (i * 7919) % 100000 + 1 ))
            echo "INSERT INTO $table (customer, item, qty) VALUES ($c, 'widget-' || $c, $c % 7 + 1)"
        done > "$work/in.sql"
        runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
            "$bin/postgres" --single -D "$data" -c fsync=off postgres < "$work/in.sql" > /dev/null 2> "$work/err"
        counts+=("$(grep -E '^(summary|totals):' "$work/cg.out" | head -1 | awk '{print $2}')")
        rm -f "$work/cg.out"
    done
    printf '%-24s %8.1f k instructions per transaction\n' "$table" "$(echo "(${counts[1]} - ${counts[0]}) / 1000 / 1000" | bc -l)"
done

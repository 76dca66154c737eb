#!/bin/sh
# Entry point of the SignFlow image: refuse to start, with a message saying what to do, when a
# folder the process must write to (uploads, sealing keys, beat's schedule) is not writable.
# Otherwise a fresh deployment would start, answer /healthz and fail on the first upload.
# The folders come from SIGNFLOW_WRITABLE_DIRS (space-separated), by default MEDIA_ROOT.
set -eu

dirs="${SIGNFLOW_WRITABLE_DIRS:-${MEDIA_ROOT:-/data/media}}"
failed=0
for dir in $dirs; do
    if [ ! -d "$dir" ]; then
        if ! mkdir -p "$dir" 2>/dev/null; then
            echo "signflow: cannot create $dir as $(id -un) (uid $(id -u)):" \
                "create it owned by uid $(id -u) or mount a volume there." >&2
            failed=1
            continue
        fi
    fi
    probe="$dir/.signflow-write-probe.$$"
    if ! (: >"$probe") 2>/dev/null; then
        owner="$(stat -c '%U (uid %u)' "$dir" 2>/dev/null || echo unknown)"
        echo "signflow: cannot write to $dir: it is owned by $owner and this process runs as" \
            "$(id -un) (uid $(id -u)). Fix the volume's owner, e.g." \
            "'docker compose run --rm --user root web chown -R $(id -u):$(id -g) $dir'." >&2
        failed=1
        continue
    fi
    rm -f "$probe"
done
if [ "$failed" -ne 0 ]; then
    exit 1
fi
exec "$@"

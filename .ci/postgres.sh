# A throwaway PostgreSQL server for the tests that keep the Dagster instance in Postgres.
# Sourced by .ci/run:  pg_install; pg_start (exports MESH_TEST_POSTGRES_URL); pg_stop.
# The cluster lives in a temp dir, listens on 127.0.0.1 only, on a free port, with trust auth:
# it holds nothing but test runs and is deleted at exit.

# Debian puts the server binaries in /usr/lib/postgresql/<major>/bin, off the PATH.
pg_bindir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$found" ] && command -v pg_ctl >/dev/null; then
        found=$(dirname "$(command -v pg_ctl)")
    fi
    echo "$found"
}

pg_install() {
    if [ -z "$(pg_bindir)" ]; then
        local sudo
        sudo=$([ "$(id -u)" = 0 ] || echo sudo)
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    fi
}

# The server refuses to run as root: as root, run it as the package's `postgres` user.
pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    local bin port
    bin=$(pg_bindir)
    PG_DIR=$(mktemp -d -t meshwork-pg.XXXXXX)
    if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    pg_as_owner "$bin/initdb" -D "$PG_DIR/data" -U meshwork --auth=trust -E UTF8 --no-sync >"$PG_DIR/initdb.log"
    # fsync off: a crash loses nothing we need, and CI disks are slow.
    pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start \
        -o "-h 127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c max_connections=200" >/dev/null
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U meshwork meshwork
    export MESH_TEST_POSTGRES_URL="postgresql://meshwork@127.0.0.1:$port/meshwork"
    echo "== PostgreSQL $("$bin/psql" "$MESH_TEST_POSTGRES_URL" -Atc 'SHOW server_version') on 127.0.0.1:$port ($PG_DIR)"
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] || return 0
    pg_as_owner "$(pg_bindir)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null || true
    rm -rf "$PG_DIR"
    PG_DIR=
}

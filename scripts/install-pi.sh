#!/bin/sh
# install-pi.sh: installs (or upgrades) PiPDU as a systemd service on Raspberry Pi OS / Debian.
#
#   sudo scripts/install-pi.sh [install]      first install; run it again at will (idempotent)
#   sudo scripts/install-pi.sh upgrade        git pull, rebuild, restart the service
#
# options:
#   --dry-run      print what would be done, change nothing
#   --no-build     skip npm ci / build / prune (the code in $PREFIX is already built)
#   --no-start     install the unit but do not enable or (re)start it
#   --no-apt       do not install Debian packages (build-essential, python3, git)
#
# environment (defaults in brackets):
#   PREFIX [/opt/pipdu]  the code; ETC [/etc/pipdu]  config, secrets, certificates;
#   STATE [/var/lib/pipdu]  state.json, audit log, energy, history; BINDIR [/usr/local/bin];
#   UNITDIR [/etc/systemd/system]; SERVICE_USER [pipdu];
#   DESTDIR: prefixes every path written (packaging and tests); the user is still made for real.
#
# What it does: installs the toolchain onoff/epoll and serialport compile with (build-essential,
# python3); makes the system user pipdu (groups dialout, gpio, i2c where they exist); copies the
# code to $PREFIX when run from elsewhere; npm ci, npm run build, npm prune --omit=dev; makes
# $ETC (root:pipdu 0750) with pipdu.yaml from the example (0640) and an empty secrets.env (root
# only, 0600: systemd reads it for the service); gives pipdu read access to $ETC/tls; writes the
# unit with the node found now and a `pipdu` command in $BINDIR; adds the user who ran sudo to the
# pipdu group (the local control socket /run/pipdu/pipdu.sock is for that group).
set -eu

PREFIX=${PREFIX:-/opt/pipdu}
ETC=${ETC:-/etc/pipdu}
STATE=${STATE:-/var/lib/pipdu}
BINDIR=${BINDIR:-/usr/local/bin}
UNITDIR=${UNITDIR:-/etc/systemd/system}
SERVICE_USER=${SERVICE_USER:-pipdu}
DESTDIR=${DESTDIR:-}
DRY_RUN=0
BUILD=1
START=1
APT=1
MODE=install

for arg in "$@"; do
  case $arg in
    install | upgrade) MODE=$arg ;;
    --dry-run) DRY_RUN=1 ;;
    --no-build) BUILD=0 ;;
    --no-start) START=0 ;;
    --no-apt) APT=0 ;;
    -h | --help)
      sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-pi.sh: unknown argument \"$arg\" (--help lists them)" >&2
      exit 2
      ;;
  esac
done

say() { printf '%s\n' "$*"; }
# run <command...>: shown, then run (only shown with --dry-run)
run() {
  say "+ $*"
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}
fail() {
  printf 'install-pi.sh: %s\n' "$*" >&2
  exit 1
}

here=$(cd "$(dirname "$0")/.." && pwd)
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then fail "run it as root: sudo $0 $*"; fi

# ---------------------------------------------------------------- node
node=$(command -v node || true)
[ -n "$node" ] || fail "node is not installed: PiPDU needs Node.js 20 or later (NodeSource's packages or nodejs.org's builds)"
node=$(readlink -f "$node")
major=$("$node" -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "$node is Node.js $("$node" --version): PiPDU needs 20 or later"
npm=$(command -v npm || true)
say "node: $node ($("$node" --version))"

# ---------------------------------------------------------------- packages
if [ "$APT" = 1 ]; then
  missing=
  for pkg in build-essential python3 git; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    run apt-get update
    # shellcheck disable=SC2086 # one word per package
    run apt-get install -y --no-install-recommends $missing
  fi
fi

# ---------------------------------------------------------------- user and groups
if getent passwd "$SERVICE_USER" >/dev/null; then
  say "user $SERVICE_USER exists"
else
  run useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi
groups=
for group in dialout gpio i2c; do
  if getent group "$group" >/dev/null; then
    groups="$groups $group"
    run usermod -aG "$group" "$SERVICE_USER"
  else
    say "no group $group on this machine (not a Pi?): the service runs without it"
  fi
done
groups=${groups# }
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  run usermod -aG "$SERVICE_USER" "$SUDO_USER"
  say "$SUDO_USER may use the local control socket after logging in again (group $SERVICE_USER)"
fi

# ---------------------------------------------------------------- code
code=$DESTDIR$PREFIX
if [ "$MODE" = upgrade ]; then
  [ -d "$code/.git" ] || fail "$code is not a git checkout: upgrade by copying the new code there and running install"
  run git -C "$code" pull --ff-only
elif [ "$(readlink -f "$here")" != "$(readlink -f "$code" 2>/dev/null || echo "$code")" ]; then
  run mkdir -p "$code"
  say "+ copying $here to $code"
  if [ "$DRY_RUN" = 0 ]; then
    (cd "$here" && tar -c --exclude=./node_modules --exclude=./dist --exclude=./state \
      --exclude=./config/pipdu.yaml --exclude=./firmware/build --exclude=./.scratch .) | tar -x -C "$code"
  fi
fi
if [ "$BUILD" = 1 ]; then
  [ -n "$npm" ] || fail "npm is not installed (it comes with Node.js)"
  # npm ci compiles onoff's epoll and serialport where no prebuilt binary fits (build-essential, python3).
  run sh -c "cd '$code' && npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund"
fi

# ---------------------------------------------------------------- /etc/pipdu
etc=$DESTDIR$ETC
run install -d -o root -g "$SERVICE_USER" -m 0750 "$etc"
if [ -f "$etc/pipdu.yaml" ]; then
  say "kept $etc/pipdu.yaml"
else
  # state.dir is left out: the daemon uses systemd's state directory ($STATE).
  say "+ $etc/pipdu.yaml from config/pipdu.example.yaml"
  if [ "$DRY_RUN" = 0 ]; then
    sed -e '/^state:/,/^[^ #]/{/^  dir:/d}' "$here/config/pipdu.example.yaml" >"$etc/pipdu.yaml"
  fi
fi
run chown root:"$SERVICE_USER" "$etc/pipdu.yaml"
run chmod 0640 "$etc/pipdu.yaml"
if [ ! -f "$etc/secrets.env" ]; then
  run install -o root -g root -m 0600 /dev/null "$etc/secrets.env"
fi
run chmod 0600 "$etc/secrets.env"
if [ -d "$etc/tls" ]; then
  # make-certs.sh output: the service reads server.crt, server.key, ca.crt; ca.key stays root's.
  run chgrp "$SERVICE_USER" "$etc/tls"
  run chmod 0750 "$etc/tls"
  for file in "$etc"/tls/server.key "$etc"/tls/server.crt "$etc"/tls/ca.crt; do
    if [ -f "$file" ]; then
      run chgrp "$SERVICE_USER" "$file"
      run chmod 0640 "$file"
    fi
  done
fi

# ---------------------------------------------------------------- state
run install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0750 "$DESTDIR$STATE"

# ---------------------------------------------------------------- unit and command
unit=$DESTDIR$UNITDIR/pipdu.service
run mkdir -p "$DESTDIR$UNITDIR" "$DESTDIR$BINDIR"
say "+ $unit (node $node, groups: ${groups:-none})"
if [ "$DRY_RUN" = 0 ]; then
  sed -e "s|/usr/bin/node|$node|g" -e "s|/opt/pipdu|$PREFIX|g" -e "s|/etc/pipdu|$ETC|g" \
    -e "s|^User=pipdu|User=$SERVICE_USER|" -e "s|^Group=pipdu|Group=$SERVICE_USER|" \
    -e "s|^SupplementaryGroups=.*|SupplementaryGroups=$groups|" \
    "$here/deploy/pipdu.service" >"$unit.new"
  if [ -z "$groups" ]; then sed -i '/^SupplementaryGroups=$/d' "$unit.new"; fi
  mv "$unit.new" "$unit"
  chmod 0644 "$unit"
fi
say "+ $DESTDIR$BINDIR/pipdu"
if [ "$DRY_RUN" = 0 ]; then
  printf '#!/bin/sh\n# The PiPDU command line (made by install-pi.sh); it finds the daemon at /run/pipdu/pipdu.sock.\nexec %s %s/dist/src/cli/pipdu.js "$@"\n' \
    "$node" "$PREFIX" >"$DESTDIR$BINDIR/pipdu"
  chmod 0755 "$DESTDIR$BINDIR/pipdu"
fi
if command -v systemd-analyze >/dev/null 2>&1 && [ "$DRY_RUN" = 0 ] && [ -z "$DESTDIR" ]; then
  run systemd-analyze verify "$unit"
fi

# ---------------------------------------------------------------- check and start
ready=1
if [ -z "$DESTDIR" ] && [ -f "$PREFIX/dist/src/config/check-config.js" ]; then
  say "+ checking $ETC/pipdu.yaml as $SERVICE_USER"
  if [ "$DRY_RUN" = 0 ] && ! (cd "$PREFIX" && runuser -u "$SERVICE_USER" -- "$node" dist/src/config/check-config.js "$ETC/pipdu.yaml"); then
    ready=0
  fi
fi
if [ "$START" = 1 ] && [ -z "$DESTDIR" ]; then
  run systemctl daemon-reload
  run systemctl enable pipdu
  if [ "$ready" = 1 ]; then
    run systemctl restart pipdu
    say "PiPDU is running: journalctl -u pipdu -f; pipdu status"
  else
    say "not started yet: fix $ETC/pipdu.yaml as above (sudoedit $ETC/pipdu.yaml), then: sudo systemctl restart pipdu"
  fi
else
  say "not started: when ready, sudo systemctl daemon-reload && sudo systemctl enable --now pipdu"
fi

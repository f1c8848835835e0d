#!/bin/sh
# make-certs.sh: certificates for PiPDU's HTTPS API (mutual TLS), made with openssl.
#
#   scripts/make-certs.sh <dir> [client CN...]
#
# Writes into <dir> (created if missing, files made private with umask 077):
#   ca.crt, ca.key              a CA that signs the server and client certificates;
#                               kept and reused when it already exists, so running the
#                               script again only adds clients
#   server.crt, server.key      the API's certificate: CN localhost, SAN localhost,
#                               127.0.0.1, ::1, this machine's host name (and its .local
#                               name); more names in PIPDU_SAN ("DNS:pi.lab,IP:10.0.0.5")
#   <CN>.crt, <CN>.key          one client certificate per CN given (extended key usage
#                               clientAuth); the CN is the API actor, mapped to a role in
#                               api.clients
#   <CN>.p12                    the same certificate and key (and ca.crt) as PKCS#12, for a
#                               browser to import; protected by the password in the
#                               PIPDU_P12_PASSWORD environment variable, or by none when
#                               it is unset (then keep the file as private as the .key)
#
# Who may read them: everything is private (umask 077), except what the daemon reads:
# <dir>, server.crt, server.key and ca.crt belong to the group PIPDU_CERT_GROUP (default
# pipdu, when that group exists: the service's user, made by install-pi.sh) and are
# group-readable (0750, 0640). ca.key and the client keys stay the owner's alone.
# On the Pi: sudo scripts/make-certs.sh /etc/pipdu/tls alice-laptop
#
# Certificates are valid for PIPDU_DAYS days (default 825). Then point the config at them:
#   api:
#     listen: 0.0.0.0:8443
#     tls: { cert: <dir>/server.crt, key: <dir>/server.key, ca: <dir>/ca.crt }
#     clients: { ci-runner: operator, alice-laptop: admin }
# and give each client its <CN>.crt, <CN>.key and ca.crt, e.g.
#   curl --cacert ca.crt --cert ci-runner.crt --key ci-runner.key https://pi:8443/api/v1/sockets
# The server certificate is re-made on every run; an existing client certificate is kept
# (delete it to make a new one), and its .p12 is written if it is missing. Keys are P-256
# EC keys; the .p12 uses OpenSSL 3's defaults (AES-256, PBKDF2), which current Firefox and
# Chrome import.
set -eu

if [ $# -lt 1 ]; then
  echo "usage: $0 <dir> [client CN...]" >&2
  exit 2
fi
dir=$1
shift
days=${PIPDU_DAYS:-825}
umask 077
mkdir -p "$dir"
cd "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

if [ ! -f ca.key ] || [ ! -f ca.crt ]; then
  newkey ca.key
  openssl req -new -x509 -key ca.key -out ca.crt -days "$days" -subj "/CN=PiPDU CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
  echo "made CA: $dir/ca.crt"
fi

# sign <name> <CN> <extensions file>
sign() {
  openssl req -new -key "$1.key" -out "$tmp/$1.csr" -subj "/CN=$2"
  openssl x509 -req -in "$tmp/$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -CAserial "$tmp/serial" \
    -out "$1.crt" -days "$days" -extfile "$3" 2>/dev/null
}

host=$(hostname 2>/dev/null || echo localhost)
san="DNS:localhost,IP:127.0.0.1,IP:::1"
if [ "$host" != localhost ]; then san="$san,DNS:$host,DNS:$host.local"; fi
if [ -n "${PIPDU_SAN:-}" ]; then san="$san,$PIPDU_SAN"; fi
cat >"$tmp/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
newkey server.key
sign server localhost "$tmp/server.ext"
echo "made server certificate: $dir/server.crt ($san)"

cat >"$tmp/client.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EXT
# The password goes to openssl through the environment, never on a command line (ps shows those).
export PIPDU_P12_PASSWORD="${PIPDU_P12_PASSWORD:-}"
for cn in "$@"; do
  case $cn in
    */* | .* | "") echo "skipping client CN \"$cn\": not usable as a file name" >&2; continue ;;
  esac
  if [ -f "$cn.crt" ]; then
    echo "kept client certificate: $dir/$cn.crt"
  else
    newkey "$cn.key"
    sign "$cn" "$cn" "$tmp/client.ext"
    echo "made client certificate: $dir/$cn.crt (CN=$cn)"
  fi
  if [ ! -f "$cn.p12" ]; then
    openssl pkcs12 -export -in "$cn.crt" -inkey "$cn.key" -certfile ca.crt -name "$cn" \
      -out "$cn.p12" -passout env:PIPDU_P12_PASSWORD
    if [ -n "$PIPDU_P12_PASSWORD" ]; then how="password from PIPDU_P12_PASSWORD"; else how="no password"; fi
    echo "made $dir/$cn.p12 for a browser ($how)"
  fi
done

group=${PIPDU_CERT_GROUP:-pipdu}
if getent group "$group" >/dev/null 2>&1; then
  chgrp "$group" . server.crt server.key ca.crt
  chmod 0750 .
  chmod 0640 server.crt server.key ca.crt
  echo "the group $group may read $dir/server.crt, server.key and ca.crt"
elif [ -n "${PIPDU_CERT_GROUP:-}" ]; then
  echo "make-certs.sh: there is no group $group: the files are private to $(id -un)" >&2
  exit 1
else
  echo "no group pipdu here: the files are private to $(id -un) (the daemon must run as $(id -un) to read them)"
fi

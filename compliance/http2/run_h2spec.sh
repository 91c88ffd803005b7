#!/usr/bin/env bash
# Run the external h2spec tool (HTTP/2 and HPACK conformance) against this project's Hypercorn.
#
# Usage: compliance/http2/run_h2spec.sh [--tls] [--app MODULE:APP] [-- H2SPEC_ARGS...]
#
#   --tls         serve over TLS with a throwaway certificate; h2spec gets -t -k
#   --app         the ASGI app to serve (default: compliance.http2.app:app, the suite's app)
#   after --      anything for h2spec itself, e.g. -- -S (strict) or -- http2/6.5 (one section)
#
# Environment: H2SPEC (the h2spec binary, default: h2spec on PATH), HYPERCORN (the server
# command, default: .venv/bin/hypercorn, else hypercorn on PATH), PYTHON (for the free port
# and the certificate, default: .venv/bin/python, else python3).
# Exits with h2spec's status (0 when every case passed).
set -euo pipefail
cd "$(dirname "$0")/../.."

tls=0
app="compliance.http2.app:app"
h2spec_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tls) tls=1 ;;
    --app) app="$2"; shift ;;
    --) shift; h2spec_args=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

h2spec="${H2SPEC:-h2spec}"
if ! command -v "$h2spec" >/dev/null 2>&1; then
  cat >&2 <<'EOF'
h2spec was not found. It is a single Go binary:
  - download a release for your platform from https://github.com/summerwind/h2spec/releases
    and put it on PATH (or point H2SPEC at it), or
  - build it with Go: go install github.com/summerwind/h2spec/cmd/h2spec@latest
Without it, the Python suite covers the same ground: see compliance/http2/README.md.
EOF
  exit 127
fi

python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
hypercorn="${HYPERCORN:-}"
if [ -z "$hypercorn" ]; then
  if [ -x .venv/bin/hypercorn ]; then hypercorn=.venv/bin/hypercorn; else hypercorn=hypercorn; fi
fi

workdir="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

# A free port on the loopback interface.
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

server_args=(-b "127.0.0.1:$port")
h2spec_tls=()
if [ "$tls" = 1 ]; then
  # A throwaway certificate for 127.0.0.1: trustme if installed (the test extra), else openssl.
  if "$python" -c 'import trustme' 2>/dev/null; then
    "$python" - "$workdir" <<'EOF'
import sys
import trustme

ca = trustme.CA()
cert = ca.issue_cert("127.0.0.1", "localhost")
cert.private_key_pem.write_to_path(f"{sys.argv[1]}/key.pem")
cert.cert_chain_pems[0].write_to_path(f"{sys.argv[1]}/cert.pem")
EOF
  else
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
      -addext subjectAltName=IP:127.0.0.1 \
      -keyout "$workdir/key.pem" -out "$workdir/cert.pem" 2>/dev/null
  fi
  server_args+=(--certfile "$workdir/cert.pem" --keyfile "$workdir/key.pem")
  h2spec_tls=(-t -k)
fi

"$hypercorn" "${server_args[@]}" "$app" >"$workdir/server.log" 2>&1 &
server_pid=$!

# Wait (up to 10 s) for the server to listen.
if ! "$python" - "$port" <<'EOF'
import socket
import sys
import time

deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
then
  echo "the server did not start; its log:" >&2
  cat "$workdir/server.log" >&2
  exit 1
fi

echo "+ $h2spec -h 127.0.0.1 -p $port ${h2spec_tls[*]} ${h2spec_args[*]}"
status=0
"$h2spec" -h 127.0.0.1 -p "$port" "${h2spec_tls[@]}" "${h2spec_args[@]}" || status=$?
exit "$status"

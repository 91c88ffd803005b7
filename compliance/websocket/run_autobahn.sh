#!/usr/bin/env bash
# Run Autobahn|Testsuite's fuzzingclient (sections 1-13) against this project's server.
#
# Starts `python -m hypercorn compliance.websocket.echo_app:app` on 127.0.0.1:9001 (the URL in
# fuzzingclient.json), runs `wstest -m fuzzingclient` (installed, or from the
# crossbario/autobahn-testsuite Docker image), prints a summary of the report and exits 1 if any
# case FAILED. The HTML report is left in compliance/websocket/reports/servers/index.html.
#
# Environment:
#   PYTHON                 interpreter with this project installed (default: .venv/bin/python)
#   HYPERCORN_ARGS         extra server flags, e.g. "--http h11 -k asyncio"
#   AUTOBAHN_SERVER_CMD    a whole other server command to test instead (it must listen on
#                          127.0.0.1:9001), e.g. "uvicorn echo_app:app --app-dir . --port 9001"
#   AUTOBAHN_CASES         comma-separated case patterns to run instead of all, e.g. "1.*,2.*"
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
port=9001
image=crossbario/autobahn-testsuite

runner=""
if command -v wstest >/dev/null 2>&1; then
  runner=wstest
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  runner=docker
else
  cat >&2 <<'HELP'
Autobahn|Testsuite (wstest) is not available. Either:
  - Docker: start the Docker daemon, then `docker pull crossbario/autobahn-testsuite`
    (this script runs it with --network host), or
  - wstest itself: it runs on Python 2.7 only:
    `virtualenv -p python2.7 /tmp/wstest && /tmp/wstest/bin/pip install autobahntestsuite`
    then put /tmp/wstest/bin on PATH.
Meanwhile the Python suite covers the same sections against any server:
  WS_TARGET=ws://127.0.0.1:PORT/ws python -m pytest compliance/websocket
HELP
  exit 2
fi

spec="$here/fuzzingclient.json"
if [ -n "${AUTOBAHN_CASES:-}" ]; then
  spec="$here/reports/fuzzingclient.selected.json"
  mkdir -p "$here/reports"
  "$python" - "$here/fuzzingclient.json" "$spec" "$AUTOBAHN_CASES" <<'PY'
import json, sys
source, target, cases = sys.argv[1:]
spec = json.load(open(source))
spec["cases"] = [case.strip() for case in cases.split(",") if case.strip()]
json.dump(spec, open(target, "w"), indent=2)
PY
fi

cd "$root"
if [ -n "${AUTOBAHN_SERVER_CMD:-}" ]; then
  (cd "$here" && exec bash -c "$AUTOBAHN_SERVER_CMD") &
else
  # shellcheck disable=SC2086  # HYPERCORN_ARGS is a list of flags on purpose
  "$python" -m hypercorn compliance.websocket.echo_app:app --bind "127.0.0.1:$port" \
    ${HYPERCORN_ARGS:-} &
fi
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT

for _ in $(seq 100); do
  if "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" \
      2>/dev/null; then
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the server exited before listening on 127.0.0.1:$port" >&2
    exit 1
  fi
  sleep 0.1
done

mkdir -p "$here/reports"
if [ "$runner" = wstest ]; then
  (cd "$here" && wstest -m fuzzingclient -s "$spec")
else
  relative="${spec#"$here"/}"
  docker run --rm --network host -v "$here:/work" -w /work "$image" \
    wstest -m fuzzingclient -s "/work/$relative"
fi

"$python" - "$here/reports/servers/index.json" <<'PY'
import collections, json, sys

index = json.load(open(sys.argv[1]))
failed = False
for agent, cases in index.items():
    verdicts = collections.Counter()
    bad = []
    for case, result in sorted(cases.items()):
        for key in ("behavior", "behaviorClose"):
            verdicts[(key, result[key])] += 1
        if "FAILED" in (result["behavior"], result["behaviorClose"]):
            bad.append(f"{case} ({result['behavior']}/{result['behaviorClose']})")
    print(f"{agent}: {len(cases)} cases")
    for (key, verdict), count in sorted(verdicts.items()):
        print(f"  {key:14} {verdict:14} {count}")
    if bad:
        failed = True
        print("  FAILED: " + ", ".join(bad))
sys.exit(1 if failed else 0)
PY

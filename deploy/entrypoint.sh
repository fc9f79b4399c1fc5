#!/bin/sh
# The frontdoor container's entrypoint. NATS credentials are generated once by the init service
# (`frontdoor nats-config --out /nats-config`) into a shared volume; the front door's own URL is in
# /nats-config/frontdoor.url. When FRONTDOOR_NATS_URL is unset, it is built from that file's credentials and every
# node of FRONTDOOR_NATS_NODES (host:port, comma-separated), so the client can fail over between nodes.
set -eu
url_file="${FRONTDOOR_NATS_URL_FILE:-/nats-config/frontdoor.url}"
if [ -z "${FRONTDOOR_NATS_URL:-}" ] && [ -f "$url_file" ]; then
  one="$(tr -d '\r\n' < "$url_file")"
  if [ -n "${FRONTDOOR_NATS_NODES:-}" ]; then
    rest="${one#*://}"
    case "$rest" in
      *@*) credentials="${rest%%@*}@" ;;
      *) credentials="" ;;
    esac
    urls=""
    for node in $(echo "$FRONTDOOR_NATS_NODES" | tr ',' ' '); do
      urls="${urls:+$urls,}nats://${credentials}${node}"
    done
    FRONTDOOR_NATS_URL="$urls"
  else
    FRONTDOOR_NATS_URL="$one"
  fi
  export FRONTDOOR_NATS_URL
fi
exec "$@"

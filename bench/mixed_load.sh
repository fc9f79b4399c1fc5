#!/bin/sh
# Usage: bench/mixed_load.sh CITY_DATA_DIR OUT_DIR [SECONDS]   (a city written by `frontdoor demo-city` and projected
# by `python -m bench.catch_up` with FRONTDOOR_DATA_DIR=CITY_DATA_DIR; see docs/BENCHMARKS.md, issue 14)
# The mixed-load benchmark on a projected city in $CITY: embedded (beside the bare app), then on the loopback
# cluster (the city's streams restored at R3 from `frontdoor backup`, the read-model file copied).
set -e
cd "$(dirname "$0")/.."
CITY=$(realpath "$1"); mkdir -p "$2"; OUT=$(realpath "$2"); SECONDS_=${3:-60}
SECRET=mixed-load-secret-0123456789abcdef
mkdir -p $OUT
PORT=18901; BARE=18902
# 1. embedded: the city's own data dir (embedded nats-server + SQLite)
FRONTDOOR_DATA_DIR=$CITY FRONTDOOR_JWT_SECRET=$SECRET FRONTDOOR_LOG_FORMAT=json .venv/bin/frontdoor serve --port $PORT > $OUT/serve-embedded.log 2>&1 &
API=$!
.venv/bin/python -m uvicorn bench.bare_app:app --port $BARE --log-level warning > $OUT/bare.log 2>&1 &
BAREPID=$!
for i in $(seq 1 120); do curl -sf localhost:$PORT/health >/dev/null && curl -sf localhost:$BARE/health >/dev/null && break; sleep 1; done
uptime > $OUT/load-embedded.txt
.venv/bin/python -m bench.mixed_load --base http://127.0.0.1:$PORT --bare http://127.0.0.1:$BARE --database sqlite:///$CITY/frontdoor.db --secret $SECRET --seconds $SECONDS_ --label embedded --out $OUT/embedded.json > /dev/null
uptime >> $OUT/load-embedded.txt
kill $BAREPID; kill $API; wait $API || true
# 2. the loopback cluster: back up the city, restore at R3, copy the read models
rm -rf $OUT/backup $OUT/cluster-data; mkdir -p $OUT/cluster-data
FRONTDOOR_DATA_DIR=$CITY .venv/bin/frontdoor backup --out $OUT/backup > $OUT/backup.txt 2>&1
cp $CITY/frontdoor.db $OUT/cluster-data/frontdoor.db
.venv/bin/python -m bench.cluster_up $OUT/cluster > $OUT/cluster.url &
CLUSTER=$!
for i in $(seq 1 60); do [ -s $OUT/cluster.url ] && break; sleep 1; done
URL=$(cat $OUT/cluster.url)
FRONTDOOR_NATS_URL=$URL FRONTDOOR_STREAM_REPLICAS=3 FRONTDOOR_DATA_DIR=$OUT/cluster-data .venv/bin/frontdoor restore $OUT/backup > $OUT/restore.txt 2>&1
FRONTDOOR_NATS_URL=$URL FRONTDOOR_STREAM_REPLICAS=3 FRONTDOOR_DATA_DIR=$OUT/cluster-data FRONTDOOR_JWT_SECRET=$SECRET FRONTDOOR_LOG_FORMAT=json .venv/bin/frontdoor serve --port $PORT > $OUT/serve-cluster.log 2>&1 &
API=$!
.venv/bin/python -m uvicorn bench.bare_app:app --port $BARE --log-level warning > $OUT/bare2.log 2>&1 &
BAREPID=$!
for i in $(seq 1 300); do curl -sf localhost:$PORT/health >/dev/null && curl -sf localhost:$BARE/health >/dev/null && break; sleep 1; done
uptime > $OUT/load-cluster.txt
.venv/bin/python -m bench.mixed_load --base http://127.0.0.1:$PORT --bare http://127.0.0.1:$BARE --database sqlite:///$OUT/cluster-data/frontdoor.db --secret $SECRET --seconds $SECONDS_ --label cluster --out $OUT/cluster.json > /dev/null
uptime >> $OUT/load-cluster.txt
kill $BAREPID; kill $API; wait $API || true
kill $CLUSTER; wait $CLUSTER || true
echo finished

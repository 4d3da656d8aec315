#!/usr/bin/env bash
# `make cluster`: two gunicorn app servers, the task worker and the scheduler on this machine,
# against PostgreSQL and Redis (README "Running at scale"). Ctrl-C stops them all.
#   DATABASE_URL  default postgres://postgres@127.0.0.1:5432/connector_hub
#   CACHE_URL     default redis://127.0.0.1:6379/0
#   CLUSTER_PORTS default "8001 8002" (one app server each, WEB_CONCURRENCY workers each)
#   TASKS_BACKEND database (db_worker) or rq (rqworker on TASKS_REDIS_URL, default CACHE_URL)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/connector_hub}"
export CACHE_URL="${CACHE_URL:-redis://127.0.0.1:6379/0}"
export WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}"
export TASKS_BACKEND="${TASKS_BACKEND:-database}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$(mktemp -d)}"
ports="${CLUSTER_PORTS:-8001 8002}"

pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait; }
trap stop EXIT INT TERM

$PY manage.py migrate --no-input -v 0
for port in $ports; do
  GUNICORN_BIND="127.0.0.1:$port" $PY -m gunicorn -c config/gunicorn.py config.wsgi &
  pids+=($!)
  echo "app server: http://127.0.0.1:$port"
done
if [ "$TASKS_BACKEND" = rq ]; then
  $PY manage.py rqworker --job-class django_tasks_rq.Job default & pids+=($!)
else
  $PY manage.py db_worker --no-startup-delay & pids+=($!)
fi
echo "task worker: $TASKS_BACKEND"
$PY manage.py crontask --no-heartbeat & pids+=($!)
echo "scheduler: crontask"
wait -n

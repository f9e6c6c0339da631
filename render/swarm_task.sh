#!/bin/sh
# The process of a backend, frontend or prefect worker task under runtime swarm (render/swarm.py,
# docs/design/swarm.md sections 1 and 2). Arguments: the service's own command.
#
# 1. With FR_AGENT_CONFIG set: wait up to FR_AGENT_WAIT_SECONDS for the vault binary that the agent-bin
#    service copies onto every node (FR_AGENT_BIN), then run the agent once (exit_after_auth): it logs in
#    with the task's own AppRole pair (Swarm secrets) and renders the service's files into the task's
#    tmpfs. It exits 0 only once every file is rendered; anything else fails the task before the
#    service starts, and Swarm's update rolls back.
# 2. Run the command as a child. A stop signal (SIGTERM or SIGINT) is passed on to it only after
#    FR_DRAIN_SECONDS: the router stops sending requests to a stopping task only at its next poll, so
#    the task keeps serving until then. The child's exit status is the task's.
set -eu

if [ -n "${FR_AGENT_CONFIG:-}" ]; then
  waited=0
  until [ -x "$FR_AGENT_BIN" ]; do
    if [ "$waited" -ge "${FR_AGENT_WAIT_SECONDS:-120}" ]; then
      echo "finance-report: $FR_AGENT_BIN did not appear (is the agent-bin service running on this node?)" >&2
      exit 1
    fi
    waited=$((waited + 1))
    sleep 1
  done
  "$FR_AGENT_BIN" agent -config="$FR_AGENT_CONFIG"
fi

stopping=""
trap 'stopping=1' TERM INT
"$@" &
child=$!
status=0
wait "$child" || status=$?
if [ -z "$stopping" ]; then
  exit "$status"
fi
# A stop signal interrupted the wait: the child still serves. Drain, then stop it and wait for it.
trap '' TERM INT
sleep "${FR_DRAIN_SECONDS:-0}"
kill -TERM "$child" 2>/dev/null || :
status=0
wait "$child" || status=$?
exit "$status"

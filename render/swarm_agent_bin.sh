#!/bin/sh
# The agent-bin service of runtime swarm (one task per node, render/swarm.py): copy the pinned agent
# image's vault binary into the node-local volume mounted at $1, where the app tasks of the same env
# find it read-only, then stay (a global service's task that exits is restarted). The copy is renamed
# into place, so a task never sees a half-written binary.
set -eu
dir="$1"
cp "$(command -v vault)" "$dir/vault.new"
chmod 0555 "$dir/vault.new"
mv -f "$dir/vault.new" "$dir/vault"
trap 'exit 0' TERM INT
while :; do
  sleep 3600 &
  wait $! || :
done

"""Vault-agent render latency: from `docker start` of the program's agent container to a healthy
container (every file rendered and complete), median of N runs, on the real-systems harness.

Needs root (it starts its own dockerd and OpenBao, like the integration tests).
Usage: uv run python benchmarks/agent_render_latency.py [--runs 10] [--service app]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import run_stack
from tests.integration.harness import Docker, OpenBao
from tests.integration.sidecar import Artifacts, apply_vault, start_agent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--service", default="app", choices=["postgres", "redis", "app"])
    args = parser.parse_args()
    bao, docker = OpenBao(), Docker()
    try:
        bao.start()
        docker.start()
        image = docker.build_agent_image()
        artifacts = Artifacts(run_stack("production", {"vaultAddress": bao.address}))
        apply_vault(bao, artifacts)
        for until, label in (
            ("rendered", "docker start -> every file complete (agent's own check via docker exec)"),
            ("healthy", "docker start -> Docker reports healthy (1 s probe interval)"),
        ):
            samples = []
            for i in range(args.runs):
                _, _, seconds = start_agent(
                    docker, image, bao, artifacts, args.service, f"bench-{until}-{i}", until=until
                )
                samples.append(seconds)
                docker.cleanup()
            print(f"{args.service} agent, {label}, {args.runs} runs:")
            print(f"  median {statistics.median(samples):.3f} s   min {min(samples):.3f} s   max {max(samples):.3f} s")
    finally:
        docker.stop()
        bao.stop()


if __name__ == "__main__":
    main()

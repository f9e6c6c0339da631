"""The harness itself: README's test command starts a Docker engine per xdist worker, and .ci/run starts the
mutation check's engines beside them, so engines of this machine start at the same moment. Each dockerd
sets up the same iptables chains of the host's network namespace at start (nat DOCKER, filter
DOCKER-ISOLATION-STAGE-1/2, FORWARD jumps), checking, removing and creating them with separate iptables
calls: engines starting at once failed with "iptables: Chain already exists" (a local `-n 2` run skipped
a whole file; under CI=true that fails the run). Before harness.one_engine_starting, this test failed 2
runs of 2; a run of two engines 2 rounds of 4."""

from __future__ import annotations

import threading

import pytest

from tests.integration.harness import ENGINE, Docker

pytestmark = pytest.mark.integration

ROUNDS = 6


def race_sibling(round_: int, n: int) -> str:
    """The sibling name of a round's engine. Its address pool comes from the name (harness.EnginePaths.octet):
    `racez` puts it past the run's other engines; `race` alone gave the pool of the mutation check's doctor
    engine (test_harness_ids)."""
    return f"racez{round_}{n}"


def start_at_once(engines: list[Docker]) -> list[str]:
    """Start the engines from threads released together; what each failed start said."""
    failures: list[str] = []
    barrier = threading.Barrier(len(engines))

    def start(engine: Docker) -> None:
        barrier.wait()
        try:
            engine.start()
        except BaseException as error:  # unavailable() skips or fails: either is a failed start here
            text = str(error)
            failures.append(text[text.find("failed to start") :][:300])

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_engines_started_at_the_same_moment_all_start():
    failures = {}
    for round_ in range(ROUNDS):
        engines = [Docker(paths=ENGINE.sibling(race_sibling(round_, n))) for n in range(3)]
        try:
            failures[round_] = start_at_once(engines)
        finally:
            for engine in engines:
                engine.stop()
    assert failures == {round_: [] for round_ in range(ROUNDS)}

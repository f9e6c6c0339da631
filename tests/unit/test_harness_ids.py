"""The real-systems harness keeps concurrent sessions apart: two pytest-xdist workers of one run (same
FR_HARNESS_ID), or two engineers' runs, never share a Docker socket, data or exec root, pidfile, bridge
interface, address pool or work directory; nor does the second engine the doctor test starts."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from ci.mutation_check import harness_slots
from tests.integration.harness import EnginePaths, harness_id, work_dir
from tests.integration.test_harness_engines import ROUNDS, race_sibling

ROOT = Path(__file__).resolve().parents[2]

# Interface names hold at most IFNAMSIZ - 1 characters (include/uapi/linux/if.h: IFNAMSIZ 16).
IFNAMSIZ = 16


PLACES = ("sock", "root", "exec_root", "pidfile", "bridge")
# The address pool's second octet has 50 values (harness.py): ids of one run never meet, arbitrary ids may.
NETWORKS = ("address_pool", "bridge_address")


def _shared(a: EnginePaths, b: EnginePaths, fields: tuple[str, ...] = PLACES + NETWORKS) -> list[str]:
    return [f for f in fields if getattr(a, f) == getattr(b, f)]


@pytest.mark.parametrize("base", ["", "cispeed", "cispeedfull", "a-rather-long-harness-id"])
def test_each_xdist_worker_and_its_doctor_engine_share_nothing_with_another(base):
    env = {"FR_HARNESS_ID": base} if base else {}
    sessions = [harness_id({**env, "PYTEST_XDIST_WORKER": f"gw{n}"}) for n in range(4)]
    assert len(set(sessions)) == len(sessions)
    engines = [EnginePaths(i) for i in sessions] + [EnginePaths(i).sibling("doctorlog") for i in sessions]
    for a, b in itertools.combinations(engines, 2):
        assert _shared(a, b) == [], (a.ident, b.ident)
    for engine in engines:
        assert 0 < len(engine.bridge) < IFNAMSIZ, engine.bridge
    dirs = [work_dir({**env, "PYTEST_XDIST_WORKER": f"gw{n}"}) for n in range(4)]
    assert len(set(dirs)) == len(dirs)
    given = {**env, "FR_HARNESS_DIR": "/tmp/given"}
    assert len({work_dir({**given, "PYTEST_XDIST_WORKER": f"gw{n}"}) for n in range(4)}) == 4


def test_a_session_without_workers_keeps_the_id_it_was_given():
    assert harness_id({"FR_HARNESS_ID": "cispeed"}) == "cispeed"
    assert harness_id({}) == ""
    assert str(work_dir({"FR_HARNESS_ID": "cispeed"})) == "/tmp/fr-harness-cispeed"
    assert str(work_dir({"FR_HARNESS_DIR": "/tmp/given"})) == "/tmp/given"


def test_two_runs_with_different_ids_share_no_engine_not_even_the_doctor_tests_second_one():
    a, b = EnginePaths(harness_id({"FR_HARNESS_ID": "hdata"})), EnginePaths(harness_id({"FR_HARNESS_ID": "hvault"}))
    assert _shared(a, b, PLACES) == []
    assert _shared(a.sibling("doctorlog"), b.sibling("doctorlog"), PLACES) == []


def readme_workers() -> int:
    """The xdist workers of README's test command (`uv run pytest -n N`), which .ci/run runs."""
    readme = (ROOT / "README.md").read_text()
    (workers,) = re.findall(r"^uv run pytest -n (\d+)$", readme, re.MULTILINE)
    return int(workers)


@pytest.mark.parametrize("base", ["cispeedfull", "mutant", "fresh12"])
def test_the_mutation_checks_slots_and_the_suites_workers_share_nothing_when_they_run_side_by_side(base):
    """.ci/run runs README's test command (its xdist workers) and the mutation check (two slots) at once
    under one FR_HARNESS_ID; each of them may start its doctor test's second engine, and a worker the three
    engines of a round of test_harness_engines.py."""
    workers = [harness_id({"FR_HARNESS_ID": base, "PYTEST_XDIST_WORKER": f"gw{n}"}) for n in range(readme_workers())]
    slots = [harness_id({"FR_HARNESS_ID": slot}) for slot in harness_slots(base, 2)]
    engines = [EnginePaths(i) for i in workers + slots]
    engines += [EnginePaths(i).sibling("doctorlog") for i in workers + slots]
    # test_harness_engines.py runs on one worker, whichever: its round's engines beside every other engine
    for worker, round_ in itertools.product(workers, range(ROUNDS)):
        race = [EnginePaths(worker).sibling(race_sibling(round_, n)) for n in range(3)]
        for a, b in itertools.combinations(engines + race, 2):
            assert _shared(a, b) == [], (a.ident, b.ident)
    dirs = {work_dir({"FR_HARNESS_ID": base, "PYTEST_XDIST_WORKER": w.rsplit("-", 1)[1]}) for w in workers}
    dirs |= {work_dir({"FR_HARNESS_ID": slot}) for slot in harness_slots(base, 2)}
    assert len(dirs) == len(workers) + 2

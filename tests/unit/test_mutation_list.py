"""The mutation list stays in step with the code: a mutation whose text no longer matches would only be
found by the (long) mutation check at the end of CI, after the whole integration suite."""

import pytest

from ci.mutation_check import MUTATIONS, ROOT


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_each_mutation_matches_its_file_once_and_names_existing_tests(mutation):
    text = (ROOT / mutation.path).read_text()
    assert text.count(mutation.old) == 1, (
        f"{mutation.name}: its text occurs {text.count(mutation.old)} times in {mutation.path}"
    )
    assert mutation.old != mutation.new
    for test in mutation.tests:
        assert (ROOT / test.split("::")[0]).is_file(), f"{mutation.name}: no test file {test}"
        if "::" in test:  # a node id: its test function is defined in that file (parameters aside)
            function = test.split("::")[-1].split("[")[0]
            assert f"def {function}(" in (ROOT / test.split("::")[0]).read_text(), f"{mutation.name}: no test {test}"


def test_mutation_names_are_unique():
    names = [m.name for m in MUTATIONS]
    assert len(names) == len(set(names))


def test_only_a_failed_guard_test_kills_a_mutant_and_an_error_says_why():
    from ci.mutation_check import verdict

    failed = "FAILED tests/x.py::test_a - AssertionError\n1 failed in 2.00s"
    assert verdict(1, failed) == ("killed", "1 failed in 2.00s")
    assert verdict(0, "1 passed in 1.00s") == ("survived", "1 passed in 1.00s")
    assert verdict(2, "interrupted") == ("survived", "pytest exited 2 (not a test failure): interrupted")
    errored = "ERROR tests/x.py::test_a - TimeoutError: dockerd did not start\n1 error in 60.50s"
    assert verdict(1, errored) == (
        "errored",
        "no guard test failed, only errors: 1 error in 60.50s (ERROR tests/x.py::test_a - TimeoutError: dockerd did "
        "not start)",
    )

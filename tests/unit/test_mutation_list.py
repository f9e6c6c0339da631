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

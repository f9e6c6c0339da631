"""The finance-report CrossGuard policy pack. `from policies.registry import POLICIES` lists every
policy without starting the pack's analyzer server."""

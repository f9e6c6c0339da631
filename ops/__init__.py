"""Operator commands behind `uv run invoke` and their plumbing (the program under mocks, stack context,
confirmation). Imports runtime, config, render, facts and clients."""

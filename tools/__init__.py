"""Developer tooling: the offline plan, config reference generation."""

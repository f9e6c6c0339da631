"""CI and developer tools: the offline plan, memory budget, mutation check, preview config, generated
reference tables. May import every layer."""

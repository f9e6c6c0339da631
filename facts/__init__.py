"""Facts shared by the program and the policy pack: what the engine and providers do (with upstream
sources), revision naming, env rules, services, type tokens. Imports nothing of the project."""

"""Engine tier: the real Pulumi CLI and provider plugins through the Automation API."""

# What a copy of the project needs to run `pulumi up` with the policy pack (every layer the program,
# its rollout gate and the pack import).
PROGRAM_DIRS = ("facts", "render", "config", "program", "runtime", "clients", "ops", "policies")

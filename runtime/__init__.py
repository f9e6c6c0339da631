"""Code `pulumi up` runs on the deploying machine (the rollout gate). Imports clients."""

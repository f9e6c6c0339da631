"""Pure builders: names, labels, Vault HCL and templates, container settings, the datastores' and the
backup's processes. Imports only facts."""

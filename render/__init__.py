"""Pure builders: names, labels, Vault HCL and templates, container settings, the datastores' and backup's processes. Imports only facts."""

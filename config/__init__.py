"""Stack configuration: the declared schema, validation, and reading a stack file as the Pulumi CLI does.
Imports facts and render."""

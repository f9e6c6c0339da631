"""The Pulumi program: ComponentResources and the declarations they use. Imports config, render, facts and clients."""

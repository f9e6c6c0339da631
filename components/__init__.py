"""Finance Report deployment: ComponentResources and the pure builders they use."""

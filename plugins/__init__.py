"""Built-in rule plugins, one module per rule family, registered through entry points."""

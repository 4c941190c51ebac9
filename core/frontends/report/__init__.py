"""One reporter per output format."""

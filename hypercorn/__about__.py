"""The distribution's version, kept apart so the build reads it without importing the package."""

# After the 0.18 line it rewrites: frameworks written for Hypercorn (Quart asks for
# hypercorn>=0.11.2) install beside it.
__version__ = "0.19.0.dev0"

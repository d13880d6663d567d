"""landmark-fusion: read face landmark databases natively, unify their landmarks through a 3-D face
model's vertices, and write training shards for a fast face reconstruction network."""

__version__ = "0.1.0"

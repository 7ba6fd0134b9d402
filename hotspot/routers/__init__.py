"""The router pool: the routers the box controls, the driver for each, and their health."""

from hotspot.routers.pool import RouterPool

__all__ = ["RouterPool"]

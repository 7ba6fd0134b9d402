"""Simulators of the outside world, so the appliance can be tested (and demoed) without hardware.

`hotspot.sim.routeros.RouterOSSimulator` is a MikroTik router's API (8728/8729) with a HotSpot:
users, profiles, hosts, sessions that accumulate time and traffic, queues and fault injection.
"""

from hotspot.sim.routeros import Faults, RouterOSSimulator

__all__ = ["Faults", "RouterOSSimulator"]

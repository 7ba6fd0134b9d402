"""Simulators of the outside world, so the appliance can be tested (and demoed) without hardware.

* `hotspot.sim.routeros.RouterOSSimulator`: a MikroTik router's API (8728/8729) with a HotSpot:
  users, profiles, hosts, sessions that accumulate time and traffic, queues and fault injection.
* `hotspot.sim.daraja.DarajaSimulator`: Safaricom's Daraja M-Pesa API (OAuth, STK Push, STK
  Query) with scripted customer outcomes and the real callback JSON sent to the box's webhook.
"""

from hotspot.sim.daraja import DarajaSimulator
from hotspot.sim.routeros import Faults, RouterOSSimulator

__all__ = ["DarajaSimulator", "Faults", "RouterOSSimulator"]

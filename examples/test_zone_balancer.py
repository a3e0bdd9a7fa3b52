# One test per property, each judged by a chaos campaign against the scheduler in zone_balancer.py.
from podquake.chaos.pytest_plugin import scheduler_suite

test_zone_balancer = scheduler_suite("zone_balancer:ZoneBalancer")

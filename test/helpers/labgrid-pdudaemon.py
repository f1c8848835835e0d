"""Drives labgrid's PDUDaemonDriver (Debian's python3-labgrid) from an environment file.

Usage: labgrid-pdudaemon.py <environment.yaml> <action>...   (actions: on, off, cycle)
Prints "<action> done" after each action labgrid reports done; exits 1 with the error on a failure.
"""
import sys

from labgrid import Environment

env = Environment(sys.argv[1])
target = env.get_target("main")
power = target.get_driver("PowerProtocol")
for action in sys.argv[2:]:
    try:
        getattr(power, action)()
    except Exception as error:  # labgrid raises requests' HTTPError for a refused request
        print(f"{action} failed: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"{action} done", flush=True)

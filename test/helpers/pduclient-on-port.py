"""Runs Debian's pduclient (/usr/bin/pduclient, its own code, unmodified) against a listener on another port.

pduclient has no option for the daemon's port: both its TCP request and its --http URL go to port 16421.
Tests must not take that port, so this sends connections meant for 16421 to PDUCLIENT_PORT instead, then
runs the script as its own __main__ with the arguments given here.
"""
import os
import runpy
import socket
import sys

PDUDAEMON_PORT = 16421
port = int(os.environ["PDUCLIENT_PORT"])
connect = socket.socket.connect


def redirected(self, address):
    if isinstance(address, tuple) and len(address) >= 2 and address[1] == PDUDAEMON_PORT:
        address = (address[0], port, *address[2:])
    return connect(self, address)


socket.socket.connect = redirected
sys.argv = ["pduclient", *sys.argv[1:]]
runpy.run_path("/usr/bin/pduclient", run_name="__main__")

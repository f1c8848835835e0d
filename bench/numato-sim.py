#!/usr/bin/python3
# A Numato-style USB relay module on a pty, for bench/pdudaemon-peer.ts: echoes every
# byte, and on \r answers "\n\r" [reply "\n\r"] ">" as the module does (ver, id get,
# relay on|off|read <0-9, A-V>, relay readall). The same module model as
# hardware/sim/numato-device.ts, so pdudaemon and PiPDU drive the same board.
# Usage: numato-sim.py <pty path> [channels, default 16]; prints "ready", exits on EOF/EIO.
import os
import sys
import tty

fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
channels = int(sys.argv[2]) if len(sys.argv) > 2 else 16
tty.setraw(fd)
print("ready", flush=True)
relays = 0


def channel(name):
    """Relay 0..9, then A..V (either case); None for anything else."""
    if len(name) != 1:
        return None
    value = int(name, 36) if name.isalnum() else None
    return value if value is not None and value < channels else None


def run(command):
    global relays
    words = command.split()
    if command == "ver":
        return b"00000008"
    if command == "id get":
        return b"00000000"
    if words == ["relay", "readall"]:
        return ("%0*X" % ((channels + 3) // 4, relays)).encode()
    if len(words) == 3 and words[0] == "relay":
        n = channel(words[2])
        if n is None:
            return b""
        if words[1] == "on":
            relays |= 1 << n
        elif words[1] == "off":
            relays &= ~(1 << n)
        elif words[1] == "read":
            return b"on" if relays >> n & 1 else b"off"
    return b""


line = b""
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out = bytearray()
    for byte in data:
        out.append(byte)
        if byte == 13:
            reply = run(line.strip().decode("latin1"))
            out += b"\n\r" + (reply + b"\n\r" if reply else b"") + b">"
            line = b""
        elif byte != 10:
            line += bytes([byte])
    os.write(fd, bytes(out))

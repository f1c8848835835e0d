#!/usr/bin/python3
# A Numato-style USB relay module on a pty, for bench/pdudaemon-peer.ts: echoes every
# byte, and on \r answers "\n\r" [reply "\n\r"] ">" as the module does (ver, id get,
# relay on|off <x>). Usage: numato-sim.py <pty path>; prints "ready", exits on EOF/EIO.
import os
import sys
import tty

fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)
print("ready", flush=True)
REPLIES = {b"ver": b"00000008", b"id get": b"00000000"}
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
            reply = REPLIES.get(line.strip(), b"")
            out += b"\n\r" + (reply + b"\n\r" if reply else b"") + b">"
            line = b""
        elif byte != 10:
            line += bytes([byte])
    os.write(fd, bytes(out))

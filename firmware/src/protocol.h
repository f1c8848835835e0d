// PRP/1 (docs/relay-board-protocol.md): line assembly, parsing and execution.
// Hardware-free apart from the relays/store/current interfaces, so it also
// compiles on a host for tests.
#pragma once

#include <stdint.h>

#include "outline.h"

// The reply being built or sent; the main loop drains it to the UART.
extern OutLine protocol_reply;

// The boot id HELLO reports (set once at boot).
extern uint32_t protocol_bootId;

// The board's serial (HELLO serial=, 16 hex digits), read from the EEPROM at boot.
// Without a valid one the first HELLO generates one (entropy.h) and stores it
// before it answers: HELLO never reports a serial that is not stored.
extern uint8_t protocol_serial[8];
extern bool protocol_hasSerial;

// True while a reply is pending: do not feed more bytes until it is gone.
bool protocol_busy();

// One byte from the host. At most one reply results per byte (on '\n').
void protocol_feed(uint8_t byte);

// Finishes a reply that waits for the EEPROM (DEFAULT <mask>). Never blocks.
void protocol_poll();

// True while part of a line has been received (an event should wait for it).
bool protocol_partialLine();

// The relay outputs (pin table in config.h).
#pragma once

#include <stdint.h>

// Drives every relay pin to the state in `mask` without a glitch: the output latch
// is set before the pin becomes an output, so an OFF relay is never pulsed ON
// (this matters for active-low boards, whose pins idle HIGH).
void relays_init(uint16_t mask);

// The relays energized now (bit i = channel i); always what the pins are driven to.
uint16_t relays_mask();

// Switches the relays to `mask` (the ones going off first); returns once the pins are driven.
void relays_set(uint16_t mask);

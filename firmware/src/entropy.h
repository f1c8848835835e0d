// Entropy for the board's serial number (HELLO serial=), which is generated
// once, at the first HELLO with no valid serial stored, and then kept in the
// EEPROM (store.h). Sources on the ATmega2560:
// - the ADC: every current sample's raw value (the ACS712's output noise, or a
//   floating input's, is several counts on real hardware);
// - the host's timing against the 16 MHz crystal: Timer1's count and micros()
//   at every byte received (a USB-serial bridge delivers bytes on its own clock).
// In the emulator the ADC is noise-free and only the host timing varies, so
// emulated boards still get different serials, with less entropy.
#pragma once

#include <stdint.h>

// Mixes one unpredictable value into the pool (cheap: call it per received byte).
void entropy_add(uint32_t value);

// The pool and the sources' current state, hashed to 64 bits.
uint64_t entropy_take();

// Non-volatile state in the EEPROM: the power-up mask and the boot counter.
#pragma once

#include <stdint.h>

// The stored power-up mask; false (and *mask = 0) when no valid one is stored.
bool store_readPowerUpMask(uint16_t *mask);

// The power-up mask PRP/1 reports: the stored one, or 0 when none is stored.
uint16_t store_powerUpMask();

// Starts storing `mask` as the power-up mask. Returns false when it is already
// stored (nothing is written), true when a write is in progress: call
// store_pollWrite() until it finishes. Never blocks.
bool store_beginWrite(uint16_t mask);

// Advances the write started by store_beginWrite(): -1 still busy (never blocks),
// 0 written and verified, 1 the EEPROM did not read back what was written.
int8_t store_pollWrite();

// The board's serial (8 bytes, shown as 16 hex digits); false when none valid is stored.
bool store_readSerial(uint8_t serial[8]);

// Starts storing `serial` (never all 0x00 or all 0xFF: then it returns false and
// writes nothing); finish it with store_pollWrite() like the power-up mask.
bool store_beginSerialWrite(const uint8_t serial[8]);

// Increments the boot counter kept in the EEPROM and returns it (1..0xFFFFFFFE):
// the boot id that HELLO reports. Called once at boot; may wait for the EEPROM.
uint32_t store_nextBootId();

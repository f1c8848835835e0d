// EEPROM layout (ATmega2560: 4 KB):
//   0x00 power-up record: mask (u16), check (u16) = ~(mask ^ 0x5AA5), magic (u16) = 0x50D1
//   0x10 boot counter (u32)
// A new chip reads all 0xFF: no valid record, so every relay starts off. The record
// is written in address order (mask, check, magic), one byte at a time and only
// the bytes that differ, so a reset in the middle leaves either the old record,
// the new one, or an invalid one (all off); never a wrong mask.
#include "store.h"

#include <avr/eeprom.h>
#include <string.h>

#include "config.h"

namespace {
struct Record {
  uint16_t mask;
  uint16_t check;
  uint16_t magic;
};
}

static const uint16_t RECORD_MAGIC = 0x50D1;
static uint8_t *const RECORD_ADDR = (uint8_t *)0x00;
static uint32_t *const BOOT_COUNTER_ADDR = (uint32_t *)0x10;

static uint8_t pending[sizeof(Record)];
static int8_t pendingStep = -1; // next byte to write; -1 = no write in progress

static uint16_t checkOf(uint16_t mask) { return (uint16_t)~(mask ^ 0x5AA5); }

bool store_readPowerUpMask(uint16_t *mask) {
  Record record;
  eeprom_read_block(&record, RECORD_ADDR, sizeof record);
  bool valid = record.magic == RECORD_MAGIC && record.check == checkOf(record.mask) &&
               (record.mask & ~ALL_CHANNELS_MASK) == 0;
  *mask = valid ? record.mask : 0;
  return valid;
}

uint16_t store_powerUpMask() {
  uint16_t mask;
  store_readPowerUpMask(&mask);
  return mask;
}

bool store_beginWrite(uint16_t mask) {
  uint16_t stored;
  if (store_readPowerUpMask(&stored) && stored == mask) return false;
  Record record = {mask, checkOf(mask), RECORD_MAGIC};
  memcpy(pending, &record, sizeof pending);
  pendingStep = 0;
  return true;
}

int8_t store_pollWrite() {
  if (pendingStep < 0) return 1;
  // One byte write started per call, and only when the EEPROM is idle: no waiting.
  while (pendingStep < (int8_t)sizeof pending) {
    if (!eeprom_is_ready()) return -1;
    uint8_t *address = RECORD_ADDR + pendingStep;
    uint8_t value = pending[pendingStep++];
    if (eeprom_read_byte(address) != value) {
      eeprom_write_byte(address, value);
      return -1;
    }
  }
  if (!eeprom_is_ready()) return -1;
  pendingStep = -1;
  for (uint8_t i = 0; i < sizeof pending; i++) {
    if (eeprom_read_byte(RECORD_ADDR + i) != pending[i]) return 1;
  }
  return 0;
}

uint32_t store_nextBootId() {
  uint32_t count = eeprom_read_dword(BOOT_COUNTER_ADDR);
  if (count == 0xFFFFFFFFUL) count = 0; // erased
  count++;
  if (count == 0xFFFFFFFFUL) count = 1; // never 0, never the erased value
  eeprom_update_dword(BOOT_COUNTER_ADDR, count);
  return count;
}

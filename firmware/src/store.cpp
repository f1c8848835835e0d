// EEPROM layout (ATmega2560: 4 KB):
//   0x00 power-up record: mask (u16), check (u16) = ~(mask ^ 0x5AA5), magic (u16) = 0x50D1
//   0x10 boot counter (u32)
//   0x20 serial record: serial (8 bytes, most significant first), check (u16) = CRC-16 of
//        the 8 bytes ^ 0x5E71
// A new chip reads all 0xFF: no valid record, so every relay starts off. The record
// is written in address order (mask, check, magic), one byte at a time and only
// the bytes that differ, so a reset in the middle leaves either the old record,
// the new one, or an invalid one (all off); never a wrong mask. The serial record
// is written the same way, once (check last): a reset in the middle leaves none.
#include "store.h"

#include <avr/eeprom.h>
#include <string.h>
#include <util/crc16.h>

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
static uint8_t *const SERIAL_ADDR = (uint8_t *)0x20;
static const uint8_t SERIAL_BYTES = 8;
static const uint16_t SERIAL_CHECK_XOR = 0x5E71;

// One write at a time (the host has one request outstanding): the bytes and where they go.
static uint8_t pending[SERIAL_BYTES + 2];
static uint8_t pendingLen;
static uint8_t *pendingBase;
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
  memcpy(pending, &record, sizeof record);
  pendingLen = sizeof record;
  pendingBase = RECORD_ADDR;
  pendingStep = 0;
  return true;
}

static uint16_t serialCheck(const uint8_t serial[SERIAL_BYTES]) {
  uint16_t crc = 0xFFFF;
  for (uint8_t i = 0; i < SERIAL_BYTES; i++) crc = _crc16_update(crc, serial[i]);
  return crc ^ SERIAL_CHECK_XOR;
}

// Not a serial: what an erased or zeroed EEPROM holds.
static bool uniform(const uint8_t serial[SERIAL_BYTES]) {
  for (uint8_t i = 1; i < SERIAL_BYTES; i++)
    if (serial[i] != serial[0]) return false;
  return serial[0] == 0x00 || serial[0] == 0xFF;
}

bool store_readSerial(uint8_t serial[SERIAL_BYTES]) {
  uint16_t check;
  eeprom_read_block(serial, SERIAL_ADDR, SERIAL_BYTES);
  eeprom_read_block(&check, SERIAL_ADDR + SERIAL_BYTES, sizeof check);
  return !uniform(serial) && check == serialCheck(serial);
}

bool store_beginSerialWrite(const uint8_t serial[SERIAL_BYTES]) {
  if (uniform(serial)) return false;
  uint16_t check = serialCheck(serial);
  memcpy(pending, serial, SERIAL_BYTES);
  memcpy(pending + SERIAL_BYTES, &check, sizeof check);
  pendingLen = SERIAL_BYTES + sizeof check;
  pendingBase = SERIAL_ADDR;
  pendingStep = 0;
  return true;
}

int8_t store_pollWrite() {
  if (pendingStep < 0) return 1;
  // One byte write started per call, and only when the EEPROM is idle: no waiting.
  while (pendingStep < (int8_t)pendingLen) {
    if (!eeprom_is_ready()) return -1;
    uint8_t *address = pendingBase + pendingStep;
    uint8_t value = pending[pendingStep++];
    if (eeprom_read_byte(address) != value) {
      eeprom_write_byte(address, value);
      return -1;
    }
  }
  if (!eeprom_is_ready()) return -1;
  pendingStep = -1;
  for (uint8_t i = 0; i < pendingLen; i++) {
    if (eeprom_read_byte(pendingBase + i) != pending[i]) return 1;
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

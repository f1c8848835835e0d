// One outgoing line (a reply or an event), built in RAM and handed to the UART
// a few bytes at a time by the main loop, so nothing ever waits for the wire.
#pragma once

#include <stdint.h>

#include "compat.h"
#include "config.h"

struct OutLine {
  char buf[OUT_LINE_MAX];
  uint8_t len;  // bytes in buf
  uint8_t sent; // bytes already handed to the UART
  bool open;    // the line is not finished yet (a reply waiting for the EEPROM)

  void clear() {
    len = 0;
    sent = 0;
    open = false;
  }
  bool busy() const { return len != 0 || open; }
  // A line is done when all of it went to the UART and nothing more is to come.
  bool done() const { return sent == len && !open; }

  void put(char c) {
    if (len < OUT_LINE_MAX) buf[len++] = c;
  }
  void putP(const char *p) {
    char c;
    while ((c = (char)pgm_read_byte(p++)) != 0) put(c);
  }
  void putBytes(const char *s, uint8_t n) {
    while (n--) put(*s++);
  }
  // Decimal without leading zeros; repeated subtraction (no division: fast on AVR).
  void putU16(uint16_t v) {
    static const uint16_t powers[] = {10000, 1000, 100, 10};
    bool started = false;
    for (uint8_t i = 0; i < 4; i++) {
      char digit = '0';
      while (v >= powers[i]) {
        v -= powers[i];
        digit++;
      }
      if (started || digit != '0') {
        put(digit);
        started = true;
      }
    }
    put((char)('0' + v));
  }
  // Upper-case hex without leading zeros (at least one digit).
  void putHex32(uint32_t v) {
    bool started = false;
    for (int8_t shift = 28; shift >= 0; shift -= 4) {
      uint8_t nibble = (uint8_t)((v >> shift) & 0xF);
      if (started || nibble != 0 || shift == 0) {
        put(hexDigit(nibble));
        started = true;
      }
    }
  }
  // A PRP/1 mask: exactly MASK_DIGITS upper-case hex digits.
  void putMask(uint16_t mask) {
    for (int8_t shift = (MASK_DIGITS - 1) * 4; shift >= 0; shift -= 4) put(hexDigit((uint8_t)((mask >> shift) & 0xF)));
  }
  static char hexDigit(uint8_t n) { return (char)(n < 10 ? '0' + n : 'A' + n - 10); }
};

// Relay outputs: the pin table resolved once to port registers and bit masks,
// so switching is a few instructions per pin and never goes through digitalWrite().
#include "relays.h"

#include <Arduino.h>
#include <util/atomic.h>

#include "config.h"
#include "current.h"

static const uint8_t relayPins[PIPDU_CHANNELS] = RELAY_PINS;
static volatile uint8_t *relayPort[PIPDU_CHANNELS];
static uint8_t relayBit[PIPDU_CHANNELS];
static uint16_t relayMask;

// Drives one channel's pin to ON or OFF with the configured polarity.
static void drive(uint8_t channel, bool on) {
  bool high = on != (RELAY_ACTIVE_LOW != 0);
  volatile uint8_t *port = relayPort[channel];
  uint8_t bit = relayBit[channel];
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    if (high) *port |= bit;
    else *port &= (uint8_t)~bit;
  }
}

void relays_init(uint16_t mask) {
  for (uint8_t channel = 0; channel < PIPDU_CHANNELS; channel++) {
    uint8_t pin = relayPins[channel];
    uint8_t port = digitalPinToPort(pin);
    relayPort[channel] = portOutputRegister(port);
    relayBit[channel] = digitalPinToBitMask(pin);
    // Latch first, then output: the pin goes from high-Z straight to its level.
    drive(channel, (mask >> channel) & 1);
    volatile uint8_t *ddr = portModeRegister(port);
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { *ddr |= relayBit[channel]; }
  }
  relayMask = mask;
}

uint16_t relays_mask() { return relayMask; }

void relays_set(uint16_t mask) {
  mask &= ALL_CHANNELS_MASK;
  uint16_t changed = mask ^ relayMask;
  if (!changed) return;
  // Off before on: a MASK that moves load from one socket to another never has both on.
  for (uint8_t channel = 0; channel < PIPDU_CHANNELS; channel++) {
    if ((changed >> channel) & 1 && !((mask >> channel) & 1)) drive(channel, false);
  }
  for (uint8_t channel = 0; channel < PIPDU_CHANNELS; channel++) {
    if ((changed >> channel) & 1 && (mask >> channel) & 1) drive(channel, true);
  }
  relayMask = mask;
  current_relaysChanged(changed);
}

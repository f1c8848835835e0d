// PiPDU board firmware for the Arduino Mega 2560: PRP/1 over UART0 at 115200 8N1.
//
// The main loop never waits: bytes from the host are parsed as they arrive, a
// reply is built in RAM and handed to the UART's 64-byte buffer only as space
// frees up, the ADC samples in its interrupt, and the float work for the RMS
// values is done one channel per loop iteration. A reply's first byte leaves well
// within 5 ms of the request's last byte; only an event line already on the wire
// goes first (events are never started while a request is being received).
#include <Arduino.h>
#include <avr/wdt.h>

#include "config.h"
#include "current.h"
#include "entropy.h"
#include "outline.h"
#include "protocol.h"
#include "relays.h"
#include "store.h"

// ---------------------------------------------------------------- early boot

// The reset cause, saved before anything else runs (.noinit: not zeroed by the C runtime).
uint8_t pipdu_resetFlags __attribute__((section(".noinit")));

// Runs in .init3, before the C runtime and constructors: after a watchdog reset
// the watchdog stays enabled at its shortest period, so it must be stopped before
// the (slow) start-up or the board would reset forever.
extern "C" void pipdu_earlyInit() __attribute__((naked, used, section(".init3")));
extern "C" void pipdu_earlyInit() {
  pipdu_resetFlags = MCUSR;
  MCUSR = 0;
  wdt_disable();
}

// ---------------------------------------------------------------- output

static OutLine event;             // `! CURRENT` / `! FAULT`, waiting for the line to be free
static OutLine *sending = nullptr; // the line now going to the UART (never interleaved)
static uint32_t lastRxMs;
static uint32_t lastTelemetryMs;

// An event may start unless a request is arriving (then its reply goes first);
// a partial line left alone for EVENT_HOLDOFF_MS does not hold events up.
static bool eventMayStart() {
  if (Serial.available()) return false;
  return !protocol_partialLine() || (uint32_t)(millis() - lastRxMs) > EVENT_HOLDOFF_MS;
}

// Hands as much of the current line to the UART as fits without waiting.
static void pump() {
  for (;;) {
    if (!sending) {
      if (protocol_reply.busy()) sending = &protocol_reply;
      else if (event.busy() && eventMayStart()) sending = &event;
      else return;
    }
    int room = Serial.availableForWrite();
    while (room > 0 && sending->sent < sending->len) {
      Serial.write((uint8_t)sending->buf[sending->sent++]);
      room--;
    }
    if (!sending->done()) return;
    sending->clear();
    sending = nullptr;
  }
}

// Reads the host's bytes while no reply is pending (one request at a time, in order).
static void serviceRx() {
  while (!protocol_busy()) {
    int byte = Serial.read();
    if (byte < 0) return;
    lastRxMs = millis();
    if (!protocol_hasSerial) entropy_add(((uint32_t)TCNT1 << 16) ^ micros() ^ (uint8_t)byte);
    protocol_feed((uint8_t)byte);
  }
}

static void telemetry() {
  uint32_t now = millis();
  if ((uint32_t)(now - lastTelemetryMs) < TELEMETRY_INTERVAL_MS || event.busy()) return;
  lastTelemetryMs += TELEMETRY_INTERVAL_MS;
  if ((uint32_t)(now - lastTelemetryMs) >= TELEMETRY_INTERVAL_MS) lastTelemetryMs = now; // fell behind
  event.clear();
  event.putP(PSTR("! CURRENT "));
  for (uint8_t channel = 0; channel < PIPDU_CHANNELS; channel++) {
    if (channel) event.put(',');
    event.putU16(current_mA(channel));
  }
  event.put('\n');
}

// ---------------------------------------------------------------- setup / loop

void setup() {
  // Relays first, straight to the stored power-up mask (all off without a valid one).
  uint16_t mask;
  store_readPowerUpMask(&mask);
  relays_init(mask);

  Serial.begin(SERIAL_BAUD);
  protocol_bootId = store_nextBootId();
  protocol_hasSerial = store_readSerial(protocol_serial);
  current_init();

  // `! BOOT <mask>` is the first line after every reset; it fits the empty UART buffer.
  OutLine &boot = event;
  boot.clear();
  boot.putP(PSTR("! BOOT "));
  boot.putMask(relays_mask());
  boot.put('\n');
  Serial.write((const uint8_t *)boot.buf, boot.len);
  boot.clear();

  // The reset cause, when it tells of trouble (best effort: a bootloader may clear it).
  // A brown-out together with a power-on is just the supply ramping up.
  uint8_t flags = pipdu_resetFlags;
  if (flags & _BV(WDRF)) event.putP(PSTR("! FAULT watchdog reset\n"));
  else if ((flags & _BV(BORF)) && !(flags & _BV(PORF))) event.putP(PSTR("! FAULT brown-out reset\n"));

  lastTelemetryMs = millis();
  wdt_enable(WATCHDOG_TIMEOUT);
}

void loop() {
  wdt_reset();
  serviceRx();
  protocol_poll();
  pump();
  current_poll();
  telemetry();
  pump();
}

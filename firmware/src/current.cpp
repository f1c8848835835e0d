// RMS current of every channel, measured without ever blocking the main loop.
//
// Sampling (Timer1 compare interrupt, paced by the crystal): each tick reads the
// conversion started by the previous tick (13 ADC clocks at 16 MHz / 128 = 104 us),
// starts the next channel's conversion, and adds the sample x (centred on
// SENSOR_ZERO_MV) to that channel's sum and sum of squares. The channels take
// turns; a window is SENSOR_WINDOW_SAMPLES = 101 samples of a channel spread over
// SENSOR_WINDOW_MS = 200 ms (16 channels: a tick every 1980 CPU cycles, 123.75 us,
// 8.08 k samples/s, 505 per channel). 200 ms is exactly 10 mains cycles at 50 Hz
// and 12 at 60 Hz, and as 101 is prime those whole cycles are sampled at 101
// evenly spread phases: a steady sine's RMS comes out exact, and the ADC's
// quantization error averages out instead of repeating at a few fixed phases.
// A finished window is handed to the main loop and a new one starts.
//
// Zero offset: the RMS is taken about the window's own mean,
//   var = sum(x^2)/N - (sum(x)/N)^2,
// so a sensor whose real zero is off its nominal SENSOR_ZERO_MV (ACS712 drift with
// temperature and supply) still reads 0 A at no load, and DC is ignored (mains
// loads are AC). SENSOR_ZERO_MV centres the samples so the sums stay small and the
// subtraction loses no precision.
//
// Conversion (main loop, current_poll): one finished channel per call, a handful
// of float operations and a sqrt (~0.1 ms), so no loop iteration takes long. The
// noise floor SENSOR_NOISE_MA is removed in quadrature.
//
// Relay switches restart the affected channel's window: a reading never mixes
// samples from before and after a switch; it settles within ~0.2 s.
#include "current.h"

#include <Arduino.h>
#include <math.h>
#include <util/atomic.h>

#include "config.h"

namespace {
struct Window {
  int32_t sum;
  uint32_t squares;
  uint16_t count;
};
}

static const uint8_t sensorPins[PIPDU_CHANNELS] = SENSOR_PINS;
static uint8_t adcChannel[PIPDU_CHANNELS]; // ADC input (0..15) of each channel

// Owned by the interrupt.
static Window filling[PIPDU_CHANNELS];
static uint8_t sampling; // the channel whose conversion is running
// Handed over: finished[c] belongs to the main loop while bit c of finishedMask is set.
static Window finished[PIPDU_CHANNELS];
static volatile uint16_t finishedMask;
// Set by the main loop: drop channel c's partial window (its relay switched).
static volatile uint16_t restartMask;

static uint16_t readings[PIPDU_CHANNELS];
static uint8_t nextToConvert;

// CPU cycles per sampling tick (one conversion); must leave room for the 104 us conversion.
static const uint32_t TICK_CYCLES =
    ((F_CPU / 1000) * SENSOR_WINDOW_MS + (uint32_t)PIPDU_CHANNELS * SENSOR_WINDOW_SAMPLES / 2) /
    ((uint32_t)PIPDU_CHANNELS * SENSOR_WINDOW_SAMPLES);
static_assert(TICK_CYCLES >= 1900 && TICK_CYCLES <= 65536, "sampling tick out of range: check SENSOR_WINDOW_*");
static const int16_t ZERO_COUNTS = (int16_t)(((int32_t)SENSOR_ZERO_MV * 1024 + ADC_REF_MV / 2) / ADC_REF_MV);
// mA per ADC count.
static const float MA_PER_COUNT = (float)ADC_REF_MV / 1024.0f * 1000.0f / (float)SENSOR_MV_PER_A;
static const float MA2_PER_COUNT2 = MA_PER_COUNT * MA_PER_COUNT;
static const float NOISE_MA2 = (float)SENSOR_NOISE_MA * (float)SENSOR_NOISE_MA;

static inline void selectAndStart(uint8_t channel) {
  uint8_t input = adcChannel[channel];
  ADCSRB = (input & 8) ? _BV(MUX5) : 0;
  ADMUX = _BV(REFS0) | (input & 7); // AVCC reference, right adjusted
  ADCSRA |= _BV(ADSC);
}

// Raw samples folded together: their noise seeds the board's serial (entropy.h).
static volatile uint32_t noise;

uint32_t current_noise() {
  uint8_t sreg = SREG;
  cli();
  uint32_t value = noise;
  SREG = sreg;
  return value;
}

ISR(TIMER1_COMPA_vect) {
  if (ADCSRA & _BV(ADSC)) return; // still converting (the first conversion takes 25 ADC clocks)
  uint16_t raw = ADC;
  noise = ((noise << 3) | (noise >> 29)) ^ raw;
  int16_t x = (int16_t)raw - ZERO_COUNTS;
  uint8_t channel = sampling;
  uint8_t next = (uint8_t)(channel + 1);
  if (next == PIPDU_CHANNELS) next = 0;
  sampling = next;
  selectAndStart(next);

  uint16_t bit = (uint16_t)(1u << channel);
  Window &window = filling[channel];
  if (restartMask & bit) {
    // This sample may predate the switch: drop it with the rest of the window.
    restartMask &= (uint16_t)~bit;
    window.sum = 0;
    window.squares = 0;
    window.count = 0;
    return;
  }
  window.sum += x;
  window.squares += (uint32_t)((int32_t)x * x);
  if (++window.count < SENSOR_WINDOW_SAMPLES) return;
  if (!(finishedMask & bit)) {
    finished[channel] = window;
    finishedMask |= bit;
  } // else the main loop has not taken the last one yet: this window is dropped
  window.sum = 0;
  window.squares = 0;
  window.count = 0;
}

void current_init() {
  uint8_t digitalInputsOff0 = 0, digitalInputsOff2 = 0;
  for (uint8_t channel = 0; channel < PIPDU_CHANNELS; channel++) {
    uint8_t pin = sensorPins[channel];
    uint8_t input = (uint8_t)(pin >= A0 ? pin - A0 : pin) & 15;
    adcChannel[channel] = input;
    if (input < 8) digitalInputsOff0 |= (uint8_t)(1u << input);
    else digitalInputsOff2 |= (uint8_t)(1u << (input - 8));
  }
  DIDR0 = digitalInputsOff0; // the analog inputs' digital buffers only add noise
  DIDR2 = digitalInputsOff2;
  sampling = 0;
  ADCSRA = _BV(ADEN) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0); // 125 kHz ADC clock, no ADC interrupt
  selectAndStart(0);
  // Timer1 (unused by the sketch; init() had set it up for PWM): CTC, a tick every TICK_CYCLES.
  TCCR1A = 0;
  TCCR1B = 0;
  TCNT1 = 0;
  OCR1A = (uint16_t)(TICK_CYCLES - 1);
  TIFR1 = _BV(OCF1A);
  TIMSK1 = _BV(OCIE1A);
  TCCR1B = _BV(WGM12) | _BV(CS10);
}

void current_relaysChanged(uint16_t changed) {
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    restartMask |= changed;
    finishedMask &= (uint16_t)~changed; // a window finished before the switch is stale
  }
}

void current_poll() {
  uint16_t ready = finishedMask;
  if (!ready) return;
  // Round robin from where the last call stopped.
  uint8_t channel = nextToConvert;
  while (!((ready >> channel) & 1)) {
    if (++channel == PIPDU_CHANNELS) channel = 0;
  }
  nextToConvert = (uint8_t)(channel + 1 == PIPDU_CHANNELS ? 0 : channel + 1);

  Window window;
  uint16_t bit = (uint16_t)(1u << channel);
  bool valid;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    valid = finishedMask & bit; // still there (not dropped by a switch meanwhile)
    window = finished[channel];
    finishedMask &= (uint16_t)~bit;
  }
  if (!valid || window.count == 0) return;

  const float perSample = 1.0f / SENSOR_WINDOW_SAMPLES; // windows are always complete
  float mean = (float)window.sum * perSample;
  float meanSquare = (float)window.squares * perSample - mean * mean; // counts^2
  float ma2 = meanSquare * MA2_PER_COUNT2 - NOISE_MA2;
  float ma = ma2 > 0 ? sqrtf(ma2) : 0;
  readings[channel] = ma >= 65535.0f ? 65535 : (uint16_t)(ma + 0.5f);
}

uint16_t current_mA(uint8_t channel) { return channel < PIPDU_CHANNELS ? readings[channel] : 0; }

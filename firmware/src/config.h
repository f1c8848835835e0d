// PiPDU board firmware: every build option and the pin table, in one place.
//
// The numeric options can be set from make (`make -C firmware RELAY_ACTIVE_LOW=1`),
// which passes them as -D flags; the defaults below apply otherwise.
#pragma once

// ---------------------------------------------------------------- identity
#define PIPDU_FW_VERSION "1.0.0"
#define PIPDU_CHANNELS 16 // 1..16 (masks are 16-bit)

// ---------------------------------------------------------------- build options

// Relay board polarity: 0 = a HIGH pin energizes the relay (default),
// 1 = a LOW pin does (most opto-isolated "active-low" relay modules).
#ifndef RELAY_ACTIVE_LOW
#define RELAY_ACTIVE_LOW 0
#endif

// Current sensor sensitivity in mV per ampere (ACS712-05B: 185, -20A: 100, -30A: 66).
#ifndef SENSOR_MV_PER_A
#define SENSOR_MV_PER_A 100
#endif

// The sensor's nominal output at 0 A in mV (ACS712 on 5 V: VCC/2 = 2500). Samples
// are centred on it before they are squared; the RMS itself is taken about the
// measured mean of each window, so the sensor's real zero (which drifts with
// temperature and the 5 V supply) cancels. See current.cpp.
#ifndef SENSOR_ZERO_MV
#define SENSOR_ZERO_MV 2500
#endif

// Noise floor in mA, removed in quadrature (sqrt(I^2 - floor^2), 0 below it), so an
// idle sensor's noise reads 0 while a 1 A load loses less than 0.1 %.
#ifndef SENSOR_NOISE_MA
#define SENSOR_NOISE_MA 40
#endif

// ---------------------------------------------------------------- fixed settings
#define SERIAL_BAUD 115200
#define ADC_REF_MV 5000            // AVCC reference (the Mega's 5 V rail)
#define SENSOR_WINDOW_MS 200       // RMS window: whole mains cycles at 50 Hz (10) and 60 Hz (12)
#define SENSOR_WINDOW_SAMPLES 101  // per channel and window; prime, so those cycles are sampled at
                                   // 101 distinct, evenly spread phases
#define TELEMETRY_INTERVAL_MS 1000 // `! CURRENT` period
#define EVENT_HOLDOFF_MS 20        // an event waits this long for a request being received
#define WATCHDOG_TIMEOUT WDTO_1S

// ---------------------------------------------------------------- pin table
// Channel i switches the relay on RELAY_PINS[i] and measures on SENSOR_PINS[i].
// Arduino Mega 2560 defaults: D22..D29 = PA0..PA7, D30..D37 = PC7..PC0; A0..A15 = ADC0..ADC15.
#define RELAY_PINS {22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37}
#define SENSOR_PINS {A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15}

// ---------------------------------------------------------------- PRP/1 limits
#define LINE_MAX_BYTES 128 // including the '\n'
#define OUT_LINE_MAX 128
#define MASK_DIGITS ((PIPDU_CHANNELS + 3) / 4)
#define ALL_CHANNELS_MASK ((uint16_t)(PIPDU_CHANNELS >= 16 ? 0xFFFFu : ((1u << PIPDU_CHANNELS) - 1u)))

#if PIPDU_CHANNELS < 1 || PIPDU_CHANNELS > 16
#error "PIPDU_CHANNELS must be 1..16"
#endif

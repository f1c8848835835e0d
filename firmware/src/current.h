// Current sensing: RMS current per channel, sampled by the ADC interrupt.
#pragma once

#include <stdint.h>

// Starts the ADC cycling through every channel's sensor, interrupt driven.
void current_init();

// Turns at most one finished sampling window into milliamps. Call it every loop
// iteration: it returns quickly (one channel's float math, ~0.1 ms).
void current_poll();

// The latest RMS current of `channel` in whole mA.
uint16_t current_mA(uint8_t channel);

// Every raw ADC sample so far, folded into 32 bits (a source of entropy.h).
uint32_t current_noise();

// The relays in `changed` were switched: their windows restart, so no reading
// mixes samples from before and after the switch.
void current_relaysChanged(uint16_t changed);

#include "entropy.h"

#include <Arduino.h>

#include "current.h"

static uint32_t poolA = 0x6A09E667UL, poolB = 0xBB67AE85UL;

static inline uint32_t rotl(uint32_t v, uint8_t n) { return (v << n) | (v >> (32 - n)); }

void entropy_add(uint32_t value) {
  poolA = rotl(poolA, 7) ^ value;
  poolB = rotl(poolB + poolA, 13) ^ poolA;
}

// SplitMix64's finalizer: every input bit affects every output bit.
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t entropy_take() {
  entropy_add(((uint32_t)TCNT1 << 16) ^ micros());
  entropy_add(current_noise());
  uint64_t pool = ((uint64_t)poolB << 32) | poolA;
  return mix64(pool ^ mix64(pool + 0x9E3779B97F4A7C15ULL));
}

// Flash-string helpers that also compile on a host (for unit tests of the parser).
#pragma once

#ifdef __AVR__
#include <avr/pgmspace.h>
#else
#include <string.h>
#define PROGMEM
#define PSTR(s) (s)
#define pgm_read_byte(p) (*(const unsigned char *)(p))
#define memcmp_P memcmp
#endif

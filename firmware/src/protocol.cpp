// PRP/1 request handling. The reference for every edge case is the project's
// simulator (hardware/simulated-board.ts: receive(), execute(), parseMask());
// the replies here match it byte for byte, free text included.
#include "protocol.h"

#include <string.h>

#include "config.h"
#include "current.h"
#include "entropy.h"
#include "relays.h"
#include "store.h"

OutLine protocol_reply;
uint32_t protocol_bootId;
uint8_t protocol_serial[8];
bool protocol_hasSerial;

// The line being received: its content (a '\r' included) may be 127 bytes, the
// '\n' makes 128. A longer line is discarded up to the next '\n'.
static char line[LINE_MAX_BYTES - 1];
static uint8_t lineLen;
static bool discarding;

// DEFAULT <mask> waiting for its EEPROM write.
static bool defaultPending;
static uint16_t defaultPendingMask;

// The first HELLO waiting for its new serial's EEPROM write.
static bool helloPending;
static uint8_t helloPendingSerial[8];

// ---------------------------------------------------------------- reply helpers

static void begin(uint16_t id) {
  protocol_reply.clear();
  protocol_reply.putU16(id);
  protocol_reply.put(' ');
}

static void end() { protocol_reply.put('\n'); }

static void ok(uint16_t id) {
  begin(id);
  protocol_reply.putP(PSTR("OK "));
}

static void okMask(uint16_t id, uint16_t mask) {
  ok(id);
  protocol_reply.putMask(mask);
  end();
}

static void errBegin(uint16_t id, const char *code) {
  begin(id);
  protocol_reply.putP(PSTR("ERR "));
  protocol_reply.putP(code);
  protocol_reply.put(' ');
}

static void badreq(uint16_t id, const char *text) {
  errBegin(id, PSTR("BADREQ"));
  protocol_reply.putP(text);
  end();
}

// ---------------------------------------------------------------- token helpers

struct Token {
  const char *text;
  uint8_t len;
};

static bool isDigits(const Token &t) {
  if (t.len == 0) return false;
  for (uint8_t i = 0; i < t.len; i++) {
    if (t.text[i] < '0' || t.text[i] > '9') return false;
  }
  return true;
}

// A decimal token's value, saturated at `limit` (at most 99999). Long digit strings
// never overflow, and cost a byte compare per leading zero, not a multiplication.
static uint32_t decimal(const Token &t, uint32_t limit) {
  uint8_t i = 0;
  while (i < t.len && t.text[i] == '0') i++;
  if (t.len - i > 5) return limit;
  uint32_t value = 0;
  for (; i < t.len; i++) value = value * 10 + (uint8_t)(t.text[i] - '0');
  return value < limit ? value : limit;
}

static bool equalsP(const Token &t, const char *word) {
  uint8_t i = 0;
  for (; i < t.len; i++) {
    char c = (char)pgm_read_byte(word + i);
    if (c == 0 || c != t.text[i]) return false;
  }
  return pgm_read_byte(word + i) == 0;
}

static int8_t hexValue(char c) {
  if (c >= '0' && c <= '9') return (int8_t)(c - '0');
  if (c >= 'A' && c <= 'F') return (int8_t)(c - 'A' + 10);
  if (c >= 'a' && c <= 'f') return (int8_t)(c - 'a' + 10);
  return -1;
}

// A mask token, or a BADREQ reply (and false) when it is not one.
static bool parseMask(uint16_t id, const Token &t, uint16_t *mask) {
  uint32_t value = 0;
  bool good = t.len == MASK_DIGITS;
  for (uint8_t i = 0; good && i < t.len; i++) {
    int8_t digit = hexValue(t.text[i]);
    if (digit < 0) good = false;
    else value = (value << 4) | (uint8_t)digit;
  }
  if (!good) {
    errBegin(id, PSTR("BADREQ"));
    protocol_reply.putP(PSTR("mask must be exactly "));
    protocol_reply.putU16(MASK_DIGITS);
    protocol_reply.putP(PSTR(" hex digits"));
    end();
    return false;
  }
  if (value & ~(uint32_t)ALL_CHANNELS_MASK) {
    errBegin(id, PSTR("BADREQ"));
    protocol_reply.putP(PSTR("mask has bits set above channel "));
    protocol_reply.putU16(PIPDU_CHANNELS - 1);
    end();
    return false;
  }
  *mask = (uint16_t)value;
  return true;
}

// `<VERB> takes no arguments` / `takes 1 argument` / `takes 2 arguments`.
static bool arity(uint16_t id, const char *verb, uint8_t args, uint8_t wanted) {
  if (args == wanted) return true;
  errBegin(id, PSTR("BADREQ"));
  protocol_reply.putP(verb);
  protocol_reply.putP(PSTR(" takes "));
  if (wanted == 0) protocol_reply.putP(PSTR("no"));
  else protocol_reply.putU16(wanted);
  protocol_reply.putP(wanted == 1 ? PSTR(" argument") : PSTR(" arguments"));
  end();
  return false;
}

// ---------------------------------------------------------------- verbs

static const char V_HELLO[] PROGMEM = "HELLO";
static const char V_STATE[] PROGMEM = "STATE";
static const char V_SET[] PROGMEM = "SET";
static const char V_MASK[] PROGMEM = "MASK";
static const char V_CURRENT[] PROGMEM = "CURRENT";
static const char V_DEFAULT[] PROGMEM = "DEFAULT";
static const char V_PING[] PROGMEM = "PING";

static void doSet(uint16_t id, const Token &channelToken, const Token &valueToken) {
  if (!isDigits(channelToken)) return badreq(id, PSTR("channel must be a decimal number"));
  bool on;
  if (valueToken.len == 1 && valueToken.text[0] == '1') on = true;
  else if (valueToken.len == 1 && valueToken.text[0] == '0') on = false;
  else return badreq(id, PSTR("value must be 0 or 1"));
  uint32_t channel = decimal(channelToken, 0xFFFF);
  if (channel >= PIPDU_CHANNELS) {
    // As the simulator shows it: the number (no leading zeros) up to 10 digits, else the first 10 digits and "...".
    errBegin(id, PSTR("BADCH"));
    protocol_reply.putP(PSTR("channel "));
    if (channelToken.len <= 10) {
      uint8_t from = 0;
      while (from < channelToken.len - 1 && channelToken.text[from] == '0') from++;
      protocol_reply.putBytes(channelToken.text + from, (uint8_t)(channelToken.len - from));
    } else {
      protocol_reply.putBytes(channelToken.text, 10);
      protocol_reply.putP(PSTR("..."));
    }
    protocol_reply.putP(PSTR(" out of range 0.."));
    protocol_reply.putU16(PIPDU_CHANNELS - 1);
    end();
    return;
  }
  uint16_t bit = (uint16_t)(1u << channel);
  uint16_t mask = relays_mask();
  relays_set(on ? (uint16_t)(mask | bit) : (uint16_t)(mask & ~bit));
  okMask(id, relays_mask());
}

static void doDefault(uint16_t id, const Token *args, uint8_t count) {
  if (count == 0) return okMask(id, store_powerUpMask());
  if (count > 1) return badreq(id, PSTR("DEFAULT takes at most 1 argument"));
  uint16_t mask;
  if (!parseMask(id, args[0], &mask)) return;
  if (!store_beginWrite(mask)) return okMask(id, mask); // already stored: nothing written
  // The EEPROM takes ~3.4 ms a byte. The id goes out now (it is the same whatever
  // the outcome), the rest when the write has been read back: see protocol_poll().
  begin(id);
  protocol_reply.open = true;
  defaultPending = true;
  defaultPendingMask = mask;
}

static void doCurrent(uint16_t id) {
  ok(id);
  for (uint8_t channel = 0; channel < PIPDU_CHANNELS; channel++) {
    if (channel) protocol_reply.put(',');
    protocol_reply.putU16(current_mA(channel));
  }
  end();
}

// Everything after HELLO's `<id> `.
static void helloBody() {
  protocol_reply.putP(PSTR("OK PIPDU/1 channels="));
  protocol_reply.putU16(PIPDU_CHANNELS);
  protocol_reply.putP(PSTR(" fw=" PIPDU_FW_VERSION " features=current,persist boot="));
  protocol_reply.putHex32(protocol_bootId);
  if (protocol_hasSerial) {
    protocol_reply.putP(PSTR(" serial="));
    for (uint8_t i = 0; i < sizeof protocol_serial; i++) {
      protocol_reply.put(OutLine::hexDigit(protocol_serial[i] >> 4));
      protocol_reply.put(OutLine::hexDigit(protocol_serial[i] & 0xF));
    }
  }
  end();
}

static void doHello(uint16_t id) {
  begin(id);
  if (!protocol_hasSerial) {
    // No serial yet (a new chip): make one and store it before it is reported.
    uint64_t value = entropy_take();
    for (int8_t i = 7; i >= 0; i--, value >>= 8) helloPendingSerial[i] = (uint8_t)value;
    if (store_beginSerialWrite(helloPendingSerial)) {
      // ~34 ms of EEPROM writes: the id goes out now, the rest when it is read back (protocol_poll()).
      protocol_reply.open = true;
      helloPending = true;
      return;
    }
  }
  helloBody();
}

// Parses and applies one request line (no '\n', no trailing '\r', not empty).
static void execute(const char *text, uint8_t len) {
  // Split at every single space; empty tokens are counted, not skipped.
  const uint8_t KEPT = 4; // id, verb and up to two arguments are looked at
  Token tokens[KEPT];
  uint8_t count = 0;
  bool anyEmpty = false;
  uint8_t start = 0;
  for (uint8_t i = 0; i <= len; i++) {
    if (i < len && text[i] != ' ') continue;
    uint8_t tokenLen = (uint8_t)(i - start);
    if (tokenLen == 0) anyEmpty = true;
    if (count < KEPT) tokens[count] = Token{text + start, tokenLen};
    count++;
    start = (uint8_t)(i + 1);
  }

  if (!isDigits(tokens[0])) return badreq(0, PSTR("no request id"));
  uint32_t idValue = decimal(tokens[0], 65536);
  if (idValue < 1 || idValue > 65535) return badreq(0, PSTR("request id out of range 1..65535"));
  uint16_t id = (uint16_t)idValue;
  if (anyEmpty) return badreq(id, PSTR("tokens must be separated by exactly one space"));
  if (count < 2) return badreq(id, PSTR("missing verb"));
  const Token &verb = tokens[1];
  uint8_t args = (uint8_t)(count - 2);

  if (equalsP(verb, V_HELLO)) {
    if (arity(id, V_HELLO, args, 0)) doHello(id);
  } else if (equalsP(verb, V_STATE)) {
    if (arity(id, V_STATE, args, 0)) okMask(id, relays_mask());
  } else if (equalsP(verb, V_PING)) {
    if (arity(id, V_PING, args, 0)) {
      ok(id);
      protocol_reply.putP(PSTR("PONG"));
      end();
    }
  } else if (equalsP(verb, V_SET)) {
    if (arity(id, V_SET, args, 2)) doSet(id, tokens[2], tokens[3]);
  } else if (equalsP(verb, V_MASK)) {
    uint16_t mask;
    if (arity(id, V_MASK, args, 1) && parseMask(id, tokens[2], &mask)) {
      relays_set(mask);
      okMask(id, relays_mask());
    }
  } else if (equalsP(verb, V_CURRENT)) {
    if (arity(id, V_CURRENT, args, 0)) doCurrent(id);
  } else if (equalsP(verb, V_DEFAULT)) {
    doDefault(id, tokens + 2, args);
  } else {
    badreq(id, PSTR("unknown verb"));
  }
}

// ---------------------------------------------------------------- public

bool protocol_busy() { return protocol_reply.busy() || defaultPending; }

bool protocol_partialLine() { return lineLen != 0 || discarding; }

void protocol_feed(uint8_t byte) {
  if (byte != '\n') {
    if (discarding) return;
    if (lineLen < sizeof line) line[lineLen++] = (char)byte;
    else discarding = true;
    return;
  }
  uint8_t len = lineLen;
  bool tooLong = discarding;
  lineLen = 0;
  discarding = false;
  if (tooLong) return badreq(0, PSTR("line too long"));
  if (len && line[len - 1] == '\r') len--;
  if (len == 0) return; // an empty line is ignored
  execute(line, len);
}

void protocol_poll() {
  if (helloPending) {
    int8_t result = store_pollWrite();
    if (result < 0) return;
    helloPending = false;
    if (result == 0) {
      memcpy(protocol_serial, helloPendingSerial, sizeof protocol_serial);
      protocol_hasSerial = true;
    } // else: not stored, so not reported; the next HELLO tries again
    helloBody();
    protocol_reply.open = false;
    return;
  }
  if (!defaultPending) return;
  int8_t result = store_pollWrite();
  if (result < 0) return;
  defaultPending = false;
  if (result == 0) {
    protocol_reply.putP(PSTR("OK "));
    protocol_reply.putMask(defaultPendingMask);
  } else {
    protocol_reply.putP(PSTR("ERR FAULT the EEPROM did not read back the power-up mask"));
  }
  end();
  protocol_reply.open = false;
}

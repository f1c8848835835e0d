import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpStatusFor } from '../src/api/http-status.js';
import {
  API_ONLY_ERROR_CODES,
  type ApiErrorCode,
  BoardReplyError,
  ERROR_CODES,
  PduError,
  UnknownSocketError,
} from '../src/errors.js';

test('errors carry a code and a message for people', () => {
  const error = new UnknownSocketError('nsa');
  assert.ok(error instanceof PduError);
  assert.equal(error.code, 'UNKNOWN_SOCKET');
  assert.match(error.message, /no socket "nsa"/);
  assert.deepEqual(JSON.parse(JSON.stringify(error)), { code: 'UNKNOWN_SOCKET', message: error.message });
});

test('a board UNSUPPORTED reply maps to the UNSUPPORTED code, others to BOARD_ERROR', () => {
  assert.equal(new BoardReplyError('UNSUPPORTED', 'no current').code, 'UNSUPPORTED');
  assert.equal(new BoardReplyError('BADCH', 'channel 99').code, 'BOARD_ERROR');
});

test('every error code has the HTTP status the design gives it', () => {
  const expected: Record<string, number> = {
    BAD_REQUEST: 400,
    BAD_DURATION: 400,
    UNAUTHORIZED: 401,
    FORBIDDEN: 403,
    NEEDS_CONFIRMATION: 403,
    UNKNOWN_SOCKET: 404,
    NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    BUSY: 409,
    CANCELLED: 409,
    PAYLOAD_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    TOO_MANY_REQUESTS: 429,
    BAD_CONFIG: 422,
    UNSUPPORTED: 501,
    BOARD_ERROR: 502,
    BOARD_PROTOCOL: 502,
    SSH_AUTH_FAILED: 502,
    SSH_HOST_KEY_MISMATCH: 502,
    SSH_UNREACHABLE: 502,
    SSH_ERROR: 502,
    COMMAND_FAILED: 502,
    HOST_STILL_UP: 502,
    HOST_STILL_DOWN: 502,
    POWER_STILL_ON: 502,
    NO_TELEMETRY: 502,
    BOARD_OFFLINE: 503,
    BOARD_TIMEOUT: 503,
    STOPPED: 503,
    OVERLOAD: 409,
    TIMEOUT: 504,
  };
  const codes: ApiErrorCode[] = [...ERROR_CODES, ...API_ONLY_ERROR_CODES];
  // The table above lists every code there is: a new one needs its status decided here too.
  assert.deepEqual([...codes].sort(), Object.keys(expected).sort());
  for (const code of codes) assert.equal(httpStatusFor(code), expected[code], code);
});

test('a code that arrives untyped and unknown is a 500, not undefined', () => {
  assert.equal(httpStatusFor('SOMETHING_NEW' as ApiErrorCode), 500);
  assert.equal(httpStatusFor('toString' as ApiErrorCode), 500);
});

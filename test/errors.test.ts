import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoardReplyError, PduError, UnknownSocketError } from '../src/errors.js';

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

import type { ApiErrorCode } from '../errors.js';

/**
 * Error codes to HTTP statuses (docs/decisions.md #9), in one place. A
 * Record, so a new code without a status fails the type-check instead of
 * quietly becoming a 500. Hook failures and a board that answered wrongly
 * are 502 (the API's upstream failed); a board that is not there is 503.
 */
const HTTP_STATUS: Readonly<Record<ApiErrorCode, number>> = {
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
  // Switching on would exceed alarms.maxCurrent: the PDU's state conflicts with the request.
  OVERLOAD: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  // A config is the daemon's own: a request can only hit a bad one on a reload.
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
  TIMEOUT: 504,
};

/** The status for an error code; 500 for anything else (a code that reached us untyped). */
export function httpStatusFor(code: ApiErrorCode): number {
  return Object.hasOwn(HTTP_STATUS, code) ? HTTP_STATUS[code] : 500;
}

/**
 * Error codes to HTTP statuses (docs/decisions.md #9), in one place. Codes
 * that are not PduError codes (`NOT_FOUND`, `METHOD_NOT_ALLOWED`,
 * `PAYLOAD_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`) are the API's own.
 * Hook failures and a board that answered wrongly are 502 (the API's
 * upstream failed). Anything not listed is 500.
 */
export function httpStatusFor(code: string): number {
  switch (code) {
    case 'BAD_REQUEST':
    case 'BAD_DURATION':
      return 400;
    case 'FORBIDDEN':
    case 'NEEDS_CONFIRMATION':
      return 403;
    case 'UNKNOWN_SOCKET':
    case 'NOT_FOUND':
      return 404;
    case 'METHOD_NOT_ALLOWED':
      return 405;
    case 'BUSY':
    case 'CANCELLED':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'SSH_AUTH_FAILED':
    case 'SSH_HOST_KEY_MISMATCH':
    case 'SSH_UNREACHABLE':
    case 'SSH_ERROR':
    case 'COMMAND_FAILED':
    case 'HOST_STILL_UP':
    case 'HOST_STILL_DOWN':
    case 'POWER_STILL_ON':
    case 'NO_TELEMETRY':
    case 'BOARD_ERROR':
    case 'BOARD_PROTOCOL':
      return 502;
    case 'UNSUPPORTED':
      return 501;
    case 'BOARD_OFFLINE':
    case 'BOARD_TIMEOUT':
    case 'STOPPED':
      return 503;
    case 'TIMEOUT':
      return 504;
    default:
      return 500;
  }
}

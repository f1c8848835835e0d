/**
 * Every failure a caller can see is a PduError: a stable `code` for programs
 * (HTTP status, metrics labels, tests) and a `message` written for people.
 * The codes are listed once, here; `httpStatusFor` (src/api/http-status.ts)
 * must give each one a status or the type-check fails.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'BAD_DURATION',
  'BAD_CONFIG',
  'FORBIDDEN',
  'NEEDS_CONFIRMATION',
  'UNKNOWN_SOCKET',
  'BUSY',
  'CANCELLED',
  'TIMEOUT',
  'BOARD_OFFLINE',
  'BOARD_TIMEOUT',
  'BOARD_ERROR',
  'BOARD_PROTOCOL',
  'UNSUPPORTED',
  'STOPPED',
  // a password sign-in with a wrong user name or password (audited as login-failed)
  'UNAUTHORIZED',
  'OVERLOAD',
  // hook steps
  'SSH_AUTH_FAILED',
  'SSH_HOST_KEY_MISMATCH',
  'SSH_UNREACHABLE',
  'SSH_ERROR',
  'COMMAND_FAILED',
  'HOST_STILL_UP',
  'HOST_STILL_DOWN',
  'POWER_STILL_ON',
  'NO_TELEMETRY',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Codes the HTTPS API answers with besides every ErrorCode: failures of the
 * request itself (route, method, body), never of the PDU.
 */
export const API_ONLY_ERROR_CODES = [
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  // sign-in (POST /api/v1/session): too many failed ones
  'TOO_MANY_REQUESTS',
] as const;
/** Every code an API error answer can carry with its status: the PDU's and the API's own. */
export type ApiErrorCode = ErrorCode | (typeof API_ONLY_ERROR_CODES)[number];

export class PduError extends Error {
  override readonly name: string = 'PduError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** The board is not connected (port closed, vanished, or marked offline after timeouts). */
export class BoardOfflineError extends PduError {
  override readonly name = 'BoardOfflineError';
  constructor(detail = 'the relay board is offline') {
    super('BOARD_OFFLINE', detail);
  }
}

/** The board did not answer in time, or a request was failed because the one before it timed out. */
export class BoardTimeoutError extends PduError {
  override readonly name = 'BoardTimeoutError';
  constructor(detail = 'the relay board did not answer in time') {
    super('BOARD_TIMEOUT', detail);
  }
}

/** The board answered `ERR <code>`; `boardCode` is BADREQ, BADCH, UNSUPPORTED or FAULT. */
export class BoardReplyError extends PduError {
  override readonly name = 'BoardReplyError';
  constructor(
    readonly boardCode: string,
    readonly text: string,
  ) {
    super(
      boardCode === 'UNSUPPORTED' ? 'UNSUPPORTED' : 'BOARD_ERROR',
      `the relay board refused the request: ${boardCode}${text ? ` ${text}` : ''}`,
    );
  }
}

export class UnknownSocketError extends PduError {
  override readonly name = 'UnknownSocketError';
  constructor(readonly socket: string | number) {
    super('UNKNOWN_SOCKET', `there is no socket "${socket}": use a number 1..16 or a configured socket name`);
  }
}

export function isPduError(value: unknown): value is PduError {
  return value instanceof PduError;
}

/** A hook step failed: `code` says how, `message` says which step and why, for people. */
export class HookStepError extends PduError {
  override readonly name = 'HookStepError';
  constructor(
    code: ErrorCode,
    message: string,
    /** Output kept for the audit log (truncated), when the step produced any. */
    readonly output?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

// Placeholder until the config schema lands: the board section's resolved shape.
export interface BoardConfig {
  driver: 'prp1' | 'legacy' | 'simulator';
  /** Serial device path; required for prp1 and legacy. */
  port?: string;
  baudRate: number;
  switchSpacingMs: number;
  /** milliseconds */
  replyTimeout: number;
}

import { PduError } from '../errors.js';

// Zod- and yaml-free, so the daemon can tell a ConfigError without loading the validator.

/** One problem in a config file; line and column are 1-based, path is like `socket 3 (nas) restore` or `board.port` ('' for the file itself). */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

/** `pipdu.yaml:14:7 socket 3 (nas) restore: expected on | off | last` (the loader names sockets by number) */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.column} ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

/** A config file with problems: all of them at once, so one edit can fix them all. */
export class ConfigError extends PduError {
  override readonly name = 'ConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(
      'BAD_CONFIG',
      `invalid configuration (${issues.length} ${issues.length === 1 ? 'problem' : 'problems'}):\n${issues.map(formatIssue).join('\n')}`,
    );
  }

  /** One line per issue, in file order. */
  format(): string {
    return this.issues.map(formatIssue).join('\n');
  }
}

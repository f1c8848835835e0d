/**
 * The part of better-sqlite3's API PiPDU uses (the package ships no types and
 * @types/better-sqlite3 is not a dependency).
 */
declare module 'better-sqlite3' {
  namespace BetterSqlite3 {
    interface Statement {
      run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
      get(...params: unknown[]): unknown;
      all(...params: unknown[]): unknown[];
      iterate(...params: unknown[]): IterableIterator<unknown>;
    }
    interface Database {
      pragma(source: string, options?: { simple?: boolean }): unknown;
      exec(source: string): this;
      prepare(source: string): Statement;
      transaction<F extends (...args: never[]) => unknown>(fn: F): F;
      close(): this;
    }
  }
  const Database: new (filename: string, options?: { readonly?: boolean }) => BetterSqlite3.Database;
  export default Database;
  export type { BetterSqlite3 };
}

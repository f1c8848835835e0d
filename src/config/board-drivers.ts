/**
 * The relay board drivers, listed once: the config schema's `board.driver`
 * enum, the `BoardDriverName` type and `createRelayBoard()`'s message all
 * come from here. Zod-free, so hardware code can import it without the
 * validator. A new name also needs its case in `createRelayBoard()`
 * (hardware/index.ts), or the type-check fails.
 */
export const BOARD_DRIVERS = ['prp1', 'legacy', 'simulator'] as const;

export type BoardDriverName = (typeof BOARD_DRIVERS)[number];

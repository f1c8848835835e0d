import type { FakeGpio } from './fake-gpio.js';

/**
 * A key matrix wired to a FakeGpio: key k (row-major) connects row
 * `rows[k / columns]` to column `columns[k % columns]`. A column is active
 * while any pressed key on it connects it to an active (driven) row, so the
 * panel's scan reads what a real matrix would; every change of a row drive
 * or a key updates the columns at once (an edge where a column changes).
 * Levels are logical (the fake GPIO's), diodes assumed absent: a pressed key
 * passes its row's level both ways, so three keys on a rectangle show a
 * fourth, as on a real diode-less matrix.
 */
export class FakeKeyMatrix {
  private readonly pressed = new Set<number>();
  private readonly stop: () => void;

  constructor(
    private readonly gpio: FakeGpio,
    readonly rows: readonly number[],
    readonly columns: readonly number[],
  ) {
    this.stop = gpio.observe((line) => {
      if (rows.includes(line)) this.update();
    });
  }

  press(key: number): void {
    this.pressed.add(this.check(key));
    this.update();
  }

  release(key: number): void {
    this.pressed.delete(this.check(key));
    this.update();
  }

  /** The key's contact makes and breaks through `levels` (true = made), one change after another. */
  bounce(key: number, levels: readonly boolean[]): void {
    for (const level of levels) {
      if (level) this.press(key);
      else this.release(key);
    }
  }

  detach(): void {
    this.stop();
  }

  private check(key: number): number {
    if (!Number.isInteger(key) || key < 0 || key >= this.rows.length * this.columns.length) {
      throw new Error(`FakeKeyMatrix: no key ${key}`);
    }
    return key;
  }

  private rowActive(line: number): boolean {
    const opened = this.gpio.opened(line);
    return opened?.kind === 'output' && !this.gpio.released(line) && this.gpio.level(line);
  }

  /** Rows joined through pressed keys form groups (without diodes, current flows both ways). */
  private update(): void {
    const R = this.rows.length;
    const C = this.columns.length;
    // union-find over R rows and C columns
    const parent = Array.from({ length: R + C }, (_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : find(parent[i]!));
    for (const key of this.pressed) parent[find(Math.floor(key / C))] = find(R + (key % C));
    for (let c = 0; c < C; c++) {
      const group = find(R + c);
      let active = false;
      for (let r = 0; r < R; r++) if (find(r) === group && this.rowActive(this.rows[r]!)) active = true;
      const line = this.columns[c]!;
      if (active) this.gpio.press(line);
      else this.gpio.release(line);
    }
  }
}

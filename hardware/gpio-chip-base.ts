import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GpioUnavailableError } from './gpio.js';

/**
 * Labels of the gpiochip that carries a Raspberry Pi's 40-pin header, best
 * first. On a Pi 5 (and CM5, Pi 500) the header is on the RP1 south bridge
 * (`pinctrl-rp1`, base 571 on kernel 6.6+, 399 on the launch 6.1 kernel); the
 * BCM2712's own banks (`gpio-brcmstb@…`) are not the header. A Pi 4/400/CM4
 * has `pinctrl-bcm2711`; Pi 1–3 and the Zeros `pinctrl-bcm2835`. Kernel 6.6+
 * gives them base 512; older kernels 0. Other chips (`raspberrypi-exp-gpio`,
 * `brcmvirt-gpio`, I/O expanders) are ignored.
 */
export const PI_HEADER_CHIP_LABELS: readonly string[] = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'];

export interface GpioChipInfo {
  /** The directory name, e.g. `gpiochip512`. */
  name: string;
  base: number;
  label: string;
}

export interface FindGpioChipBaseOptions {
  /** Where the gpiochip directories live; default `/sys/class/gpio`. */
  sysfsRoot?: string;
  /** `controller.gpioChipBase`: a number is used as it is, without reading sysfs. */
  override?: number | 'auto';
}

/**
 * The sysfs GPIO number of BCM line 0 (sysfs number = base + BCM line): a
 * numeric override as given, otherwise the base of the Pi's header chip found
 * by label under `sysfsRoot`. Throws GpioUnavailableError, naming the chips it
 * found and the config key to set, when there is no sysfs GPIO or no such chip.
 */
export async function findGpioChipBase(options: FindGpioChipBaseOptions = {}): Promise<number> {
  const { sysfsRoot = '/sys/class/gpio', override = 'auto' } = options;
  if (typeof override === 'number') return override;
  const chips = await listGpioChips(sysfsRoot);
  const chip = pickHeaderChip(chips);
  if (chip) return chip.base;
  const found =
    chips.length === 0
      ? 'no gpiochip at all'
      : chips.map((c) => `${c.name} "${c.label}" (base ${c.base})`).join(', ');
  throw new GpioUnavailableError(
    `no Raspberry Pi GPIO chip (label ${PI_HEADER_CHIP_LABELS.join(' | ')}) under ${sysfsRoot}: found ${found}. ` +
      'If this is a Pi, set controller.gpioChipBase to the base of the chip that carries the header ' +
      `(cat ${sysfsRoot}/gpiochip*/label; its sysfs number is base + BCM line).`,
  );
}

/** Every `gpiochip*` under `sysfsRoot` whose base and label can be read. */
export async function listGpioChips(sysfsRoot: string): Promise<GpioChipInfo[]> {
  let names: string[];
  try {
    names = await readdir(sysfsRoot);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new GpioUnavailableError(
      code === 'ENOENT'
        ? `${sysfsRoot} does not exist: not a Raspberry Pi, or a kernel without sysfs GPIO (CONFIG_GPIO_SYSFS)`
        : `cannot read ${sysfsRoot}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const chips: GpioChipInfo[] = [];
  for (const name of names.filter((n) => /^gpiochip\d+$/.test(n)).sort(byNumber)) {
    try {
      const [base, label] = await Promise.all([
        readFile(join(sysfsRoot, name, 'base'), 'utf8'),
        readFile(join(sysfsRoot, name, 'label'), 'utf8'),
      ]);
      const value = Number.parseInt(base.trim(), 10);
      if (Number.isInteger(value) && value >= 0) chips.push({ name, base: value, label: label.trim() });
    } catch {
      // an unreadable chip is not ours to judge: skip it
    }
  }
  return chips;
}

/** The header chip among `chips`, by label preference; null when none matches. */
export function pickHeaderChip(chips: readonly GpioChipInfo[]): GpioChipInfo | null {
  for (const label of PI_HEADER_CHIP_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (chip) return chip;
  }
  return null;
}

function byNumber(a: string, b: string): number {
  return Number(a.slice('gpiochip'.length)) - Number(b.slice('gpiochip'.length));
}

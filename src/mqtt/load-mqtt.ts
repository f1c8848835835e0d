import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The mqtt package's API (the part the bridge uses is `connect`). */
export type MqttModule = typeof import('mqtt');

/** Where `npm run build` bundles mqtt (scripts/build-vendor.ts), seen from dist/src/mqtt/. */
const BUILT_BUNDLE = new URL('../../vendor/mqtt.cjs', import.meta.url);

/**
 * Loads the mqtt package: from the build's one-file bundle when it exists
 * (the compiled daemon: about half the resident memory of mqtt's own ~100
 * files), else from node_modules (running from source, as the tests do).
 * A bundle that exists but does not load is an error, not a silent fallback.
 */
export async function loadMqtt(bundle: URL = BUILT_BUNDLE): Promise<MqttModule> {
  const path = fileURLToPath(bundle);
  const bundled = await access(path).then(
    () => true,
    () => false,
  );
  if (!bundled) return import('mqtt');
  const module = createRequire(import.meta.url)(path) as MqttModule;
  if (typeof module.connect !== 'function') throw new Error(`${path} is not an mqtt bundle (no connect)`);
  return module;
}

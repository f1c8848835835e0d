/**
 * bottleneck's one-file build without its Redis clustering: the same API and
 * the package's own types, at ~0.6 MB resident instead of ~5 MB for the
 * 20-file default entry (measured by `npm run bench`'s MQTT section).
 */
declare module 'bottleneck/light.js' {
  import Bottleneck from 'bottleneck';
  export default Bottleneck;
}

/**
 * Whether a request target's path has a `.` or `..` segment, written plainly
 * or percent-encoded (`%2e`, `.%2E`…), with `/` or `\` as separator. WHATWG
 * URL parsing resolves such segments (`/sockets/3/../../sockets/all/on` is
 * `/sockets/all/on`), so a request that has them would run something other
 * than what its path says: the listeners refuse it instead.
 */
export function hasDotSegment(target: string): boolean {
  const end = target.search(/[?#]/);
  const path = end === -1 ? target : target.slice(0, end);
  return path.split(/[/\\]/).some((segment) => {
    const plain = segment.replace(/%2e/gi, '.');
    return plain === '.' || plain === '..';
  });
}

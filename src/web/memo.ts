import { Component, type ComponentChildren, type FunctionComponent, h } from 'preact';

/**
 * A component that renders again only when one of its props changed (by
 * identity): one socket's event redraws one card, not sixteen. Preact's own
 * `memo` lives in preact/compat, which is more than this needs.
 */
export function memo<P extends object>(render: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      const now = this.props as Record<string, unknown>;
      const then = next as Record<string, unknown>;
      const keys = new Set([...Object.keys(now), ...Object.keys(then)]);
      for (const key of keys) if (key !== 'children' && now[key] !== then[key]) return true;
      return false;
    }
    override render(props: P): ComponentChildren {
      return h(render, props);
    }
  }
  return Memo as unknown as FunctionComponent<P>;
}

/**
 * Joins two byte streams both ways, as a TCP proxy does: each side's end half-closes the
 * other, and an error on either destroys both, so neither end is left open alone.
 */
import { type Duplex, pipeline } from 'node:stream';

export function splice(a: Duplex, b: Duplex): void {
  const onDone = (err: Error | null | undefined) => {
    if (!err) return;
    a.destroy();
    b.destroy();
  };
  pipeline(a, b, onDone);
  pipeline(b, a, onDone);
}

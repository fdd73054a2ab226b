/**
 * Sandbox ids with a create or fork in progress. The engine cannot report them yet, and two
 * concurrent requests making the same id must not both reach it; the id of a live sandbox is
 * refused too, because replacing it would orphan the running one.
 */
import { MitosError } from '@mitos/protocol';

export class IdClaims {
  readonly #claimed = new Set<string>();

  /** Claims all of `ids` or none (409 conflict). Returns the release, which is idempotent. */
  claim(ids: readonly string[], isLive: (id: string) => boolean): () => void {
    const taken = ids.find((id) => this.#claimed.has(id) || isLive(id));
    if (taken !== undefined) throw new MitosError('conflict', `sandbox "${taken}" already exists`, { sandbox: taken });
    for (const id of ids) this.#claimed.add(id);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const id of ids) this.#claimed.delete(id);
    };
  }
}

/** For assert.rejects/throws: a MitosError whose call-site detail matches `pattern`. */
export function detail(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    const text = (err as { detail?: string }).detail ?? String(err);
    if (!pattern.test(text)) throw new Error(`expected detail matching ${pattern}, got ${JSON.stringify(text)}`);
    return true;
  };
}

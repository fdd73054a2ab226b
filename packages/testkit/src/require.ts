/**
 * What this host must be able to run. `.ci/run` sets MITOS_REQUIRE (a comma list of
 * CAPABILITIES); a test whose capability is required but missing fails with the reason instead
 * of skipping, so a broken build cannot look green. Without MITOS_REQUIRE a missing capability
 * skips, and run-tests.mjs lists every skip at the end of the run.
 */
export const CAPABILITIES = ['btrfs', 'microvm', 'kube'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export function requiredCapabilities(env: NodeJS.ProcessEnv = process.env): Set<Capability> {
  const listed = (env.MITOS_REQUIRE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of listed) {
    if (!(CAPABILITIES as readonly string[]).includes(name)) {
      throw new Error(`MITOS_REQUIRE names an unknown capability "${name}" (known: ${CAPABILITIES.join(', ')})`);
    }
  }
  return new Set(listed as Capability[]);
}

export function isRequired(capability: Capability, env: NodeJS.ProcessEnv = process.env): boolean {
  return requiredCapabilities(env).has(capability);
}

/**
 * The `skip` option for a suite that needs `capability`: false when it is available
 * (`missing` undefined), the reason when it is optional here; throws when it is required.
 */
export function skipUnlessAvailable(
  capability: Capability,
  missing: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | false {
  if (missing === undefined) return false;
  if (isRequired(capability, env)) throw new RequiredCapabilityMissing(capability, missing);
  return `${capability} unavailable: ${missing}`;
}

export class RequiredCapabilityMissing extends Error {
  constructor(
    readonly capability: Capability,
    readonly reason: string,
  ) {
    super(`MITOS_REQUIRE includes ${capability}, but this host cannot run it: ${reason}`);
    this.name = 'RequiredCapabilityMissing';
  }
}

/**
 * @mitos/testkit (private, never published): what tests of several packages share. The server
 * harness is its own entry (`@mitos/testkit/server`) so engine tests do not load the server.
 * @module
 */

export { bearerApi } from './bearer-api.js';
export { describeForkConformance } from './conformance/fork.js';
export { shellOf, until } from './conformance/helpers.js';
export {
  type ConformanceHarness,
  type DriverTestEnv,
  describeConformance,
  describeDriverConformance,
  withPythonSandboxes,
} from './conformance/suite.js';
export { type FakeDns, type FakeZone, RESOLVE_IN_SANDBOX, startFakeDns } from './fake-dns.js';
export * from './fake-engine.js';
export { type FakeInternet, startFakeInternet } from './fake-internet.js';
export { freePort } from './free-port.js';
export { type TestEngineEnv, testEngineEnv } from './linux-harness.js';
export { type MicroVmTestEnv, microvmTestEnv, microvmUnavailable } from './microvm-harness.js';
export { startTestRegistry, TestImages, type TestRegistry } from './oci-registry.js';
export { type ProcessOutput, type ReadmeSnippet, readmeSnippets, runCollecting } from './readme-snippets.js';
export {
  CAPABILITIES,
  type Capability,
  isRequired,
  RequiredCapabilityMissing,
  requiredCapabilities,
  skipUnlessAvailable,
} from './require.js';
export { startTestS3, type TestS3 } from './s3-server.js';
export { thrownCode } from './thrown.js';

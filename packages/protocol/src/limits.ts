/** Timeouts of the wire, in a module without zod (clients import it through ./client.ts). */
/** Ceiling the seed SDK enforces client-side for every timeout (seconds). */
export const MAX_TIMEOUT_SECONDS = 86_400;
/** Default exec timeout (seconds) when a request omits it or sends 0. */
export const DEFAULT_EXEC_TIMEOUT_SECONDS = 30;

/** Listening on a host and port, and naming the address for URLs. Shared with the node daemon. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Resolves with the bound port (port 0 picks a free one). */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** An IPv6 literal in brackets, as a URL authority needs it. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

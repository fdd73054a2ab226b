/** Kubernetes quantities as a spec's `resources` carries them ("2", "500m", "1Gi", "512Mi"). */
import { MitosError } from '@mitos/protocol';

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

function invalid(what: string, q: string | number): MitosError {
  return new MitosError(
    'invalid_request',
    `invalid ${what} quantity ${JSON.stringify(q)}`,
    {},
    {
      remediation:
        what === 'cpu' ? 'use cores ("2", "0.5") or millicores ("500m")' : 'use bytes with a unit ("512Mi", "1Gi")',
    },
  );
}

/** Cores. */
export function parseCpu(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(q).trim());
  if (!m) throw invalid('cpu', q);
  const cores = Number(m[1]) / (m[2] ? 1000 : 1);
  if (!(cores >= 0.01 && cores <= 1024)) throw invalid('cpu', q);
  return cores;
}

/** Bytes. */
export function parseMemory(q: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|)$/.exec(String(q).trim());
  if (!m) throw invalid('memory', q);
  const unit = m[2] as string;
  const bytes = Math.floor(Number(m[1]) * (BINARY[unit] ?? DECIMAL[unit] ?? 1));
  if (bytes < 16 * 2 ** 20) throw invalid('memory', q);
  return bytes;
}

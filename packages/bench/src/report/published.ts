/**
 * Published figures of hosted systems, shown only as context in their own table. They come from
 * other machines, other networks and other methods, so they are never mixed into our results.
 * @module
 */

export interface PublishedFigure {
  system: string;
  figure: string;
  value: string;
  source: string;
}

export const PUBLISHED: readonly PublishedFigure[] = [
  {
    system: 'hosted sandbox providers compared by ComputeSDK',
    figure: 'time to interactive, median',
    value: 'see computesdk.com benchmarks',
    source: 'ComputeSDK published benchmarks (not reachable offline; no numbers quoted here)',
  },
  {
    system: 'E2B (hosted Firecracker microVMs)',
    figure: 'sandbox start',
    value: '~150 ms',
    source: 'the figure commonly quoted for E2B (e.g. third-party integration docs); E2B publishes no method',
  },
  {
    system: 'seed system (bare metal)',
    figure: 'warm activate',
    value: '~27 ms',
    source: 'seed system published figures',
  },
  {
    system: 'seed system (bare metal)',
    figure: 'fork to first exec',
    value: '~104 ms',
    source: 'seed system published figures',
  },
];

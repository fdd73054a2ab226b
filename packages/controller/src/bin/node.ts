#!/usr/bin/env node
/**
 * `mitos-node`: the per-host daemon of cluster mode. Sandboxes outlive the process; a restart
 * reattaches them and keeps serving them with the tokens recorded in the state directory.
 * @module
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '@mitos/engine';
import { openEngine } from '@mitos/runtime';
import { kubeClientFrom } from '../kube/config.js';
import { startNodeDaemon } from '../node/daemon.js';
import { createLogger } from '../util/logger.js';
import { intFrom, labelsFrom, nodeKeyFrom } from './options.js';

const { values } = parseArgs({
  options: {
    'node-name': { type: 'string', default: process.env.NODE_NAME ?? hostname() },
    namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'mitos-system' },
    kubeconfig: { type: 'string', default: process.env.KUBECONFIG },
    'node-key-file': { type: 'string', default: process.env.MITOS_NODE_KEY_FILE },
    'state-dir': { type: 'string', default: process.env.MITOS_STATE_DIR ?? '/var/lib/mitos' },
    'cgroup-parent': { type: 'string', default: process.env.MITOS_CGROUP_PARENT ?? 'mitos' },
    'listen-host': { type: 'string', default: '0.0.0.0' },
    'advertise-host': { type: 'string', default: process.env.POD_IP ?? '127.0.0.1' },
    'sandbox-port': { type: 'string', default: '9091' },
    'control-port': { type: 'string', default: '9090' },
    label: {
      type: 'string',
      multiple: true,
      default: process.env.MITOS_NODE_LABELS ? [process.env.MITOS_NODE_LABELS] : [],
    },
    'max-sandboxes': { type: 'string', default: '64' },
    'heartbeat-ms': { type: 'string', default: '10000' },
  },
});

const logger = createLogger('mitos-node');
const stateDir = values['state-dir'];
const db = openDatabase(join(stateDir, 'mitos.db'));
// Warm sandboxes are the controller's pools here (node-sandboxes.ts), not the engine's.
const engine = await openEngine('linux', {
  stateDir,
  db,
  cgroupParent: values['cgroup-parent'],
  warmPoolSize: 0,
  log: (level, msg, fields) => logger[level]({ ...fields }, msg),
});
const daemon = await startNodeDaemon({
  engine,
  kube: kubeClientFrom(values.kubeconfig),
  logger,
  nodeName: values['node-name'],
  namespace: values.namespace,
  nodeKey: nodeKeyFrom(values['node-key-file']),
  stateDir,
  listenHost: values['listen-host'],
  advertiseHost: values['advertise-host'],
  sandboxPort: intFrom(values['sandbox-port'], 9091, 'sandbox-port'),
  controlPort: intFrom(values['control-port'], 9090, 'control-port'),
  labels: labelsFrom(values.label),
  maxSandboxes: intFrom(values['max-sandboxes'], 64, 'max-sandboxes'),
  heartbeatMs: intFrom(values['heartbeat-ms'], 10_000, 'heartbeat-ms'),
});
// For whoever started us (scripts, tests): one line with both endpoints.
process.stdout.write(
  `${JSON.stringify({ ready: true, sandboxEndpoint: daemon.sandboxEndpoint, controlEndpoint: daemon.controlEndpoint })}\n`,
);

await new Promise<void>((resolve) => {
  process.once('SIGTERM', () => resolve());
  process.once('SIGINT', () => resolve());
});
logger.info({}, 'shutting down; sandboxes keep running and are reattached on next start');
await daemon.close();
await engine.close();
db.close();

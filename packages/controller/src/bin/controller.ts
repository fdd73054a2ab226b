#!/usr/bin/env node
/**
 * `mitos-controller`: reconciles mitos.run objects. Several replicas may run; one leads.
 * A replica that loses leadership exits, so its in-flight work cannot race the new leader.
 * @module
 */
import { parseArgs } from 'node:util';
import { runController } from '../controller/manager.js';
import { kubeClientFrom } from '../kube/config.js';
import { createLogger } from '../util/logger.js';
import { intFrom, nodeKeyFrom } from './options.js';

const { values } = parseArgs({
  options: {
    namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'mitos-system' },
    kubeconfig: { type: 'string', default: process.env.KUBECONFIG },
    'node-key-file': { type: 'string', default: process.env.MITOS_NODE_KEY_FILE },
    workers: { type: 'string', default: '2' },
    'gc-interval-ms': { type: 'string', default: '30000' },
    'max-pending-ms': { type: 'string', default: '300000' },
    identity: { type: 'string', default: process.env.POD_NAME },
  },
});

const logger = createLogger('mitos-controller');
const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.once('SIGINT', () => stop.abort());
await runController(
  {
    kube: kubeClientFrom(values.kubeconfig),
    namespace: values.namespace,
    nodeKey: nodeKeyFrom(values['node-key-file']),
    log: {
      info: (fields, msg) => logger.info(fields, msg),
      warn: (fields, msg) => logger.warn(fields, msg),
      error: (fields, msg) => logger.error(fields, msg),
    },
    ...(values.identity && { identity: values.identity }),
    workers: intFrom(values.workers, 2, 'workers'),
    gcIntervalMs: intFrom(values['gc-interval-ms'], 30_000, 'gc-interval-ms'),
    maxPendingMs: intFrom(values['max-pending-ms'], 300_000, 'max-pending-ms'),
    onLeading: () => process.stdout.write(`${JSON.stringify({ leading: true })}\n`),
    onStoppedLeading: () => {
      logger.error({}, 'lost leadership; exiting');
      process.exit(1);
    },
  },
  stop.signal,
);

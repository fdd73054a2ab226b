// The cluster contract against the in-memory API and scripted engines (unit tier).
import { clusterContract } from '../testing/contract.js';
import { startFakeCluster } from '../testing/fake-cluster.js';

clusterContract('cluster contract (fake apiserver, scripted engines)', startFakeCluster, { timeoutMs: 120_000 });

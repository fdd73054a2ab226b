// The cluster contract against a real kube-apiserver built from Debian's source package
// (scripts/kube), with the controller, two node daemons and real sandboxes. Skips only when
// this machine cannot build or run those (not root, no Debian mirror and nothing cached).
import { clusterContract } from '../testing/contract.js';
import { startRealCluster } from '../testing/real-cluster.js';

clusterContract('cluster contract (real kube-apiserver, real sandboxes)', startRealCluster, {
  timeoutMs: 60 * 60_000,
  joinsNodes: true,
});

/**
 * Where the Kubernetes credentials come from: an explicit kubeconfig path, else in-cluster
 * service-account credentials when running in a pod, else the usual kubeconfig lookup
 * ($KUBECONFIG, ~/.kube/config).
 * @module
 */
import { KubeConfig } from '@kubernetes/client-node';
import { RestKubeClient } from './rest-client.js';

export function loadKubeConfig(path?: string): KubeConfig {
  const config = new KubeConfig();
  if (path) config.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
  else config.loadFromDefault();
  return config;
}

export function kubeClientFrom(path?: string): RestKubeClient {
  return new RestKubeClient(loadKubeConfig(path));
}

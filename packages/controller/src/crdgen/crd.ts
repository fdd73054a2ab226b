/**
 * Kind models to CustomResourceDefinition objects: names, the one served version, the status
 * (and, where declared, scale) subresource, printer columns and the schema.
 * @module
 */
import type { CustomResourceDefinition, KindModel } from './schema.js';

export interface CrdOptions {
  group: string;
  version: string;
}

export function toCrd(model: KindModel, { group, version }: CrdOptions): CustomResourceDefinition {
  const subresources: CustomResourceDefinition['spec']['versions'][number]['subresources'] = { status: {} };
  if (model.scale) subresources.scale = model.scale;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${model.plural}.${group}`,
      labels: { 'app.kubernetes.io/part-of': 'mitos' },
    },
    spec: {
      group,
      names: {
        kind: model.kind,
        listKind: `${model.kind}List`,
        plural: model.plural,
        singular: model.kind.toLowerCase(),
      },
      scope: 'Namespaced',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: model.schema },
          subresources,
          additionalPrinterColumns: model.printerColumns,
        },
      ],
    },
  };
}

/** `deploy/crds/` file name, as in the reference layout: `<group>_<plural>.yaml`. */
export function crdFileName(crd: CustomResourceDefinition): string {
  return `${crd.spec.group}_${crd.spec.names.plural}.yaml`;
}
